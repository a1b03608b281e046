"""Packaging: the built wheel alone runs piper (its SQL, default settings and instance files ship
inside the package), installed in a clean virtual environment, from outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from piper_dagster_tests.factories import REPO_ROOT

# What the code reads at run time besides Python modules: it must be in the wheel.
PACKAGE_DATA = (
    "piper_dagster/sql/ddl/warehouse.sql",
    "piper_dagster/sql/gold/gold_data_quality_daily.sql",
    "piper_dagster/conf/settings.toml",
    "piper_dagster/conf/metrics_catalog.yml",
    "piper_dagster/deploy/dagster.yaml",
    "piper_dagster/deploy/dagster.postgres.yaml",
    "piper_dagster/deploy/workspace.yaml",
)


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv must be on PATH (.ci/run installs it)")
    return uv


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_in_a_clean_venv_runs_the_demo_outside_the_repository(tmp_path: Path) -> None:
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIPER_", "VIRTUAL_"))}
    env.pop("DAGSTER_HOME", None)
    env["UV_LINK_MODE"] = "copy"
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO_ROOT)], REPO_ROOT, env)
    (wheel,) = dist.glob("piper_dagster-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert not any(n.startswith("piper_dagster_tests/") for n in names)

    # A clean environment with the locked dependencies, then the wheel itself.
    venv = tmp_path / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    requirements = tmp_path / "requirements.txt"
    _run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet",
         "--output-file", str(requirements)],
        REPO_ROOT,
        env,
    )  # fmt: skip
    _run([uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)],
         tmp_path, env)  # fmt: skip
    _run([uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel)],
         tmp_path, env)  # fmt: skip

    # From a directory that is not the repository: nothing may be read from it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import piper_dagster; print(piper_dagster.__file__)"],
                 elsewhere, env)  # fmt: skip
    assert Path(where.strip()).is_relative_to(venv), where
    out = _run(
        [str(venv / "bin" / "piper"), "demo", "--no-ui", "--days", "3", "--dir", "demo"],
        elsewhere,
        env,
        timeout=900,
    )
    assert "gold_publish_health_daily (latest rows)" in out, out[-3000:]
    assert (elsewhere / "demo" / "data" / "warehouse" / "telemetry.duckdb").exists()
    assert (elsewhere / "demo" / "data" / "dagster" / "dagster.yaml").exists()
