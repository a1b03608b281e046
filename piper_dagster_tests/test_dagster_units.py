"""The Dagster adapter's plain functions and sensor ticks, called directly on ephemeral
instances (no daemon, no run worker): each test takes milliseconds to a second."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pytest
from dagster._core.utils import make_new_run_id

from piper_dagster.checks import BLOCKING_CHECKS, INVALID_RATE, VOLUME, CheckOutcome, Status
from piper_dagster.defs.checks import blocked_partitions, check_result
from piper_dagster.defs.keys import RANGE_END_TAG, RANGE_START_TAG, SPOOL_STATE_TAG
from piper_dagster.defs.late_data import next_attempt, refresh_tick
from piper_dagster.defs.partitions import daily_partitions, partition_bounds, range_tags
from piper_dagster.defs.resources import PiperResource
from piper_dagster.defs.sensors import spool_tick
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import ev, write_spool_file

D = date.fromisoformat
TAG = "piper/test_state"


def _outcome(check: str, day: str, status: Status, value: float) -> CheckOutcome:
    return CheckOutcome(check, D(day), "all", status, value, warn=0.01, fail=0.05, hint=f"{day}")


def _context(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorEvaluationContext:
    return dg.build_sensor_context(instance=instance, cursor=cursor)


def test_range_tags_and_partitions_follow_the_settings(piper_env: Settings) -> None:
    assert range_tags(D("2026-03-02"), D("2026-03-04")) == {
        RANGE_START_TAG: "2026-03-02",
        RANGE_END_TAG: "2026-03-04",
    }
    before = datetime.now(UTC).date()
    first, last = partition_bounds(piper_env)
    assert first == piper_env.ingest.start_date
    assert last in {before, datetime.now(UTC).date()}  # end_offset=1: today is a partition
    assert daily_partitions(piper_env).end_offset == 1


def test_check_result_shows_the_worst_partition_with_the_others_in_metadata() -> None:
    outcomes = [
        _outcome(INVALID_RATE, "2026-03-02", Status.PASS, 0.001),
        _outcome(INVALID_RATE, "2026-03-03", Status.FAIL, 0.2),
        _outcome(INVALID_RATE, "2026-03-04", Status.WARN, 0.02),
    ]
    result = check_result(INVALID_RATE, outcomes, runbook_url="")
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["partition"].value == "2026-03-03"
    assert (result.metadata["warn_count"].value, result.metadata["fail_count"].value) == (1, 1)
    assert isinstance(result.metadata["runbook"], dg.PathMetadataValue)
    linked = check_result(INVALID_RATE, outcomes, runbook_url="https://example.test/runbook.md")
    assert isinstance(linked.metadata["runbook"], dg.UrlMetadataValue)
    assert INVALID_RATE in BLOCKING_CHECKS
    assert blocked_partitions(outcomes) == [D("2026-03-03")]


def test_volume_shows_the_lowest_value_as_the_worst() -> None:
    outcomes = [
        _outcome(VOLUME, "2026-03-02", Status.WARN, 50.0),
        _outcome(VOLUME, "2026-03-03", Status.WARN, 10.0),
    ]
    assert check_result(VOLUME, outcomes, "").metadata["value"].value == 10.0
    assert blocked_partitions(outcomes) == []  # volume never blocks


def _run(instance: dg.DagsterInstance, state: str, status: dg.DagsterRunStatus) -> None:
    run = dg.DagsterRun(
        job_name="spool", run_id=make_new_run_id(), tags={TAG: state}, status=status
    )
    instance.add_run(run)


def test_next_attempt_counts_failed_runs_and_stops_at_a_success() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert next_attempt(instance, TAG, "s1", retry_after=60) == 0
        _run(instance, "s1", dg.DagsterRunStatus.FAILURE)
        assert next_attempt(instance, TAG, "s1", retry_after=60) == 1
        _run(instance, "s1", dg.DagsterRunStatus.STARTED)  # pending: wait for it
        assert next_attempt(instance, TAG, "s1", retry_after=60) is None
        # Still "started" after retry_after: its process died with the daemon, try again.
        assert next_attempt(instance, TAG, "s1", retry_after=0) == 2
        _run(instance, "s1", dg.DagsterRunStatus.SUCCESS)
        assert next_attempt(instance, TAG, "s1", retry_after=0) is None
        assert next_attempt(instance, TAG, "s2", retry_after=60) == 0


def test_the_spool_tick_requests_one_run_per_contiguous_range(piper_env: Settings) -> None:
    raw = piper_env.raw_root
    for day in ("2026-03-02", "2026-03-03", "2026-03-05"):
        write_spool_file(raw, f"ws001/a/{day}_x.jsonl", ev(1, f"{day}T10:00:00Z"))
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = spool_tick(_context(instance, cursor="unused"), PiperResource())
        elapsed = time.perf_counter() - started
    assert isinstance(result, dg.SensorResult)
    ranges = [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests or []]
    assert ranges == [("2026-03-02", "2026-03-03"), ("2026-03-05", "2026-03-05")]
    for request in result.run_requests or []:
        assert request.run_key == f"spool {request.tags[SPOOL_STATE_TAG]} #0"
    assert elapsed < 5, elapsed  # stat() calls and one read-only look: a tick stays small


def test_the_spool_tick_skips_without_a_spool(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(piper_env.data_root / "not_there"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = spool_tick(_context(instance), PiperResource())
    assert isinstance(result, dg.SkipReason)
    assert "not_there" in (result.skip_message or "")


def test_the_refresh_tick_waits_for_a_warehouse(piper_env: Settings) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = refresh_tick(_context(instance), PiperResource())
    assert result.skip_reason is not None and "no warehouse yet" in str(result.skip_reason)
    assert not result.run_requests


def test_the_resource_opens_the_warehouse_read_write_then_read_only(piper_env: Settings) -> None:
    piper = PiperResource()
    with piper.warehouse() as con:  # created, with piper's schema
        assert con.execute("SELECT count(*) FROM spool_files").fetchone() == (0,)
    with piper.warehouse(read_only=True) as con, pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE t (x INT)")
    peeked = piper.peek(piper.settings())
    assert peeked is not None
    peeked.close()
