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
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from piper_dagster.defs.keys import (
    GOLD_GROUP,
    REFRESH_MODELS_JOB,
    REFRESH_SENSOR,
    REFRESH_STATE_TAG,
    SILVER_GROUP,
)
from piper_dagster.defs.partitions import partition_bounds, range_tags
from piper_dagster.defs.resources import PiperResource
from piper_dagster.refresh_ledger import drain_ranges, read_backlog
from piper_dagster.settings import Settings

ACTIVE = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}


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


def refresh_tick(context: dg.SensorEvaluationContext, piper: PiperResource) -> dg.SensorResult:
    """One tick of the refresh sensor (a plain function: tests call it with a built context)."""
    settings = piper.settings()
    if not settings.warehouse_path.exists():
        return dg.SensorResult(skip_reason="no warehouse yet")
    con = piper.peek(settings)
    if con is None:
        return dg.SensorResult(skip_reason="a run is writing the warehouse; next tick")
    try:
        backlog = read_backlog(con)
    finally:
        con.close()
    lo, hi = partition_bounds(settings)
    running = frozenset(
        r.dagster_run.run_id
        for r in context.instance.get_run_records(filters=dg.RunsFilter(statuses=list(ACTIVE)))
    )
    requests = []
    for waiting in drain_ranges(backlog, lo, hi, running=running):
        # A run for this ledger state that failed, or died (still "started" after retry_after):
        # a new attempt; one pending or succeeded: nothing (a new dirtying is a new state).
        attempt = next_attempt(
            context.instance, REFRESH_STATE_TAG, waiting.state, settings.dagster.retry_after_seconds
        )
        if attempt is None:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"refresh {waiting.state} #{attempt}",
                tags={**range_tags(waiting.first, waiting.last), REFRESH_STATE_TAG: waiting.state},
            )
        )
    return dg.SensorResult(run_requests=requests)


def build_refresh(
    settings: Settings, piper: PiperResource
) -> tuple[UnresolvedAssetJobDefinition, dg.SensorDefinition]:
    """The refresh_models job and the sensor that requests it for the waiting event dates."""
    job = dg.define_asset_job(
        REFRESH_MODELS_JOB,
        selection=dg.AssetSelection.groups(SILVER_GROUP, GOLD_GROUP),
        description="Silver and gold for a range of event dates (one run per range).",
    )

    @dg.sensor(
        name=REFRESH_SENSOR,
        job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.dagster.sensor_interval_seconds,
        description="Refreshes silver and gold for the event dates waiting in the refresh ledger.",
    )
    def touched_event_dates_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return refresh_tick(context, piper)

    return job, touched_event_dates_sensor
