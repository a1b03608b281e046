"""`piper doctor --installation` (issue #15 item 6) on real directories and a real Dagster
instance: one row per item, the daemon's heartbeats and the sensors' states as Dagster stores
them, real TCP endpoints on loopback for the alert channels, and the exit codes."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, InstigatorType
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.types import DaemonHeartbeat
from pydantic import SecretStr

from piper_dagster.checks import Status
from piper_dagster.checks.installation import (
    ITEMS,
    alert_channels_row,
    data_root_local_row,
    mount_of,
)
from piper_dagster.cli.doctor import run_installation
from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import free_port, run_piper

# Free-space thresholds any test machine passes (the defaults, 10 / 2 GiB, are the machine's).
TINY_SPACE = {
    "PIPER_CHECKS__FREE_SPACE_WARN_GIB": "0.001",
    "PIPER_CHECKS__FREE_SPACE_FAIL_GIB": "0",
}


@pytest.fixture
def installed(piper_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What `piper init` leaves: a data root, an instance; free-space thresholds any disk passes."""
    for key, value in TINY_SPACE.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    settings.require_data_root()
    return settings


def _beat(age_seconds: float = 0.0) -> None:
    """Every daemon the instance needs beats, `age_seconds` ago (as `dagster-daemon run` does)."""
    with dg.DagsterInstance.get() as instance:
        for daemon in instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(
                DaemonHeartbeat(time.time() - age_seconds, daemon, "test-daemon")
            )


def _rows() -> dict[str, tuple[Status, str, str]]:
    report = run_installation()
    assert [r.item for r in report.rows] == list(ITEMS)  # one row per item, always
    return {r.item: (r.status, r.value, r.hint) for r in report.rows}


def _cli(*args: str, **env: str):
    base = {k: v for k, v in os.environ.items()}
    return run_piper({**base, **env}, "doctor", "--installation", *args, timeout=120)


def test_a_healthy_installation_passes_every_row(installed: Settings) -> None:
    _beat()
    rows = _rows()
    assert {item: status for item, (status, _, _) in rows.items()} == {
        **dict.fromkeys(ITEMS, Status.PASS),
        "alert_channels": Status.SKIP,  # none configured
    }
    assert rows["alert_channels"][2] == "no alert channel configured ([alerts])"
    assert "3 of 3 running" in rows["sensors"][1]
    assert str(installed.data_root) in rows["data_root_writable"][1]
    proc = _cli("--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["exit_code"] == 0, proc.stderr
    assert [r["item"] for r in report["results"]] == list(ITEMS)
    assert report["status"] == "PASS"


def test_no_daemon_or_a_stale_one_fails_with_the_way_to_start_it(installed: Settings) -> None:
    status, value, hint = _rows()["daemon_heartbeat"]
    assert status == Status.FAIL and "no heartbeat from SENSOR" in value
    assert "dagster-daemon run" in hint and "dagster dev" in hint
    _beat(age_seconds=600)
    status, value, _ = _rows()["daemon_heartbeat"]
    assert status == Status.FAIL and "SENSOR last beat 600 s ago" in value
    _beat()
    assert _rows()["daemon_heartbeat"][0] == Status.PASS

    proc = _cli()  # the table; every row passes or skips now: exit 0
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "ITEM", "VALUE", "HINT"]
    assert len(lines) == 1 + len(ITEMS) + 2  # header, one line per item, blank, summary
    # Aligned: every row's item starts in the same column.
    assert {line.index(item) for line, item in zip(lines[1:], ITEMS, strict=False)} == {8}
    assert lines[-1].startswith("PASS: ")  # the heartbeat above is fresh now


def test_a_stopped_sensor_fails(installed: Settings) -> None:
    _beat()
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="piper_dagster.definitions", attribute="defs")
    )
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(location, "__repository__"), "spool_sensor"
    )
    with dg.DagsterInstance.get() as instance:  # what "Stop" in the UI stores
        instance.add_instigator_state(
            InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.STOPPED)
        )
    status, value, hint = _rows()["sensors"]
    assert status == Status.FAIL and value == "2 of 3 running; stopped: spool_sensor"
    assert "dagster sensor start" in hint
    assert _cli().returncode == 2


