"""Late data: refresh silver and gold for every event date an ingest (or a replay) added events to.

`AutomationCondition.eager()` only acts on the latest partition, and events reach past days
(sessions across midnight, laptops syncing days later, clock-skew reassignment). Each ingest batch
records the event dates it added events to in the refresh ledger (table refresh_pending), in its
own transaction; this sensor reads the ledger and requests one run of every silver and gold model
per contiguous range of waiting dates, however far in the past, minus the held-back ones (see
piper_dagster/refresh_ledger.py). The refresh clears what it rebuilt: nothing a crash can lose.
"""

import time

import dagster as dg
import duckdb

from piper_dagster.defs.partitions import partition_bounds, range_tags
from piper_dagster.refresh_ledger import contiguous_ranges, drain_ranges, read_backlog
from piper_dagster.settings import load_settings

__all__ = ["contiguous_ranges", "next_attempt", "refresh_models_job", "touched_event_dates_sensor"]

refresh_models_job = dg.define_asset_job(
    "refresh_models",
    selection=dg.AssetSelection.groups("silver", "gold"),
    description="Silver and gold for a range of event dates (one run per range).",
)


ACTIVE = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}
REFRESH_TAG = "piper/refresh_state"


def next_attempt(
    instance: dg.DagsterInstance, tag: str, state: str, retry_after: float
) -> int | None:
    """The attempt number to request for `state` (runs tagged `tag`=`state`), or None while an
    attempt is pending or one succeeded. A run that failed, or still shows as started after
    `retry_after` seconds (its process died with the daemon), calls for a new attempt."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={tag: state}))
    now = time.time()
    for record in records:
        status = record.dagster_run.status
        if status == dg.DagsterRunStatus.SUCCESS:
            return None
        if status in ACTIVE and now - record.create_timestamp.timestamp() < retry_after:
            return None
    return len(records)


@dg.sensor(
    job=refresh_models_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=load_settings().dagster.sensor_interval_seconds,
    description="Refreshes silver and gold for the event dates waiting in the refresh ledger.",
)
def touched_event_dates_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = load_settings()
    if not settings.warehouse_path.exists():
        return dg.SensorResult(skip_reason="no warehouse yet")
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException:
        return dg.SensorResult(skip_reason="a run is writing the warehouse; next tick")
    try:
        backlog = read_backlog(con)
    finally:
        con.close()
    lo, hi = partition_bounds()
    running = frozenset(
        r.dagster_run.run_id
        for r in context.instance.get_run_records(filters=dg.RunsFilter(statuses=list(ACTIVE)))
    )
    requests = []
    for waiting in drain_ranges(backlog, lo, hi, running=running):
        # A run for this ledger state that failed, or died (still "started" after retry_after):
        # a new attempt; one pending or succeeded: nothing (a new dirtying is a new state).
        attempt = next_attempt(
            context.instance, REFRESH_TAG, waiting.state, settings.dagster.retry_after_seconds
        )
        if attempt is None:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"refresh {waiting.state} #{attempt}",
                tags={**range_tags(waiting.first, waiting.last), REFRESH_TAG: waiting.state},
            )
        )
    return dg.SensorResult(run_requests=requests)
