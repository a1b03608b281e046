"""A terminal for people: piper's own lines, Dagster's event log only with --verbose, an
expected check failure said once as a result, named and tagged runs, progress, said waits."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.dagster_home import DAGSTER_URL
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import IngestProgress, ingest
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import warehouse_locked

runner = CliRunner()
START = date(2026, 3, 2)


def _spool(settings: Settings, **options: object) -> None:
    generate_spool(settings.raw_root, GenerateOptions(start=START, days=2, artists=4, **options))


def test_dagster_event_log_reaches_the_terminal_only_with_verbose(piper_env: Settings) -> None:
    _spool(piper_env)
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    assert "DEBUG" not in out.output and "STEP_START" not in out.output
    assert "plan:" in out.output and "spool_events done" in out.output
    run_id = out.output.split("run ", 1)[1].split()[0]
    assert f"{DAGSTER_URL}/runs/{run_id}" in out.output
    with dg.DagsterInstance.get() as instance:  # the full event log is in the instance
        kinds = {e.dagster_event_type for e in instance.all_logs(run_id)}
    assert dg.DagsterEventType.STEP_START in kinds
    loud = runner.invoke(app, ["--verbose", "materialize", "--model", "silver_publish_usd"])
    assert loud.exit_code == 0, loud.output
    assert "STEP_START" in loud.output


def test_a_blocking_check_failure_is_a_result_said_once(piper_env: Settings) -> None:
    _spool(piper_env, damage=frozenset({"wrong_type"}), damage_rate=0.1)
    out = runner.invoke(app, ["backfill", "--start", "2026-03-02", "--end", "2026-03-03"])
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output and "Error" not in out.output
    assert out.output.count("held back for event dates") == 1
    assert "docs/runbook.md#invalid-rate" in out.output
    assert "stopped by a blocking check on spool partitions 2026-03-02, 2026-03-03" in out.output
    assert f"{DAGSTER_URL}/runs/" in out.output


def test_cli_runs_carry_a_job_name_and_the_command_and_dates(piper_env: Settings) -> None:
    _spool(piper_env)
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    done = runner.invoke(app, ["materialize", "--start", "2026-03-02", "--end", "2026-03-02"])
    assert done.exit_code == 0, done.output
    back = runner.invoke(app, ["backfill", "--start", "2026-03-03", "--end", "2026-03-03"])
    assert back.exit_code == 0, back.output
    with dg.DagsterInstance.get() as instance:
        runs = sorted(
            (r.tags["piper/command"], r.job_name, r.tags["piper/range"])
            for r in instance.get_runs()
        )
    assert ("backfill", "ingest_and_refresh", "2026-03-03..2026-03-03") in runs
    assert [r[:2] for r in runs if r[1] != "refresh_models"] == [
        ("backfill", "ingest_and_refresh"),
        ("ingest", "ingest_spool"),
    ]
    assert ("materialize", "refresh_models", "2026-03-02..2026-03-02") in runs
    # The silver/gold refresh piper ingest runs after its spool run (the refresh ledger).
    assert any(r[:2] == ("ingest", "refresh_models") for r in runs)


def test_the_ingest_reports_structured_progress(piper_env: Settings) -> None:
    _spool(piper_env)
    seen: list[IngestProgress] = []
    result = ingest(piper_env, on_batch=seen.append)
    first, last = seen[0], seen[-1]
    assert (first.files_done, first.bytes_done, first.batches) == (0, 0, 0)
    assert first.files_total == last.files_total == result.files_read > 0
    assert last.files_done == last.files_total and last.batches == result.batches
    assert last.bytes_done == last.bytes_total == result.bytes_read
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)


@pytest.mark.slow
def test_a_warehouse_lock_wait_is_said_once_then_ends_at_its_bound(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    monkeypatch.setenv("PIPER_DAGSTER__WAIT_SECONDS", "2")
    with warehouse_locked(piper_env.warehouse_path):
        out = runner.invoke(app, ["materialize"])
    assert out.exit_code == 2, out.output
    assert out.output.count("waiting for the warehouse lock since") == 1
    assert "PID" in out.output  # DuckDB names the holder
    last = out.output.strip().splitlines()[-1]
    assert last.startswith("piper: the warehouse") and "still locked after 2 s" in last
