"""Issue #15's soak benchmark (benchmarks/bench_soak.py) on one simulated day: the real sensors,
schedule and runs on a real instance under a moved clock, a bad emitter and a silent farm poller
on that day, and the per-day record the 60-day soak is judged by."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from piper_dagster_tests.factories import REPO_ROOT

pytestmark = pytest.mark.slow

PER_DAY = {
    "day",
    "date",
    "tick_mean_s",
    "tick_max_s",
    "run_mean_s",
    "run_max_s",
    "runs_created",
    "dagster_home_bytes",
    "warehouse_bytes",
    "parquet_files",
    "silver_events_parquet_files",
    "serving_versions",
    "runs_rows",
    "event_log_rows",
    "tick_rows",
    "peak_rss_mib",
    "state_changes",
}


def test_one_simulated_day_raises_the_scenarios_alerts_and_records_the_day(
    tmp_path: Path,
) -> None:
    results = tmp_path / "soak.jsonl"
    # The harness sets piper's paths itself; nothing of the caller's piper settings leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPER_")}
    run = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "bench_soak.py"),
            "--days", "1",
            "--slices", "8",
            "--artists", "6",
            "--bad-emitter-days", "1",
            "--silent-days", "1",
            "--workdir", str(tmp_path / "soak"),
            "--results", str(results),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    (day,) = [line for line in lines if "day" in line]
    summary = lines[-1]["summary"]
    assert set(day) >= PER_DAY, PER_DAY - set(day)
    # The day ran on the simulated clock: its runs were requested by the sensors and the
    # schedule, executed on the instance, and recorded there.
    assert day["date"] == "2026-03-02"
    assert day["runs_by_job"]["ingest_and_refresh"] >= 1 and day["runs_failed"] == 0
    assert day["runs_created"] == day["runs"] == day["runs_rows"]
    assert day["event_log_rows"] > 0 and day["tick_rows"] > 0 and day["silver_events"] > 0
    assert day["silver_events_parquet_files"] > 0 and day["serving_versions"] >= 1
    changes = {(c["check"], c["scope"], c["from"], c["to"]) for c in day["state_changes"]}
    # The silent farm poller: freshness FAIL, then resolved once it writes again.
    assert ("freshness", "farm", "WARN", "FAIL") in changes or (
        "freshness",
        "farm",
        "PASS",
        "FAIL",
    ) in changes
    assert ("freshness", "farm", "FAIL", "PASS") in changes
    # The bad emitter: the invalid rate WARN (3 % of the lines) or FAIL.
    assert changes & {
        ("invalid_rate", "all", "PASS", "WARN"),
        ("invalid_rate", "all", "PASS", "FAIL"),
    }
    expected = {(a["check"], a["scope"]): a for a in summary["expected_alerts"]}
    assert expected["freshness", "farm"]["raised"] == 1
    assert expected["freshness", "farm"]["resolved"] == 1
    assert expected["invalid_rate", "all"]["raised"] == 1
    # What reached the on-call channel (the harness's loopback webhook): the farm's problem
    # messages and its resolved notice, one each per change, and as many posts as alert_log rows.
    farm = expected["freshness", "farm"]
    assert farm["resolved_sent"] == 1 and "resolved FAIL->PASS" in farm["messages"]
    assert any(m.startswith("problem") and m.endswith("->FAIL") for m in farm["messages"])
    assert any(m.startswith("problem") for m in expected["invalid_rate", "all"]["messages"])
    assert day["webhook_posts"] == len(day["alerts_sent"]) > 0
