"""The freshness sensor on a real instance (issue #15 item 3): freshness and the refresh backlog
evaluated and reported without a run; stale data FAIL, fresh data PASS; a busy warehouse skips."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.loader import LoadingContextForTest

from piper_dagster.checks import Status
from piper_dagster.cli.doctor import run_installation
from piper_dagster.defs import checks as defs_checks
from piper_dagster.defs.partitions import range_tags
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.serving import init_sql
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import (
    defs,
    freshness_sensor,
    report_sensor_events,
    wait_for,
    warehouse_locked,
)

START = date(2026, 3, 2)
FRESHNESS = dg.AssetCheckKey(dg.AssetKey("spool_events"), "freshness")
BACKLOG = dg.AssetCheckKey(dg.AssetKey("spool_events"), "refresh_backlog")


def _tick(instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    """One tick as the daemon runs it: evaluate, then store the tick's asset events."""
    result = freshness_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
    if isinstance(result, dg.SensorResult):
        report_sensor_events(instance, result)
    return result


def _latest(instance: dg.DagsterInstance, key: dg.AssetCheckKey):
    return instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)


def _shown_in_the_ui(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> bool:
    """The UI's Checks tab shows an execution as current when it targets the latest
    materialization (dagster_graphql: executionForLatestMaterialization)."""
    record = _latest(instance, key)
    return record is not None and asyncio.run(
        record.targets_latest_materialization(LoadingContextForTest(instance))
    )


def _checks_in_warehouse(settings: Settings) -> list[tuple]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT check_name, count(*), count(run_id) FROM pipeline_check_results"
            " WHERE check_name IN ('freshness', 'refresh_backlog') GROUP BY ALL ORDER BY 1"
        ).fetchall()


def test_stale_data_fails_without_a_run(piper_env: Settings) -> None:
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=1, artists=2))
    with dg.DagsterInstance.get() as instance:
        dg.materialize(
            [defs().resolve_assets_def("spool_events")],
            instance=instance,
            tags=range_tags(START, START),
        )
        runs = instance.get_runs_count()
        result = _tick(instance)
        assert isinstance(result, dg.SensorResult) and not result.run_requests
        assert instance.get_runs_count() == runs  # no run: the evaluation is runless

        record = _latest(instance, FRESHNESS)
        assert record.run_id == ""  # Dagster's runless events
        assert record.status.value == "FAILED"
        evaluation = record.event.dagster_event.event_specific_data
        # Data of March 2026, now is later: stale, every family, a FAIL is an ERROR.
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert {"value_artists", "value_farm", "value_storage"} <= set(evaluation.metadata)
        assert evaluation.metadata["fail_count"].value == 3
        assert _shown_in_the_ui(instance, FRESHNESS)  # after the latest materialization
        # The refresh backlog is reported with it (ingested, nothing refreshed yet: fresh).
        backlog = _latest(instance, BACKLOG)
        assert backlog.run_id == "" and backlog.status.value == "SUCCEEDED"
        assert "event dates wait for a refresh" in (
            backlog.event.dagster_event.event_specific_data.metadata["hint"].value
        )
    # Recorded in the warehouse (no run id: no run; the backlog's other row is the spool run's)
    # and published for Grafana.
    assert _checks_in_warehouse(piper_env) == [("freshness", 3, 0), ("refresh_backlog", 2, 1)]
    served = duckdb.connect()
    served.execute(init_sql(piper_env.serving_dir))
    assert served.execute(
        "SELECT count(*) FROM pipeline_check_results WHERE check_name = 'freshness'"
    ).fetchone() == (3,)