def test_bad_settings_are_a_fail_row_naming_the_fix_and_exit_2(installed: Settings) -> None:
    proc = _cli(
        "--json", PIPER_CHECKS__FREE_SPACE_FAIL_GIB="5", PIPER_CHECKS__FREE_SPACE_WARN_GIB="1"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    rows = {r["item"]: r for r in report["results"]}
    assert list(rows) == list(ITEMS)
    assert rows["settings"]["status"] == "FAIL"
    assert "free_space_warn_gib < free_space_fail_gib" in rows["settings"]["hint"]
    assert {r["status"] for item, r in rows.items() if item != "settings"} == {"SKIP"}

    proc = _cli(PIPER_INGEST__SETTLE_SECOND="5")  # a typo: the nearest name, in the table
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "PIPER_INGEST__SETTLE_SECONDS?" in proc.stdout.splitlines()[1]


def test_the_other_options_do_not_apply(installed: Settings) -> None:
    proc = _cli("--date", "2026-03-02")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "do not apply" in proc.stderr


def test_spool_data_root_and_free_space(
    installed: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _beat()
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(tmp_path / "no-spool"))
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(tmp_path / "not-yet"))
    monkeypatch.setenv("PIPER_CHECKS__FREE_SPACE_WARN_GIB", "1000000")  # a petabyte
    rows = _rows()
    assert rows["spool"][0] == Status.FAIL and "PIPER_PATHS__RAW_ROOT" in rows["spool"][2]
    assert (
        rows["data_root_writable"][0] == Status.WARN
        and "piper init" in rows["data_root_writable"][2]
    )
    assert not (tmp_path / "not-yet").exists()  # a check creates nothing
    assert rows["free_space"][0] == Status.WARN and "below 1e+06 GiB" in rows["free_space"][2]
    monkeypatch.setenv("PIPER_CHECKS__FREE_SPACE_FAIL_GIB", "1000000")
    assert _rows()["free_space"][0] == Status.FAIL

    # A data root that is a file: nothing can be written under it.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(blocker / "data"))
    assert _rows()["data_root_writable"][0] == Status.FAIL


def test_a_data_root_on_nfs_warns(installed: Settings, tmp_path: Path) -> None:
    root = installed.data_root.resolve()
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "overlay / overlay rw 0 0\n"
        f"filer:/export {root.parent} nfs4 rw,relatime 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n"
    )
    assert mount_of(root, mounts.read_text()) == (str(root.parent), "nfs4")
    row = data_root_local_row(installed, mounts)
    assert row.status == Status.WARN and "nfs4" in row.value and "local disk" in row.hint
    mounts.write_text(f"overlay / overlay rw 0 0\n/dev/sdb1 {root} ext4 rw 0 0\n")
    assert data_root_local_row(installed, mounts).status == Status.PASS
    # A mount point with a space (octal-escaped) and a sibling sharing a prefix.
    assert mount_of(Path("/mnt/a b/x"), "a /mnt/a\\040b nfs 0 0\nb /mnt/a ext4 0 0") == (
        "/mnt/a b",
        "nfs",
    )
    assert mount_of(Path("/mnt/ab"), "b /mnt/a nfs 0 0\nr / ext4 0 0") == ("/", "ext4")
    assert data_root_local_row(installed, tmp_path / "none").status == Status.SKIP


def test_alert_channels_are_reached_over_tcp_with_a_bound(installed: Settings) -> None:
    none = installed.alerts
    assert alert_channels_row(none).status == Status.SKIP
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        closed = free_port()
        alerts = none.model_copy(
            update={
                "webhook_url": SecretStr(f"http://127.0.0.1:{port}/hook"),
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
            }
        )
        row = alert_channels_row(alerts)
        assert row.status == Status.PASS, row
        assert row.value == f"webhook_url 127.0.0.1:{port}, smtp 127.0.0.1:{port}"
        teams = SecretStr(f"http://127.0.0.1:{closed}/teams")
        started = time.monotonic()
        row = alert_channels_row(alerts.model_copy(update={"teams_webhook_url": teams}))
        assert time.monotonic() - started < 10
        assert row.status == Status.FAIL and f"teams_webhook_url 127.0.0.1:{closed}" in row.hint


def test_an_unreachable_postgres_fails_the_storage_row_within_its_bound(
    installed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_DAGSTER__STORAGE", "postgres")
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(free_port()))  # nothing listens there
    ensure_dagster_home(load_settings())  # piper's postgres dagster.yaml
    started = time.monotonic()
    rows = _rows()
    assert time.monotonic() - started < 20
    assert rows["dagster_storage"][0] == Status.FAIL
    assert "DAGSTER_PG_HOST" in rows["dagster_storage"][2]
    assert rows["daemon_heartbeat"][0] == Status.SKIP
