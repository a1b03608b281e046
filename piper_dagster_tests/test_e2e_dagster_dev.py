"""End to end, for real: `dagster dev` (webserver + daemon) in a subprocess on a temp
DAGSTER_HOME. Spool files reach gold by themselves; a late file for a built day changes that
day's gold; a partition-range run launched through the GraphQL client succeeds."""

from __future__ import annotations

import contextlib
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

from piper_dagster.dagster_home import WORKSPACE_YAML, ensure_dagster_home
from piper_dagster.settings import load_settings
from piper_dagster_tests.conftest import REPO_ROOT, write_spool_file
from piper_dagster_tests.factories import ev

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


class DagsterDev:
    """`dagster dev` (webserver + daemon) as a subprocess in its own process group."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.env = env
        self.port = _free_port()
        self.log_path = tmp_path / "dagster_dev.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "dev",
                    "-w",
                    str(WORKSPACE_YAML),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                cwd=REPO_ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # webserver, daemon, code servers, runs: one group
            )
        _wait("the webserver", lambda: socket.create_connection(("127.0.0.1", self.port), 1))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def dagster_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    raw, data, home = tmp_path / "spool", tmp_path / "data", tmp_path / "dagster_home"
    raw.mkdir()
    env = {
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "PIPER_INGEST__SETTLE_SECONDS": "1",
        "PIPER_DAGSTER__SENSOR_INTERVAL_SECONDS": "3",
        "PIPER_DAGSTER__RETRY_AFTER_SECONDS": "20",
        "DAGSTER_HOME": str(home),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ensure_dagster_home(load_settings())
    server = DagsterDev(tmp_path, env)
    server.start()
    try:
        yield {
            "raw": raw,
            "data": data,
            "port": server.port,
            "server": server,
            "client": DagsterGraphQLClient("127.0.0.1", port_number=server.port),
            "log": server.log_path,
        }
    finally:
        server.stop()


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


def test_a_daemon_killed_mid_way_neither_skips_nor_double_reads(dagster_dev) -> None:
    raw, data, server = dagster_dev["raw"], dagster_dev["data"], dagster_dev["server"]
    # Enough files and days that the kill lands while runs are queued or in flight.
    n = 0
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        for f in range(4):
            n += 1
            mtime = datetime.fromisoformat(f"{day}T23:00:00+00:00").timestamp()
            write_spool_file(
                raw, f"ws00{f}/u/{day}_s.jsonl", ev(n, f"{day}T1{f}:00:00Z"), mtime=mtime
            )
    _wait("a first run", lambda: (data / "warehouse" / "telemetry.duckdb").exists(), 120)
    server.stop(signal.SIGKILL)  # the whole group: webserver, daemon, runs in flight
    # More data arrives while it is down, for a day that may already be ingested.
    write_spool_file(
        raw,
        "ws009/u/2026-03-04_late.jsonl",
        ev(n + 1, "2026-03-04T21:00:00Z"),
        mtime=END_OF_MARCH_4,
    )
    server.start()

    def all_in() -> bool:
        con = duckdb.connect(str(data / "warehouse" / "telemetry.duckdb"), read_only=True)
        try:
            events, distinct = con.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM silver_events"
            ).fetchone()
            gold = con.execute("SELECT sum(dq_events) FROM gold_data_quality_daily").fetchone()
        finally:
            con.close()
        assert events == distinct  # never read twice
        return events == 13 and gold == (13,)

    _wait("every event, once, in silver and gold", all_in, 300)