def test_fresh_data_passes_and_the_newest_evaluation_is_the_one_shown(
    piper_env: Settings,
) -> None:
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=1, artists=2))
    ingest(piper_env)
    with dg.DagsterInstance.get() as instance:
        assert _tick(instance) and _latest(instance, FRESHNESS).status.value == "FAILED"
        # Every family heard of ten minutes ago (the emitters caught up).
        with connect(piper_env.warehouse_path) as con:
            con.execute("UPDATE silver_events SET ts = now() - INTERVAL 10 MINUTE")
        _tick(instance)
        record = _latest(instance, FRESHNESS)
        evaluation = record.event.dagster_event.event_specific_data
        assert record.status.value == "SUCCEEDED"
        assert evaluation.passed and evaluation.metadata["status"].value == "PASS"
        assert evaluation.severity == dg.AssetCheckSeverity.WARN  # Dagster's for a pass
        assert _shown_in_the_ui(instance, FRESHNESS)
        history = instance.event_log_storage.get_asset_check_execution_history(FRESHNESS, 10)
        assert [h.status.value for h in history] == ["SUCCEEDED", "FAILED"]
        assert instance.get_runs_count() == 0


def test_a_busy_warehouse_skips_the_tick_within_its_bound(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=1, artists=2))
    ingest(piper_env)
    monkeypatch.setattr(defs_checks, "FRESHNESS_LOCK_WAIT_SECONDS", 1.0)
    with dg.DagsterInstance.get() as instance:
        with warehouse_locked(piper_env.warehouse_path):
            started = time.monotonic()
            result = _tick(instance)
            took = time.monotonic() - started
        assert isinstance(result, dg.SkipReason)
        assert "warehouse is busy" in (result.skip_message or "")
        assert 1.0 <= took < 10  # waited its bound, not dagster.wait_seconds (600 s)
        assert _latest(instance, FRESHNESS) is None
        assert _checks_in_warehouse(piper_env) == []
        # The next tick, the lock released, evaluates.
        assert isinstance(_tick(instance), dg.SensorResult)
        assert _latest(instance, FRESHNESS) is not None


def test_no_warehouse_yet_is_a_skip_that_says_so(piper_env: Settings) -> None:
    with dg.DagsterInstance.get() as instance:
        result = _tick(instance)
    assert isinstance(result, dg.SkipReason) and "piper init" in (result.skip_message or "")


def test_the_sensor_is_running_by_default_at_the_interval(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_CHECKS__FRESHNESS_INTERVAL_MINUTES", "5")
    sensor = defs().resolve_sensor_def("freshness_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 300
    assert not list(sensor.targets)  # no job: it never requests a run
    assert [s.name for s in defs().schedules or []] == ["prune_schedule"]  # no freshness one


@pytest.fixture
def warehouse_before_the_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty warehouse where dagster_dev's data root will be, ticking every minute."""
    monkeypatch.setenv("PIPER_CHECKS__FRESHNESS_INTERVAL_MINUTES", "1")
    path = tmp_path / "data" / "warehouse" / "telemetry.duckdb"
    with connect(path):
        pass
    return path


@pytest.mark.slow
def test_the_daemon_reports_freshness_without_a_run(
    warehouse_before_the_daemon: Path, dagster_dev: dict
) -> None:
    with dg.DagsterInstance.get() as instance:  # dagster_dev's DAGSTER_HOME
        # No event at all: every family FAILs, reported by the daemon's tick, not by a run.
        record = wait_for("the freshness sensor's evaluation", lambda: _latest(instance, FRESHNESS))
        assert record.run_id == "" and record.status.value == "FAILED"
        assert instance.get_runs_count() == 0
        (state,) = [s for s in instance.all_instigator_state() if s.name == "freshness_sensor"]
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=5)
        done = [t for t in ticks if t.end_timestamp]
        # Dagster's tick history calls a tick without a run request "skipped": with the verdict.
        assert done and all(t.status.value == "SKIPPED" for t in done)
        assert "freshness FAIL" in (done[0].skip_reason or "")
        took = [round(t.end_timestamp - t.timestamp, 2) for t in done]
        print(f"freshness sensor tick: {took} s")  # docs/design.md, Freshness without runs
        assert max(took) < 30
    # `piper doctor --installation` against the live daemon: its heartbeats and the sensors.
    rows = {r.item: r for r in run_installation().rows}
    assert rows["daemon_heartbeat"].status == Status.PASS, rows["daemon_heartbeat"]
    assert rows["sensors"].status == Status.PASS and "3 of 3 running" in rows["sensors"].value
