"""The spool sensor on a real Dagster instance: stat() only, settle window, run keys."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from piper_dagster.definitions import defs
from piper_dagster.defs.sensors import spool_sensor
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.conftest import SETTLED_MTIME, write_spool_file
from piper_dagster_tests.test_ingest import ev


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = spool_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), str(result.cursor)


def _ranges(requests: list[dg.RunRequest]) -> list[tuple[str, str]]:
    return [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]


def test_new_grown_and_settling_files_trigger_exactly_once(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "120")
    raw = load_settings().raw_root
    write_spool_file(raw, "ws001/a/2026-03-03_x.jsonl", ev(1))
    write_spool_file(raw, "ws001/a/2026-03-04_x.jsonl", ev(2))
    write_spool_file(raw, "ws002/b/2026-03-06_y.jsonl", ev(3))
    write_spool_file(raw, "ws002/b/2026-03-07_y.jsonl", ev(4), mtime=time.time())  # not settled
    with dg.DagsterInstance.get() as instance:
        requests, cursor = _tick(instance, None)
        assert _ranges(requests) == [("2026-03-03", "2026-03-04"), ("2026-03-06", "2026-03-06")]
        assert _tick(instance, cursor)[0] == []  # same state: nothing

        # A file of a day already ingested grows; the unsettled one settles.
        write_spool_file(
            raw, "ws001/a/2026-03-04_x.jsonl", ev(5), append=True, mtime=SETTLED_MTIME + 9
        )
        path = raw / "ws002/b/2026-03-07_y.jsonl"
        os.utime(path, (SETTLED_MTIME, SETTLED_MTIME))
        again, cursor2 = _tick(instance, cursor)
        assert _ranges(again) == [("2026-03-04", "2026-03-04"), ("2026-03-07", "2026-03-07")]
        assert {r.run_key for r in again}.isdisjoint({r.run_key for r in requests})
        assert _tick(instance, cursor2)[0] == []
        assert len(cursor2) < 200  # one short fingerprint per spool date


def test_a_requested_run_ingests_and_the_late_data_sensor_follows(
    piper_env: Settings, warehouse
) -> None:
    write_spool_file(piper_env.raw_root, "ws001/a/2026-03-04_x.jsonl", ev(1) + ev(2))
    with dg.DagsterInstance.get() as instance:
        (request,), _ = _tick(instance, None)
        run = dg.materialize(
            [defs.get_assets_def("spool_events")], instance=instance, tags=request.tags
        )
        assert run.success
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (2,)


def test_a_missing_spool_skips_with_the_reason(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", "/nonexistent/spool")
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        result = spool_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert "/nonexistent/spool does not exist" in (result.skip_message or "")


def test_sensors_run_by_default() -> None:
    for sensor in defs.sensors or []:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name
