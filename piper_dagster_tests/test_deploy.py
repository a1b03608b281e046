"""The docker deployment without a Docker engine: docker-compose.yml, the Grafana provisioning and
the dashboards validate against their schemas, and the files agree with each other and with the
code (paths, uids, ports, volumes, the plugin and its version, no password in the repository)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from piper_dagster.dagster_home import DAGSTER_URL, INSTANCE_YAML
from piper_dagster.grafana.deployment import (
    CONTAINER_DASHBOARDS,
    CONTAINER_DATA_ROOT,
    GRAFANA_URL,
    PLUGIN_ID,
    PLUGIN_VERSION,
)
from piper_dagster.grafana.provisioning import dashboard_provisioning, datasource_provisioning
from piper_dagster_tests.factories import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SCHEMAS = REPO_ROOT / "grafana" / "schemas"
PROVISIONING = REPO_ROOT / "grafana" / "provisioning"
DAGSTER_SERVICES = ("piper-code", "dagster-webserver", "dagster-daemon")


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's short-syntax volumes."""
    out = {}
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        if parts[0].startswith("${"):  # ${VAR:-default}:target[:mode]
            source = spec[: spec.index("}") + 1]
            parts = [source, *spec[len(source) + 1 :].split(":")]
        out[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else "rw")
    return out


def _host_port(service: dict[str, Any], container_port: int) -> str:
    for spec in service["ports"]:
        host, container = spec.rsplit(":", 1)
        if int(container) == container_port:
            return host
    raise AssertionError(f"port {container_port} not published")


def _default(expr: str) -> str:
    """The default of a ${VAR:-default} expression."""
    m = re.fullmatch(r"\$\{\w+:-([^}]*)\}", expr)
    assert m, expr
    return m.group(1)


