"""The refresh ledger (refresh_pending): written with the data that dirtied a date, cleared by
the refresh that rebuilt it, drained by the late-data sensor and by the CLI alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from piper_dagster.checks import PARTITION_CHECKS, Status
from piper_dagster.cli import app
from piper_dagster.defs import models as defs_models
from piper_dagster.defs.checks import run_checks
from piper_dagster.defs.runs import reap_dead_runs
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest import batch
from piper_dagster.ingest.run import ingest
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import (
    REPO_ROOT,
    blocked_spool,
    defs,
    ev,
    quarantined_by_an_old_contract,
    touched_event_dates_sensor,
    write_spool_file,
)

runner = CliRunner()
MODELS = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
D4 = date(2026, 3, 4)
START = date(2026, 3, 2)


def _ledger(warehouse) -> list[tuple[date, str, bool]]:  # type: ignore[no-untyped-def]
    with warehouse() as con:
        return con.execute(
            "SELECT event_date, why, silver_rebuilt_at IS NOT NULL FROM refresh_pending"
            " ORDER BY seq, event_date"
        ).fetchall()


def _tool_invocations(warehouse) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with warehouse() as con:
        return con.execute(
            "SELECT event_date::VARCHAR, tool_invocations FROM gold_tool_reliability_daily"
            " ORDER BY 1"
        ).fetchall()


def test_an_ingest_batch_writes_the_ledger_in_its_own_transaction(
    piper_env: Settings, warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, "ws001/alice/2026-03-04_a.jsonl", ev(1, "2026-03-03T23:00:00Z") + ev(2))
    real = batch.load_sql

    def dying(name: str) -> str:
        if name == "ingest/upsert_spool_files":
            raise KeyboardInterrupt  # inside the batch's transaction, after the ledger insert
        return real(name)

    monkeypatch.setattr(batch, "load_sql", dying)
    with pytest.raises(KeyboardInterrupt):
        ingest(piper_env)
    monkeypatch.setattr(batch, "load_sql", real)
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (0,)
    assert _ledger(warehouse) == []  # rolled back with the batch

    result = ingest(piper_env)
    assert sorted(_ledger(warehouse)) == [
        (date(2026, 3, 3), "ingest", False),
        (D4, "ingest", False),
    ]
    assert result.refresh_pending == [date(2026, 3, 3), D4]
    # A run that adds nothing still reports what waits (the ledger is only cleared by a refresh).
    assert ingest(piper_env).refresh_pending == [date(2026, 3, 3), D4]


def test_a_refresh_clears_only_the_entries_it_covered(
    piper_env: Settings, warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, "ws001/alice/2026-03-04_a.jsonl", ev(1) + ev(2))
    ingest(piper_env)
    silver, gold = list(SILVER_MODELS), list(GOLD_MODELS)

    # Some models only: the others are still stale, the ledger stays.
    defs_models.refresh_models(load_settings(), silver[1:], D4, D4)
    defs_models.refresh_models(load_settings(), gold[-1:], D4, D4)
    assert _ledger(warehouse) == [(D4, "ingest", False)]

    # An ingest commits while the silver refresh runs, after it read the ledger and its first
    # model read silver_events: its entry is not the refresh's to clear.
    real_refresh = defs_models.refresh
    late = {"done": False}

    def refresh_then_ingest(con, model, first, last, **kw):  # type: ignore[no-untyped-def]
        rows = real_refresh(con, model, first, last, **kw)
        if not late["done"]:
            late["done"] = True
            write_spool_file(raw, "lt007/bob/2026-03-04_sync.jsonl", ev(3))
            ingest(piper_env)
        return rows

    monkeypatch.setattr(defs_models, "refresh", refresh_then_ingest)
    defs_models.refresh_models(load_settings(), silver, D4, D4)
    monkeypatch.setattr(defs_models, "refresh", real_refresh)
    assert _ledger(warehouse) == [(D4, "ingest", True), (D4, "ingest", False)]

    # Gold deletes what a silver refresh rebuilt, never the later entry.
    defs_models.refresh_models(load_settings(), gold, D4, D4)
    assert _ledger(warehouse) == [(D4, "ingest", False)]
    # Another whole refresh (silver then gold) covers it.
    defs_models.refresh_models(load_settings(), [*silver, *gold], D4, D4)
    assert _ledger(warehouse) == []
    assert _tool_invocations(warehouse) == [("2026-03-04", 3)]


def test_the_sensor_retries_a_failed_refresh_of_the_same_ledger_state(
    piper_env: Settings, warehouse
) -> None:
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1))
    ingest(piper_env)
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs())
        (request,) = touched_event_dates_sensor(context).run_requests
        assert request.run_key.endswith("#0")
        # The requested run failed (e.g. the warehouse was unreadable): asked again, #1.
        failed = instance.create_run_for_job(
            defs().resolve_job_def("refresh_models"), tags=request.tags
        )
        instance.report_run_failed(failed)
        (again,) = touched_event_dates_sensor(context).run_requests
        assert again.tags == request.tags and again.run_key.endswith("#1")
        run = dg.materialize(
            list(defs().assets),  # type: ignore[arg-type]
            selection=MODELS,
            instance=instance,
            tags=again.tags,
        )
        assert run.success
        assert touched_event_dates_sensor(context).run_requests == []
    assert _ledger(warehouse) == []


# --- the crash window design.md admitted -------------------------------------------------------

CHILD = """
import os, signal, sys
from datetime import UTC, date, datetime, timedelta
from piper_dagster.cli.runs import materialize_spool
from piper_dagster.defs import spool
from piper_dagster.settings import load_settings

