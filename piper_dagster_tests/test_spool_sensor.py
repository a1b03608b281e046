"""The spool sensor on a real Dagster instance: settle window, run keys, retries."""

from __future__ import annotations

import os
import time
from datetime import date

import dagster as dg
import pytest

from piper_dagster.defs.keys import INGEST_AND_REFRESH_JOB, INGEST_SPOOL_JOB, SPOOL_EVENTS
from piper_dagster.defs.keys import SPOOL_STATE_TAG as STATE_TAG
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import (
    SETTLED_MTIME,
    blocked_spool,
    defs,
    ev,
    run_requested,
    spool_sensor,
    touched_event_dates_sensor,
    write_spool_file,
)


def _tick(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    result = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def _ranges(requests: list[dg.RunRequest]) -> list[tuple[str, str]]:
    return [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]


def test_new_grown_and_settling_files_trigger_once_per_state(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, warehouse
) -> None:
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "120")
    raw = load_settings().raw_root
    write_spool_file(raw, "ws001/a/2026-03-03_x.jsonl", ev(1))
    write_spool_file(raw, "ws001/a/2026-03-04_x.jsonl", ev(2))
    write_spool_file(raw, "ws002/b/2026-03-06_y.jsonl", ev(3))
    write_spool_file(raw, "ws002/b/2026-03-07_y.jsonl", ev(4), mtime=time.time())  # not settled
    with dg.DagsterInstance.get() as instance:
        first = _tick(instance)
        assert _ranges(first) == [("2026-03-03", "2026-03-04"), ("2026-03-06", "2026-03-06")]
        # Not run yet: the same state gives the same run keys (Dagster runs a key once).
        assert [r.run_key for r in _tick(instance)] == [r.run_key for r in first]
        assert all(run_requested(instance, r) for r in first)
        assert _tick(instance) == []  # read: nothing to do

        # A file of a day already ingested grows; the unsettled one settles.
        write_spool_file(
            raw, "ws001/a/2026-03-04_x.jsonl", ev(5), append=True, mtime=SETTLED_MTIME + 9
        )
        os.utime(raw / "ws002/b/2026-03-07_y.jsonl", (SETTLED_MTIME, SETTLED_MTIME))
        again = _tick(instance)
        assert _ranges(again) == [("2026-03-04", "2026-03-04"), ("2026-03-07", "2026-03-07")]
        assert {r.run_key for r in again}.isdisjoint({r.run_key for r in first})
        assert all(run_requested(instance, r) for r in again)
        assert _tick(instance) == []
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (5,)


def test_a_state_whose_run_died_is_requested_again(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, warehouse
) -> None:
    write_spool_file(piper_env.raw_root, "ws001/a/2026-03-04_x.jsonl", ev(1) + ev(2))
    with dg.DagsterInstance.get() as instance:
        (request,) = _tick(instance)
        # The run dies before it commits anything (here: its spool vanished for a moment).
        monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", "/nonexistent/spool")
        assert not run_requested(instance, request)
        monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(piper_env.raw_root))
        (retry,) = _tick(instance)
        assert retry.tags[STATE_TAG] == request.tags[STATE_TAG]
        assert retry.run_key != request.run_key  # a new attempt of the same state
        assert run_requested(instance, retry)
        assert _tick(instance) == []
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (2,)


def test_a_missing_spool_skips_with_the_reason(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", "/nonexistent/spool")
    with dg.DagsterInstance.get() as instance:
        result = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
    assert isinstance(result, dg.SkipReason)
    assert "/nonexistent/spool does not exist" in (result.skip_message or "")


def test_sensors_run_by_default() -> None:
    for sensor in defs().sensors or []:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name


def _materialized(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey(asset)))


def _refresh_ranges(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    context = dg.build_sensor_context(instance=instance, definitions=defs())
    return _ranges(list(touched_event_dates_sensor(context).run_requests or []))


def test_one_requested_run_takes_the_spool_dates_to_gold(piper_env: Settings, warehouse) -> None:
    # Spool date 2026-03-04, with one event of the day before (a session across midnight).
    write_spool_file(
        piper_env.raw_root,
        "ws001/a/2026-03-04_x.jsonl",
        ev(1) + ev(2) + ev(3, "2026-03-03T23:30:00Z"),
    )
    with dg.DagsterInstance.get() as instance:
        (request,) = _tick(instance)
        assert request.job_name == INGEST_AND_REFRESH_JOB
        assert run_requested(instance, request)
        for asset in (SPOOL_EVENTS, *(m.name for m in (*SILVER_MODELS, *GOLD_MODELS))):
            assert "2026-03-04" in _materialized(instance, asset), asset
        # Its own date's ledger entries were cleared by the same run; the day before (events
        # of another date) waits for the refresh sensor, which asks for that day only.
        assert _refresh_ranges(instance) == [("2026-03-03", "2026-03-03")]
    with warehouse() as con:
        assert con.execute(
            "SELECT event_date::VARCHAR, sum(tool_invocations) FROM gold_tool_reliability_daily"
            " GROUP BY 1"
        ).fetchall() == [("2026-03-04", 2)]
        assert con.execute(
            "SELECT DISTINCT event_date::VARCHAR FROM refresh_pending"
        ).fetchall() == [("2026-03-03",)]


def test_a_blocking_failure_holds_gold_back_in_the_same_run(piper_env: Settings, warehouse) -> None:
    day = date(2026, 3, 2)
    blocked_spool(piper_env.raw_root, day)
    with dg.DagsterInstance.get() as instance:
        (request,) = _tick(instance)
        assert request.job_name == INGEST_AND_REFRESH_JOB
        assert not run_requested(instance, request)  # the blocking invalid rate failed the step
        assert str(day) in _materialized(instance, SPOOL_EVENTS)  # its data is committed
        for model in (*SILVER_MODELS, *GOLD_MODELS):
            assert _materialized(instance, model.name) == set(), model.name
        # Nothing new to read: no retry of the same state; the ledger holds the dates back.
        assert _tick(instance) == []
        assert _refresh_ranges(instance) == []
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM gold_data_quality_daily").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM refresh_pending").fetchone()[0] > 0


def test_a_range_with_a_held_back_date_gets_the_spool_run_only(
    piper_env: Settings, warehouse
) -> None:
    blocked_spool(piper_env.raw_root, date(2026, 3, 2))
    # The blocked spool date also holds an event of the 3rd: the 3rd is held back.
    write_spool_file(
        piper_env.raw_root, "ws009/a/2026-03-02_x.jsonl", ev(1, "2026-03-03T01:00:00Z")
    )
    with dg.DagsterInstance.get() as instance:
        (request,) = _tick(instance)
        assert not run_requested(instance, request)
        # Spool date 2026-03-03 arrives, clean: silver and gold of the 3rd must wait for the
        # operator, not be built by this spool run.
        write_spool_file(
            piper_env.raw_root, "ws001/a/2026-03-03_x.jsonl", ev(2, "2026-03-03T12:00:00Z")
        )
        (request,) = _tick(instance)
        assert request.job_name == INGEST_SPOOL_JOB
        assert run_requested(instance, request)
        assert _materialized(instance, "gold_data_quality_daily") == set()
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM gold_data_quality_daily").fetchone() == (0,)