# --- schemas ----------------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = check_jsonschema("--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("datasources.schema.json", ["datasources/piper.yaml"]),
        ("dashboard-providers.schema.json", ["dashboards/piper.yaml"]),
    ],
)
def test_provisioning_validates(schema: str, files: list[str]) -> None:
    paths = [str(PROVISIONING / f) for f in files]
    result = check_jsonschema("--schemafile", str(SCHEMAS / schema), *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_validate() -> None:
    boards = sorted(str(p) for p in (REPO_ROOT / "grafana" / "dashboards").rglob("*.json"))
    assert len(boards) == 7
    result = check_jsonschema("--schemafile", str(SCHEMAS / "dashboard.schema.json"), *boards)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schemas_are_valid_schemas_and_catch_mistakes(tmp_path: Path) -> None:
    result = check_jsonschema("--check-metaschema", *map(str, SCHEMAS.glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    # A provider that names a folder while taking folders from files: rejected.
    doc = dashboard_provisioning()
    doc["providers"][0]["folder"] = "piper"
    bad = tmp_path / "providers.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = check_jsonschema(
        "--schemafile", str(SCHEMAS / "dashboard-providers.schema.json"), str(bad)
    )
    assert result.returncode == 1
    # A datasource key the plugin does not read: rejected.
    doc = datasource_provisioning()
    doc["datasources"][0]["jsonData"]["readOnly"] = True
    bad.write_text(yaml.safe_dump(doc))
    result = check_jsonschema("--schemafile", str(SCHEMAS / "datasources.schema.json"), str(bad))
    assert result.returncode == 1


# --- agreement --------------------------------------------------------------------------------


def test_grafana_service_runs_the_pinned_plugin_on_ubuntu(compose: dict[str, Any]) -> None:
    service = compose["services"]["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+-ubuntu", service["image"])
    env = _env(service)
    plugin, version, url = env["GF_PLUGINS_PREINSTALL_SYNC"].split("@", 2)
    assert (plugin, version) == (PLUGIN_ID, PLUGIN_VERSION)
    assert url.endswith(f"/download/v{PLUGIN_VERSION}/{PLUGIN_ID}-{PLUGIN_VERSION}.zip")
    assert PLUGIN_ID in env["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"].split(",")
    assert PLUGIN_ID in env["GF_PLUGINS_FORWARD_HOST_ENV_VARS"].split(",")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_no_password_is_a_literal(compose: dict[str, Any]) -> None:
    grafana_env = _env(compose["services"]["grafana"])
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana_env
    secret_file = grafana_env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    (secret,) = compose["services"]["grafana"]["secrets"]
    assert secret_file == f"/run/secrets/{secret}"
    # The secret comes from the operator's environment, not from a file in the repository.
    assert compose["secrets"][secret] == {"environment": "GRAFANA_ADMIN_PASSWORD"}
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if "PASSWORD" in key and not key.endswith("__FILE"):
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", value), (name, key, value)


def test_grafana_mounts_match_the_provisioning(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["grafana"])
    assert mounts["/etc/grafana/provisioning"] == ("./grafana/provisioning", "ro")
    provider = dashboard_provisioning()["providers"][0]
    assert provider["options"]["path"] == CONTAINER_DASHBOARDS
    assert mounts[CONTAINER_DASHBOARDS] == ("./grafana/dashboards", "ro")
    home = _env(compose["services"]["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(CONTAINER_DASHBOARDS + "/")
    assert (
        REPO_ROOT / "grafana" / "dashboards" / home.removeprefix(CONTAINER_DASHBOARDS + "/")
    ).is_file()
    # Grafana reads piper's data read-only, at the root its initSql names.
    source, mode = mounts[CONTAINER_DATA_ROOT]
    assert mode == "ro" and source.startswith("${PIPER_DATA_ROOT:-")
    init = datasource_provisioning()["datasources"][0]["jsonData"]["initSql"]
    assert re.findall(r"read_parquet\('([^']+)'\)", init)
    assert all(
        p.startswith(f"{CONTAINER_DATA_ROOT}/serving/current/")
        for p in re.findall(r"read_parquet\('([^']+)'\)", init)
    )


def test_dagster_services_share_the_data_root_and_read_the_spool_read_only(
    compose: dict[str, Any],
) -> None:
    grafana_data = _mounts(compose["services"]["grafana"])[CONTAINER_DATA_ROOT][0]
    for name in DAGSTER_SERVICES:
        service = compose["services"][name]
        env, mounts = _env(service), _mounts(service)
        raw, data = env["PIPER_PATHS__RAW_ROOT"], env["PIPER_PATHS__DATA_ROOT"]
        assert data == CONTAINER_DATA_ROOT
        assert mounts[raw][1] == "ro" and mounts[raw][0].startswith("${PIPER_RAW_ROOT:-")
        assert mounts[data] == (grafana_data, "rw"), name  # one data root, the same for all
        assert env["PIPER_DAGSTER__STORAGE"] == "postgres"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        # Every piper setting set here is one piper knows.
        example = (REPO_ROOT / ".env.example").read_text()
        for key in env:
            if key.startswith("PIPER_"):
                assert f"{key}=" in example, key
    # The image's own defaults say the same.
    dockerfile = DOCKERFILE.read_text()
    assert f"PIPER_PATHS__DATA_ROOT={CONTAINER_DATA_ROOT}" in dockerfile
    assert (
        f"PIPER_PATHS__RAW_ROOT={_env(compose['services']['piper-code'])['PIPER_PATHS__RAW_ROOT']}"
        in dockerfile
    )
    # The default host paths are the repository's defaults (conf/settings.toml).
    assert _default(grafana_data) == "./var/data"


def test_grafana_starts_whatever_the_pipeline_does(compose: dict[str, Any]) -> None:
    """Grafana must show the pipeline's health always: no service it waits for (a broken Postgres
    or code server would keep it down). It needs only the serving layer's files, and recovers by
    itself when they appear (test_serving: before the first publication initSql fails, the
    plugin's next connection succeeds after it)."""
    service = compose["services"]["grafana"]
    assert "depends_on" not in service
    assert service["restart"] == "unless-stopped"


def test_ports_and_the_dagster_link(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dagster_port = _host_port(services["dagster-webserver"], 3000)
    grafana_port = _host_port(services["grafana"], 3000)
    assert _default(dagster_port) != _default(grafana_port)
    assert _default(grafana_port) != "3000"
    assert f"http://localhost:{_default(dagster_port)}" == DAGSTER_URL
    assert f"http://localhost:{_default(grafana_port)}" == GRAFANA_URL  # what `piper demo` prints
    assert "--port" in services["dagster-webserver"]["command"]


def test_webserver_and_daemon_load_the_code_server(compose: dict[str, Any]) -> None:
    workspace = yaml.safe_load((REPO_ROOT / "deploy" / "workspace.docker.yaml").read_text())
    (location,) = workspace["load_from"]
    server = location["grpc_server"]
    code = compose["services"][server["host"]]
    command = " ".join(code["command"])
    assert f"--port {server['port']}" in command
    assert f"--location-name {server['location_name']}" in command
    assert "piper_dagster.definitions" in command
    assert str(server["port"]) in code["healthcheck"]["test"]
    for name in ("dagster-webserver", "dagster-daemon"):
        command = compose["services"][name]["command"]
        assert (
            command[command.index("--workspace") + 1] == "/opt/piper/deploy/workspace.docker.yaml"
        )
        assert (
            compose["services"][name]["depends_on"][server["host"]]["condition"]
            == "service_healthy"
        )
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_the_images_instance_uses_postgres_and_the_queued_run_coordinator(tmp_path: Path) -> None:
    from dagster._core.instance.ref import InstanceRef

    dockerfile = DOCKERFILE.read_text()
    assert (
        'cp piper_dagster/deploy/dagster.postgres.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
    )
    shutil.copy(INSTANCE_YAML["postgres"], tmp_path / "dagster.yaml")
    ref = InstanceRef.from_dir(str(tmp_path))
    assert ref.run_coordinator_data.class_name == "QueuedRunCoordinator"
    assert "Postgres" in ref.run_storage_data.class_name
    # What the Dockerfile copies exists, and the image keeps out what it does not need.
    for copied in re.findall(r"^COPY (.+) \./?\S*$", dockerfile, flags=re.M):
        for name in copied.split():
            assert (REPO_ROOT / name).exists(), name
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var/", ".env"} <= set(ignored)
