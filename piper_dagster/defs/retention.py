"""Retention in Dagster: the finished routine runs `piper prune` deletes, the guard that no other
run is active while the warehouse is pruned, and the daily prune job and schedule.

Dagster 1.13 purges sensor and schedule ticks itself (`retention:` in deploy/dagster*.yaml) but
keeps every run forever. A run deleted with `instance.delete_run` takes its event log with it:
its materializations and check evaluations leave the asset's history. So only *routine* runs go
(launched by piper's sensors and schedules, not by an operator's command), only finished ones,
older than `retention.dagster_run_days`, and never
- the newest finished run of each job (what the Runs page and the schedule's page show last);
- a run holding the latest materialization of an asset partition: the UI's partition status
  (materialized, and its last run) is computed from these events, and stays whole.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES, NOT_FINISHED_STATUSES
from dagster._core.storage.tags import SCHEDULE_NAME_TAG, SENSOR_NAME_TAG

from piper_dagster.defs.keys import (
    COMMAND_TAG,
    POOL,
    PRUNE_JOB,
    PRUNE_SCHEDULE,
    REFRESH_SENSOR,
    SPOOL_SENSOR,
)
from piper_dagster.defs.resources import RESOURCE_KEY, PiperResource
from piper_dagster.retention import StoreResult, check_settings, prune_stores
from piper_dagster.settings import Settings
from piper_dagster.warehouse import WaitTimeout, connect

ROUTINE_SENSORS = (SPOOL_SENSOR, REFRESH_SENSOR)
ROUTINE_SCHEDULES = (PRUNE_SCHEDULE,)
POLL_SECONDS = 1.0


@dataclass
class PruneReport:
    dry_run: bool
    stores: list[StoreResult] = field(default_factory=list)
    skipped: str | None = None  # why the warehouse was not pruned (another run was active)

    def lines(self) -> list[str]:
        out = [s.line(self.dry_run) for s in self.stores]
        if self.skipped:
            out.append(f"warehouse and files skipped: {self.skipped}")
        return out


def _routine_records(instance: dg.DagsterInstance, before: datetime) -> list[dg.RunRecord]:
    found: dict[str, dg.RunRecord] = {}
    for tag, names in ((SENSOR_NAME_TAG, ROUTINE_SENSORS), (SCHEDULE_NAME_TAG, ROUTINE_SCHEDULES)):
        for record in instance.get_run_records(
            filters=dg.RunsFilter(
                statuses=FINISHED_STATUSES, updated_before=before, tags={tag: list(names)}
            )
        ):
            found[record.dagster_run.run_id] = record
    return sorted(found.values(), key=lambda r: r.create_timestamp)


class _LatestMaterializations:
    """The run of the latest materialization of each asset partition, asked once per partition.

    By run id, not storage id: the SQLite event log numbers a run's events in its own shard and
    in the index differently."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.runs: dict[tuple[dg.AssetKey, str | None], str | None] = {}

    def run_of(self, key: dg.AssetKey, partition: str | None) -> str | None:
        if (key, partition) not in self.runs:
            records = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=key, asset_partitions=[partition] if partition else None
                ),
                limit=1,
            ).records
            self.runs[(key, partition)] = records[0].run_id if records else None
        return self.runs[(key, partition)]


def _holds_latest(
    instance: dg.DagsterInstance, run_id: str, latest: _LatestMaterializations
) -> bool:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key is None:
            continue
        if latest.run_of(event.asset_key, event.partition) == run_id:
            return True
    return False


def prune_runs(
    instance: dg.DagsterInstance, settings: Settings, *, dry_run: bool, now: datetime
) -> StoreResult:
    """Delete (or count) the finished routine runs older than retention.dagster_run_days."""
    result = StoreResult("dagster runs")
    days = settings.retention.dagster_run_days
    if not days:
        result.note, result.off = "kept forever (0)", True
        return result
    records = _routine_records(instance, now - timedelta(days=days))
    newest: dict[str, str] = {}
    for job in {r.dagster_run.job_name for r in records}:
        (last,) = instance.get_run_records(
            filters=dg.RunsFilter(job_name=job, statuses=FINISHED_STATUSES), limit=1
        ) or (None,)
        if last is not None:
            newest[job] = last.dagster_run.run_id
    latest = _LatestMaterializations(instance)
    kept = 0
    for record in records:
        run = record.dagster_run
        if (
            newest.get(run.job_name) == run.run_id
            or COMMAND_TAG in run.tags  # an operator's command, whatever launched it
            or _holds_latest(instance, run.run_id, latest)
        ):
            kept += 1
            continue
        if not dry_run:
            instance.delete_run(run.run_id)
        result.rows += 1
    result.note = (
        f"finished runs of piper's sensors and schedules older than {days} days;"
        f" {kept} of them kept (newest of a job, latest materializations, commands)"
    )
    return result


