"""End to end, for real: `dagster dev` (webserver + daemon) in a subprocess on a temp
DAGSTER_HOME. Spool files reach gold by themselves; a late file for a built day changes that
day's gold; a partition-range run launched through the GraphQL client succeeds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster_graphql import DagsterGraphQLClient

from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.settings import load_settings
from piper_dagster_tests.conftest import REPO_ROOT, write_spool_file
from piper_dagster_tests.test_ingest import ev

pytestmark = pytest.mark.slow

END_OF_MARCH_4 = datetime(2026, 3, 4, 23, 0, tzinfo=UTC).timestamp()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, probe: Callable[[], Any], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (duckdb.Error, OSError):
            value = None  # not there yet (no table, the writer holds the file, no server)
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def dagster_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    raw, data, home = tmp_path / "spool", tmp_path / "data", tmp_path / "dagster_home"
    raw.mkdir()
    env = {
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "PIPER_INGEST__SETTLE_SECONDS": "1",
        "PIPER_DAGSTER__SENSOR_INTERVAL_SECONDS": "3",
        "DAGSTER_HOME": str(home),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ensure_dagster_home(load_settings())
    port = _free_port()
    log = open(tmp_path / "dagster_dev.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: webserver, daemon, code servers, runs
    )
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        _wait("the webserver", lambda: socket.create_connection(("127.0.0.1", port), 1))
        yield {
            "raw": raw,
            "data": data,
            "port": port,
            "client": client,
            "log": tmp_path / "dagster_dev.log",
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def _gold(data: Path, day: str) -> int | None:
    con = duckdb.connect(str(data / "warehouse" / "telemetry.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT sum(tool_invocations) FROM gold_tool_reliability_daily WHERE event_date = ?",
            [day],
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else None


def test_spool_to_gold_by_itself_then_late_data_then_a_graphql_range_run(dagster_dev) -> None:
    raw, data, client = dagster_dev["raw"], dagster_dev["data"], dagster_dev["client"]
    settled_at = time.monotonic()
    write_spool_file(raw, "ws001/a/2026-03-04_s.jsonl", ev(1) + ev(2), mtime=END_OF_MARCH_4)
    _wait("gold for 2026-03-04", lambda: _gold(data, "2026-03-04") == 2)
    latency = time.monotonic() - settled_at
    print(f"file settled -> gold: {latency:.1f} s")

    # A late file for the day already built (a laptop syncing), with a session across midnight.
    late = ev(3, "2026-03-03T23:30:00Z") + ev(4, "2026-03-04T20:00:00Z")
    write_spool_file(raw, "lt007/b/2026-03-04_sync.jsonl", late, mtime=END_OF_MARCH_4)
    _wait("the late data in gold", lambda: _gold(data, "2026-03-04") == 3)
    _wait("the day before in gold", lambda: _gold(data, "2026-03-03") == 1)

    run_id = client.submit_job_execution(
        "refresh_models",
        tags={
            "dagster/asset_partition_range_start": "2026-03-01",
            "dagster/asset_partition_range_end": "2026-03-05",
        },
    )
    status = _wait(
        "the GraphQL run",
        lambda: (s := client.get_run_status(run_id).value) in ("SUCCESS", "FAILURE") and s,
    )
    assert status == "SUCCESS", dagster_dev["log"].read_text()[-5000:]
    assert _gold(data, "2026-03-04") == 3
