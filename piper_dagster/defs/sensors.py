"""The spool sensor: requests spool runs for the spool dates with settled bytes to read.

A spool run is the ingest_and_refresh job: it reads the spool dates, then refreshes silver and
gold of the same dates, so that the common case (today's file, today's events) reaches gold in
one run, without waiting for the refresh sensor's tick and a second run launch. Events of other
dates wait in the refresh ledger for the refresh sensor, as before; gold's step clears only the
ledger entries it rebuilt. A blocking check that fails fails the spool step, and Dagster skips
silver and gold in that run. A range where the ledger already holds an event date back (events
from a spool date blocked earlier, outside the range) gets the ingest_spool job only: silver and
gold of held-back dates wait for an operator, never for a spool run.

It replaces piper 1.0's `run_ingest.sh` cron. A tick stat()s the spool and compares it with
the files' read state in the warehouse (opened read-only for a moment; a tick that finds a run
writing it simply waits for the next one): a date is requested when one of its settled files
is new, grown or changed. The run_key carries a fingerprint of those files' state (sizes,
mtimes, offsets), so a file appended after its day was ingested triggers again and the same
state never triggers twice, unless the run for that state died (a daemon killed mid-run): after
`dagster.retry_after_seconds` without success the state is requested again, as a new attempt. Reading itself
is exactly-once whatever the sensor does (offsets commit with the data), so a restart can
neither skip a file nor read one twice.

Derived files left behind (export_pending: a run killed or out of disk during its Parquet
export) call for a run too, even with no new byte: a spool run always finishes pending exports.
It is requested for the newest partition (it reads what is new there, if anything), keyed by
the pending rows, so the same leftover is requested once, again only if that run failed.
"""

import hashlib

import dagster as dg
import duckdb
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from piper_dagster.defs.keys import (
    INGEST_AND_REFRESH_JOB,
    INGEST_SPOOL_JOB,
    SPOOL_SENSOR,
    SPOOL_STATE_TAG,
)
from piper_dagster.defs.late_data import next_attempt
from piper_dagster.defs.partitions import partition_bounds, range_tags
from piper_dagster.defs.resources import PiperResource
from piper_dagster.defs.runs import committed_partitions, reap_dead_runs
from piper_dagster.refresh_ledger import Backlog, contiguous_ranges, read_backlog
from piper_dagster.settings import ConfigError, Settings
from piper_dagster.spool.checkpoint import FileState, load_states
from piper_dagster.spool.planner import FilePlan, plan_spool
from piper_dagster.spool.report import issue_lines
from piper_dagster.sql import load_sql


def _fingerprint(plans: list[FilePlan]) -> str:
    rows = sorted(
        f"{p.file.source_file}\0{p.file.size}\0{p.file.mtime_ns}\0"
        f"{p.state.offset_bytes if p.state else -1}"
        for p in plans
    )
    return hashlib.blake2b("\n".join(rows).encode(), digest_size=8).hexdigest()


def spool_tick(
    context: dg.SensorEvaluationContext, piper: PiperResource
) -> dg.SensorResult | dg.SkipReason:
    """One tick of the spool sensor (a plain function: tests call it with a built context)."""
    try:
        settings = piper.settings()
        settings.require_raw_root()
    except ConfigError as exc:
        return dg.SkipReason(str(exc))
    reaped = reap_dead_runs(
        context.instance,
        settings.dagster.retry_after_seconds,
        on_committed=committed_partitions(settings),  # reported materialized, not failed
    )
    for run_id in reaped:
        context.log.warning(f"run {run_id} had died with its process: marked failed")
    states: dict[str, FileState] = {}
    pending: list[tuple[str, object]] = []
    backlog = Backlog()
    if settings.warehouse_path.exists():
        con = piper.peek(settings)
        if con is None:
            return dg.SkipReason("a run is writing the warehouse; next tick")
        try:
            states = load_states(con)
            pending = con.execute(load_sql("ingest/export_waiting")).fetchall()
            backlog = read_backlog(con)
        except duckdb.CatalogException:
            pass  # created but not initialised yet: nothing read so far
        finally:
            con.close()
    plan = plan_spool(settings, lambda: states)
    # Skipped entries never stop a tick; they are named in every tick's log until fixed (the
    # runs record them in spool_anomalies).
    for line in issue_lines(plan.issues, limit=5):
        context.log.warning(line)
    by_date = plan.to_read_by_date(*partition_bounds(settings))
    held_back = {d.event_date for d in backlog.held_back}
    requests = []
    for first, last in contiguous_ranges(set(by_date)):
        plans = [p for d in sorted(by_date) if first <= d <= last for p in by_date[d]]
        state = f"{first}..{last} {_fingerprint(plans)}"
        attempt = next_attempt(
            context.instance, SPOOL_STATE_TAG, state, settings.dagster.retry_after_seconds
        )
        if attempt is not None:
            held = any(first <= d <= last for d in held_back)
            requests.append(
                dg.RunRequest(
                    run_key=f"spool {state} #{attempt}",
                    job_name=INGEST_SPOOL_JOB if held else INGEST_AND_REFRESH_JOB,
                    tags={**range_tags(first, last), SPOOL_STATE_TAG: state},
                )
            )
    if pending and not requests:  # a requested spool run exports them anyway
        newest = partition_bounds(settings)[1]
        digest = hashlib.blake2b(repr(pending).encode(), digest_size=8).hexdigest()
        state = f"export {digest}"
        attempt = next_attempt(
            context.instance, SPOOL_STATE_TAG, state, settings.dagster.retry_after_seconds
        )
        if attempt is not None:
            context.log.info(f"{len(pending)} derived partitions wait for their export")
            requests.append(
                dg.RunRequest(
                    run_key=f"spool {state} #{attempt}",
                    job_name=INGEST_SPOOL_JOB,  # nothing new to read: nothing to refresh
                    tags={**range_tags(newest, newest), SPOOL_STATE_TAG: state},
                )
            )
    if not requests and plan.skipped:
        return dg.SkipReason(
            f"nothing to read; {len(plan.skipped)} spool entries skipped"
            " (`piper ingest --dry-run` names them)"
        )
    return dg.SensorResult(run_requests=requests)


def build_spool_sensor(
    settings: Settings,
    piper: PiperResource,
    jobs: list[UnresolvedAssetJobDefinition],
) -> dg.SensorDefinition:
    """The spool sensor, ticking every `dagster.sensor_interval_seconds`, requesting `jobs`
    (ingest_and_refresh, and ingest_spool for held-back ranges and export-only runs)."""

    @dg.sensor(
        name=SPOOL_SENSOR,
        jobs=jobs,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.dagster.sensor_interval_seconds,
        description="Ingests the spool dates whose settled files are new, grown or changed.",
    )
    def spool_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        return spool_tick(context, piper)

    return spool_sensor