def active_runs(instance: dg.DagsterInstance, own_run_id: str | None) -> list[dg.DagsterRun]:
    """Runs queued, starting, started or canceling, other than `own_run_id`."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=NOT_FINISHED_STATUSES))
    return [r.dagster_run for r in records if r.dagster_run.run_id != own_run_id]


def _describe(run: dg.DagsterRun) -> str:
    return f"run {run.run_id} ({run.job_name}, {run.status.value})"


def prune_all(
    instance: dg.DagsterInstance,
    settings: Settings,
    *,
    dry_run: bool,
    own_run_id: str | None = None,
    wait_seconds: float = 0.0,
    now: datetime | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> PruneReport:
    """The Dagster runs, then the warehouse and its files while no other run is active.

    The write connection is opened first, then the instance is asked for active runs: a run that
    starts after the question waits for the warehouse lock until the prune is over. While another
    run is active, the prune waits (bounded by `wait_seconds`, saying so), then skips the
    warehouse and says why."""
    check_settings(settings)
    now = now or datetime.now(UTC)
    report = PruneReport(dry_run)
    report.stores.append(prune_runs(instance, settings, dry_run=dry_run, now=now))
    if not settings.warehouse_path.exists():
        report.stores.append(
            StoreResult("warehouse", note="none yet (piper init): nothing to prune", off=True)
        )
        return report
    started = time.monotonic()
    said = False
    while True:
        busy: list[dg.DagsterRun] = []
        try:
            with connect(settings.warehouse_path, create=False) as con:
                busy = active_runs(instance, own_run_id)
                if not busy:
                    report.stores += prune_stores(con, settings, dry_run=dry_run, now=now)
                    return report
        except WaitTimeout as exc:
            report.skipped = str(exc)
            return report
        waited = time.monotonic() - started
        what = ", ".join(_describe(r) for r in busy[:3])
        if waited >= wait_seconds:
            report.skipped = f"{what} is active (never pruned under a running run; run it later)"
            return report
        if not said:
            say(f"waiting for {what} to finish; giving up after {wait_seconds:.0f} s")
            said = True
        time.sleep(POLL_SECONDS)


def build_prune(
    settings: Settings, piper: PiperResource
) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """The prune job (one op, in the `duckdb` pool) and its daily schedule (retention.prune_cron)."""

    @dg.op(name="prune", pool=POOL)
    def prune_op(context: dg.OpExecutionContext, piper: PiperResource) -> dg.Output[None]:
        """Deletes what [retention] lets go: old routine runs, warehouse history, files."""
        current = piper.settings()
        # Holding the pool slot: waiting for a run that waits for the slot would only time out.
        report = prune_all(
            context.instance, current, dry_run=False, own_run_id=context.run_id, wait_seconds=0
        )
        for line in report.lines():
            context.log.info(line)
        metadata: dict[str, dg.RawMetadataValue] = {
            s.store: s.rows if not s.files else s.files for s in report.stores
        }
        if report.skipped:
            metadata["skipped"] = report.skipped
        return dg.Output(None, metadata=metadata)

    @dg.job(
        name=PRUNE_JOB,
        description="piper prune: deletes what [retention] lets go.",
        resource_defs={RESOURCE_KEY: piper},
    )
    def prune_job() -> None:
        prune_op()

    schedule = dg.ScheduleDefinition(
        name=PRUNE_SCHEDULE,
        job=prune_job,
        cron_schedule=settings.retention.prune_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Runs piper prune daily (retention.prune_cron).",
    )
    return prune_job, schedule
