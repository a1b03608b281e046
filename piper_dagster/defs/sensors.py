"""The spool sensor: requests spool runs for the spool dates whose settled files changed.

It replaces piper 1.0's `run_ingest.sh` cron. A tick only stat()s the spool (no file is
read, the warehouse is not opened: a run may be writing it) and keeps one fingerprint per
spool date in its cursor. The run_key carries the fingerprints, so a file appended after its
day was ingested triggers again and the same state never triggers twice. Reading itself is
exactly-once whatever the sensor does (offsets live in the warehouse), so a daemon restart
can neither skip a file nor read one twice.
"""

import json
import time
from datetime import date

import dagster as dg

from piper_dagster.defs.late_data import contiguous_ranges
from piper_dagster.defs.partitions import daily_partitions, range_tags
from piper_dagster.settings import ConfigError, load_settings
from piper_dagster.spool.discovery import scan_spool, settled_fingerprints


def spool_run_requests(
    previous: dict[str, str], current: dict[date, str], bounds: tuple[date, date]
) -> list[dg.RunRequest]:
    """One spool run per contiguous range of dates whose fingerprint changed."""
    changed = {
        d
        for d, fp in current.items()
        if previous.get(d.isoformat()) != fp and bounds[0] <= d <= bounds[1]
    }
    requests = []
    for first, last in contiguous_ranges(changed):
        fps = ",".join(current[d] for d in sorted(current) if first <= d <= last and d in changed)
        requests.append(
            dg.RunRequest(run_key=f"spool {first}..{last} {fps}", tags=range_tags(first, last))
        )
    return requests


@dg.sensor(
    target=dg.AssetSelection.assets("spool_events"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=load_settings().dagster.sensor_interval_seconds,
    description="Ingests the spool dates whose settled files are new, grown or changed.",
)
def spool_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    try:
        settings = load_settings()
        raw_root = settings.require_raw_root()
    except ConfigError as exc:
        return dg.SkipReason(str(exc))
    current = settled_fingerprints(
        scan_spool(raw_root), now_ns=time.time_ns(), settle_seconds=settings.ingest.settle_seconds
    )
    keys = daily_partitions.get_partition_keys()
    bounds = (date.fromisoformat(keys[0]), date.fromisoformat(keys[-1]))
    previous = json.loads(context.cursor) if context.cursor else {}
    requests = spool_run_requests(previous, current, bounds)
    cursor = json.dumps({d.isoformat(): fp for d, fp in sorted(current.items())})
    return dg.SensorResult(run_requests=requests, cursor=cursor)
