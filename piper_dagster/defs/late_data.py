"""Late data: refresh silver and gold for every event date an ingest added events to.

`AutomationCondition.eager()` only acts on the latest partition, and events reach past days
(sessions across midnight, laptops syncing days later, clock-skew reassignment). Each spool
materialization records the event dates it touched (metadata `event_dates`); this sensor reads
new spool materializations and requests one run of every silver and gold model per contiguous
range of touched dates, however far in the past.
"""

import json
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from piper_dagster.defs.partitions import partition_bounds, range_tags
from piper_dagster.settings import load_settings

refresh_models_job = dg.define_asset_job(
    "refresh_models",
    selection=dg.AssetSelection.groups("silver", "gold"),
    description="Silver and gold for a range of event dates (one run per range).",
)


def contiguous_ranges(dates: set[date]) -> list[tuple[date, date]]:
    """[(first, last)] covering `dates`, one per run of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for d in sorted(dates):
        if ranges and d - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], d)
        else:
            ranges.append((d, d))
    return ranges


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


def _dates(mat: dg.AssetMaterialization | None, key: str) -> set[date]:
    value = mat.metadata.get(key) if mat else None
    raw = getattr(value, "value", value) or []
    if isinstance(raw, str):
        raw = json.loads(raw)
    return {date.fromisoformat(d) for d in raw}


def _touched_dates(record: dg.EventLogRecord) -> set[date]:
    # Dates that came from a spool partition whose blocking check failed (invalid rate) are held
    # back: an operator refreshes them after a fix and a replay. The run's other dates go on.
    mat = record.asset_materialization
    return _dates(mat, "event_dates") - _dates(mat, "held_back_event_dates")


@dg.sensor(
    job=refresh_models_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=load_settings().dagster.sensor_interval_seconds,
    description="Refreshes silver and gold for the event dates each spool ingest touched.",
)
def touched_event_dates_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    result = context.instance.fetch_materializations(
        dg.AssetKey("spool_events"), limit=1000, cursor=context.cursor, ascending=True
    )
    touched: set[date] = set()
    for record in result.records:
        touched |= _touched_dates(record)
    lo, hi = partition_bounds()
    touched = {d for d in touched if lo <= d <= hi}
    retry_after = load_settings().dagster.retry_after_seconds
    states = {f"{first}..{last}@{result.cursor}" for first, last in contiguous_ranges(touched)}
    # Ranges requested before whose run failed or died (not succeeded): ask again.
    since = time.time() - 7 * 86400
    for record in context.instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=refresh_models_job.name,
            statuses=[dg.DagsterRunStatus.FAILURE, *ACTIVE],
            created_after=datetime.fromtimestamp(since, UTC),
        )
    ):
        if REFRESH_TAG in record.dagster_run.tags:
            states.add(record.dagster_run.tags[REFRESH_TAG])
    requests = []
    for state in sorted(states):
        attempt = next_attempt(context.instance, REFRESH_TAG, state, retry_after)
        if attempt is None:
            continue
        first, last = (date.fromisoformat(d) for d in state.split("@")[0].split(".."))
        requests.append(
            dg.RunRequest(
                run_key=f"refresh {state} #{attempt}",
                tags={**range_tags(first, last), REFRESH_TAG: state},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=result.cursor)