def die(*args, **kwargs):
    # The ingest committed and exported (export_pending is clear); Dagster has not yet recorded
    # the materialization (its checks run first): the window design.md admitted.
    os.kill(os.getpid(), signal.SIGKILL)

spool.run_checks = die
materialize_spool(load_settings(), date(2026, 3, 4), date(2026, 3, 4))
"""


@pytest.mark.slow
def test_a_spool_run_killed_after_its_export_still_gets_its_dates_refreshed(
    piper_env: Settings, warehouse, tmp_path: Path
) -> None:
    write_spool_file(
        piper_env.raw_root,
        "ws001/alice/2026-03-04_a.jsonl",
        ev(1, "2026-03-03T23:30:00Z") + ev(2) + ev(3),
    )
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM export_pending").fetchone() == (0,)
    with dg.DagsterInstance.get() as instance:
        # No materialization was recorded: a sensor reading them would never refresh these dates.
        assert instance.get_latest_materialization_event(dg.AssetKey("spool_events")) is None
        # The dead run is reaped as the sensors do (marked failed, its pool slot freed).
        assert len(reap_dead_runs(instance, 0)) == 1
        context = dg.build_sensor_context(instance=instance, definitions=defs())
        requests = touched_event_dates_sensor(context).run_requests
        assert [
            (
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
            )
            for r in requests
        ] == [("2026-03-03", "2026-03-04")]

    # With no daemon at all, the next `piper ingest` (a real process) refreshes them itself.
    out = subprocess.run(
        [sys.executable, "-m", "piper_dagster.cli", "ingest"],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "nothing to ingest" in out.stdout
    assert "refreshing silver and gold for 2026-03-03..2026-03-04" in out.stdout
    assert _tool_invocations(warehouse) == [("2026-03-03", 1), ("2026-03-04", 2)]
    assert _ledger(warehouse) == []


# --- held back ----------------------------------------------------------------------------------


def test_held_back_dates_wait_for_an_explicit_materialize(piper_env: Settings, warehouse) -> None:
    blocked_spool(piper_env.raw_root, START)
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 1  # the blocking invalid rate failed the run
    assert out.output.count("silver and gold held back for event dates") == 1
    assert "refreshing silver and gold" not in out.output
    with warehouse() as con:
        held = {r[0] for r in con.execute("SELECT event_date FROM refresh_pending").fetchall()}
    assert START in held

    # One model on an input that was never built for these dates: not "0 rows, success".
    one = runner.invoke(app, ["materialize", "--model", "gold_render_health_daily"])
    assert one.exit_code == 1, one.output
    assert "gold_render_health_daily: its input silver_render_stats_summary is held back" in (
        one.output
    )
    assert "piper quarantine replay" in one.output and "piper materialize --start" in one.output

    # Still held on the next command, without a daemon; named, not refreshed.
    again = runner.invoke(app, ["ingest"])
    assert again.exit_code == 0 and "nothing to ingest" in again.output
    assert "silver and gold held back for event dates" in again.output
    assert "refreshing" not in again.output

    # The operator rebuilds them as they are: that clears them.
    first, last = min(held), max(held)
    out = runner.invoke(app, ["materialize", "--start", str(first), "--end", str(last)])
    assert out.exit_code == 0, out.output
    assert _ledger(warehouse) == []
    with warehouse() as con:
        assert con.execute(
            "SELECT count(*) FROM gold_data_quality_daily WHERE event_date = ?", [START]
        ).fetchone() == (1,)


def test_materialize_names_an_empty_input(piper_env: Settings) -> None:
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1) + ev(2))
    ingest(piper_env)  # no refresh: silver was never built
    out = runner.invoke(app, ["materialize", "--model", "gold_tool_reliability_daily"])
    assert out.exit_code == 1
    assert (
        "gold_tool_reliability_daily: its input silver_tool_events has no rows for"
        " 2026-03-04..2026-03-04: build it first with `piper materialize --start 2026-03-04"
        " --end 2026-03-04`"
    ) in out.output
    assert "Traceback" not in out.output


def test_a_replay_that_fixes_a_blocked_partition_refreshes_its_dates(
    piper_env: Settings, warehouse
) -> None:
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=1, artists=6))
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    # An older contract had rejected 300 lines of that day as an unknown event type: the
    # partition's invalid rate fails, as its spool run recorded.
    lines = [ev(10_000 + i, "2026-03-02T10:00:00Z").rstrip(b"\n") for i in range(300)]
    quarantined_by_an_old_contract(piper_env, lines, "unknown_event_type", day=str(START))
    outcomes = run_checks(load_settings(), PARTITION_CHECKS, START, START, run_id=None)
    assert any(o.check == "invalid_rate" and o.status == Status.FAIL for o in outcomes)
    # A late file for that day: held back.
    write_spool_file(
        piper_env.raw_root, "lt007/bob/2026-03-02_late.jsonl", ev(20_000, "2026-03-02T12:00:00Z")
    )
    ingest(piper_env)
    out = runner.invoke(app, ["ingest"])
    assert "held back for event dates 2026-03-02" in out.output and "refreshing" not in out.output

    # The fix: a replay (which refreshes by default) ingests the lines, the check passes again.
    out = runner.invoke(app, ["quarantine", "replay"])
    assert out.exit_code == 0, out.output
    assert "300 events ingested" in out.output
    assert "refreshing silver and gold for 2026-03-02..2026-03-02" in out.output
    assert "held back" not in out.output
    assert _ledger(warehouse) == []
    with warehouse() as con:
        events = con.execute(
            "SELECT count(*) FROM silver_events WHERE event_date = ?", [START]
        ).fetchone()
        assert (
            con.execute(
                "SELECT dq_events FROM gold_data_quality_daily WHERE event_date = ?", [START]
            ).fetchone()
            == events
        )


# --- the backlog as a health signal --------------------------------------------------------------


def test_doctor_grades_the_refresh_backlog_by_its_oldest_date(piper_env: Settings) -> None:
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1) + ev(2))
    ingest(piper_env)  # no daemon, no CLI: nothing refreshed it

    def backlog(hours_later: float) -> dict:
        at = (datetime.now(UTC) + timedelta(hours=hours_later)).isoformat()
        out = runner.invoke(app, ["doctor", "--json", "--as-of", at])
        (result,) = [
            r for r in json.loads(out.stdout)["results"] if r["check"] == "refresh_backlog"
        ]
        return result

    assert backlog(0)["status"] == "PASS"
    warn = backlog(3)  # checks.refresh_backlog_warn_hours = 2
    assert warn["status"] == "WARN" and 3 * 3600 - 60 < warn["value"] < 3 * 3600 + 60
    assert "1 event dates wait for a refresh, the oldest (2026-03-04)" in warn["hint"]
    assert warn["runbook"] == "docs/runbook.md#refresh-backlog"
    assert backlog(13)["status"] == "FAIL"  # refresh_backlog_fail_hours = 12
    table = runner.invoke(app, ["doctor", "--as-of", f"{datetime.now(UTC) + timedelta(hours=3)}"])
    assert "refresh_backlog" in table.output and ">2.0 h / >12.0 h" in table.output

    assert runner.invoke(app, ["ingest"]).exit_code == 0  # drains it
    assert backlog(13)["status"] == "PASS"


def test_the_sensor_waits_for_the_run_that_dirtied_a_date(piper_env: Settings) -> None:
    """A spool run commits its data before its checks run (a failed invalid rate holds its
    dates back): while it runs, the sensor does not refresh the dates it dirtied."""
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1))
    with dg.DagsterInstance.get() as instance:
        spool_run = instance.create_run_for_job(
            defs().resolve_job_def("refresh_models"),
            status=dg.DagsterRunStatus.STARTED,
            tags={"test": "stands for a spool run"},
        )
        ingest(piper_env, run_id=spool_run.run_id)  # committed, its checks not yet evaluated
        context = dg.build_sensor_context(instance=instance, definitions=defs())
        assert touched_event_dates_sensor(context).run_requests == []
        instance.report_run_failed(spool_run)  # over (its checks held nothing back)
        (request,) = touched_event_dates_sensor(context).run_requests
        assert request.tags["dagster/asset_partition_range_start"] == "2026-03-04"


def test_backfill_refreshes_the_event_dates_outside_its_range(
    piper_env: Settings, warehouse
) -> None:
    # A session that started before midnight: spool date 2026-03-04, an event of 2026-03-03.
    write_spool_file(
        piper_env.raw_root,
        "ws001/alice/2026-03-04_a.jsonl",
        ev(1, "2026-03-03T23:30:00Z") + ev(2) + ev(3),
    )
    out = runner.invoke(app, ["backfill", "--start", "2026-03-04", "--end", "2026-03-04"])
    assert out.exit_code == 0, out.output
    # The run's models built 2026-03-04; the day before waited in the ledger, then was refreshed.
    assert out.output.count("refreshing silver and gold for") == 1
    assert "refreshing silver and gold for 2026-03-03..2026-03-03" in out.output
    assert _tool_invocations(warehouse) == [("2026-03-03", 1), ("2026-03-04", 2)]
    assert _ledger(warehouse) == []
