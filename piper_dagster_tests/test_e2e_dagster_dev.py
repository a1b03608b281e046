"""End to end, for real: `dagster dev` (webserver + daemon) in a subprocess on a temp
DAGSTER_HOME. Spool files reach gold by themselves; a late file for a built day changes that
day's gold; a partition-range run launched through the GraphQL client succeeds."""

from __future__ import annotations

import signal
import time
from datetime import datetime

import duckdb
import pytest

from piper_dagster_tests.factories import (
    END_OF_MARCH_4,
    ev,
    gold_tool_invocations,
    wait_for,
    write_spool_file,
)

pytestmark = pytest.mark.slow


def test_spool_to_gold_by_itself_then_late_data_then_a_graphql_range_run(dagster_dev) -> None:
    raw, data, client = dagster_dev["raw"], dagster_dev["data"], dagster_dev["client"]
    settled_at = time.monotonic()
    write_spool_file(raw, "ws001/a/2026-03-04_s.jsonl", ev(1) + ev(2), mtime=END_OF_MARCH_4)
    wait_for("gold for 2026-03-04", lambda: gold_tool_invocations(data, "2026-03-04") == 2)
    latency = time.monotonic() - settled_at
    print(f"file settled -> gold: {latency:.1f} s")

    # A late file for the day already built (a laptop syncing), with a session across midnight.
    late = ev(3, "2026-03-03T23:30:00Z") + ev(4, "2026-03-04T20:00:00Z")
    write_spool_file(raw, "lt007/b/2026-03-04_sync.jsonl", late, mtime=END_OF_MARCH_4)
    wait_for("the late data in gold", lambda: gold_tool_invocations(data, "2026-03-04") == 3)
    wait_for("the day before in gold", lambda: gold_tool_invocations(data, "2026-03-03") == 1)

    run_id = client.submit_job_execution(
        "refresh_models",
        tags={
            "dagster/asset_partition_range_start": "2026-03-01",
            "dagster/asset_partition_range_end": "2026-03-05",
        },
    )
    status = wait_for(
        "the GraphQL run",
        lambda: (s := client.get_run_status(run_id).value) in ("SUCCESS", "FAILURE") and s,
    )
    assert status == "SUCCESS", dagster_dev["log"].read_text()[-5000:]
    assert gold_tool_invocations(data, "2026-03-04") == 3


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
    wait_for("a first run", lambda: (data / "warehouse" / "telemetry.duckdb").exists(), 120)
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

    wait_for("every event, once, in silver and gold", all_in, 300)
