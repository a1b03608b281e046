"""Asset checks of spool_events: volume, invalid rate, clock skew and the refresh backlog with every
materialization (check_specs + MaterializeResult, stable in Dagster 1.13), freshness (and the
refresh backlog again) on a schedule.

The checks are the plain functions of piper_dagster.checks; this module only turns their outcomes
into Dagster check results and records them in pipeline_check_results (for Grafana). A range run
evaluates, and records, every partition in it; its Dagster result is the worst partition, with
the others in the metadata.

Blocking (docs/design.md): only invalid_rate blocks, and only on FAIL. Past that rate the
emitters write what the contract rejects, and silver/gold built from what is left would
under-count without anyone noticing; an operator fixes the emitter or the contract, replays the
quarantine, and refreshes. Volume, clock skew and freshness describe the data, not a reason to
hide it: a quiet holiday is real, skewed events are kept and flagged by the contract itself.
"""

import json
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from piper_dagster.alerts import deliver_quietly, pending
from piper_dagster.checks import (
    BLOCKING_CHECKS,
    CHECKS,
    FRESHNESS,
    PARTITION_CHECKS,
    REFRESH_BACKLOG,
    VOLUME,
    CheckOutcome,
    Status,
    evaluate,
    record,
    worst,
)
from piper_dagster.defs.keys import FRESHNESS_JOB, FRESHNESS_SCHEDULE, POOL, SPOOL_EVENTS
from piper_dagster.defs.resources import PiperResource
from piper_dagster.serving import publish_from
from piper_dagster.settings import Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect

# Evaluated with every spool run: the partition checks, and the refresh backlog (whole asset;
# also evaluated with the freshness check, so it is seen when nothing arrives).
SPOOL_RUN_CHECKS: tuple[str, ...] = (*PARTITION_CHECKS, REFRESH_BACKLOG)


def _runbook(name: str, url: str) -> dg.MetadataValue:
    """The check's runbook section: a link when the runbook has a web address (checks.runbook_url)."""
    where = CHECKS[name].runbook_at(url)
    return dg.MetadataValue.url(where) if url else dg.MetadataValue.path(where)


def _description(name: str, url: str) -> str:
    return f"{CHECKS[name].description} Runbook: {_runbook(name, url).value}"


def spool_check_specs(settings: Settings) -> list[dg.AssetCheckSpec]:
    """The checks every spool run evaluates, declared with the asset."""
    url = settings.checks.runbook_url
    return [
        dg.AssetCheckSpec(
            name,
            asset=SPOOL_EVENTS,
            description=_description(name, url),
            blocking=name in BLOCKING_CHECKS,
            metadata={"runbook": _runbook(name, url)},
        )
        for name in SPOOL_RUN_CHECKS
    ]


def run_checks(
    settings: Settings,
    checks: tuple[str, ...],
    first: date,
    last: date,
    *,
    run_id: str | None,
    now: datetime | None = None,
) -> list[CheckOutcome]:
    """Evaluate `checks` for the spool partitions first..last and record them (read-write)."""
    now = now or datetime.now(UTC)
    with connect(settings.warehouse_path) as con:
        outcomes = evaluate(con, settings.checks, first, last, checks=checks, now=now)
        record(
            con, outcomes, asset=SPOOL_EVENTS, evaluated_at=now, run_id=run_id, settings=settings
        )
        # Grafana shows check outcomes and quarantine too: an ingest that only quarantined lines
        # (no gold run follows) and the freshness schedule must reach it as well.
        publish_from(con, settings)
        undelivered = pending(con)
    if undelivered:
        # After the commit, outside the connection; bounded, and never raising into the run.
        deliver_quietly(settings)
    return outcomes


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _badness(o: CheckOutcome) -> float:
    # Among outcomes of the same status, the furthest past its threshold is the one to show.
    if o.value is None:
        return float("-inf")
    return -o.value if o.check == VOLUME else o.value


def check_result(name: str, outcomes: list[CheckOutcome], runbook_url: str) -> dg.AssetCheckResult:
    """One Dagster result for check `name`: the worst outcome, the others in the metadata."""
    mine = [o for o in outcomes if o.check == name]
    status = worst([o.status for o in mine])
    top = max(mine, key=lambda o: (o.status.rank, _badness(o)), default=None)
    metadata: dict[str, Any] = {
        "status": str(status),
        "runbook": _runbook(name, runbook_url),
        "evaluated": len(mine),
        "warn_count": sum(o.status == Status.WARN for o in mine),
        "fail_count": sum(o.status == Status.FAIL for o in mine),
        # Partitions (scopes) the check could not judge: too little data (docs/design.md).
        "skip_count": sum(o.status == Status.SKIP for o in mine),
    }
    if top is not None:
        metadata["warn_threshold"] = dg.MetadataValue.float(top.warn)
        metadata["fail_threshold"] = dg.MetadataValue.float(top.fail)
        metadata["hint"] = top.hint
        metadata["scope"] = top.scope
        if top.partition_date:
            metadata["partition"] = top.partition_date.isoformat()
        if top.value is not None:
            metadata["value"] = dg.MetadataValue.float(top.value)  # plotted over time
        metadata["detail"] = dg.MetadataValue.json(_jsonable(top.detail))
    # Per scope (source family), the worst value: one plottable series per family.
    scopes = sorted({o.scope for o in mine} - {"all"})
    for scope in scopes:
        values = [o.value for o in mine if o.scope == scope and o.value is not None]
        if values:
            pick = min(values) if name == VOLUME else max(values)
            metadata[f"value_{scope}"] = dg.MetadataValue.float(pick)
    # The partitions that did not pass (a range run evaluates each of them), and those the check
    # could not judge, with why.
    flagged = {
        f"{o.partition_date or 'asset'} {o.scope}": {"status": str(o.status), "value": o.value}
        for o in mine
        if not o.status.passed
    }
    if flagged:
        metadata["not_passed"] = dg.MetadataValue.json(_jsonable(flagged))
    skipped = {
        f"{o.partition_date or 'asset'} {o.scope}": o.hint for o in mine if o.status == Status.SKIP
    }
    if skipped:
        metadata["not_judged"] = dg.MetadataValue.json(skipped)
    description = top.hint if top is not None else None
    if status == Status.SKIP and top is not None:
        # Dagster 1.13 has no skipped check *result* (SKIPPED is a check that did not run): a
        # SKIP passes, and says so (metadata status "SKIP"), with why.
        description = f"SKIP, not judged: {top.hint}"
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=SPOOL_EVENTS,
        passed=status.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if status == Status.FAIL
        else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


def blocked_partitions(outcomes: list[CheckOutcome]) -> list[date]:
    """The spool partitions a blocking check failed: silver/gold must not be built from them."""
    return sorted(
        {
            o.partition_date
            for o in outcomes
            if o.check in BLOCKING_CHECKS and o.status == Status.FAIL and o.partition_date
        }
    )


def held_back_event_dates(
    settings: Settings, spool_dates: list[date], event_dates: list[date]
) -> list[date]:
    """Of a run's `event_dates`, those with events from the blocked `spool_dates`."""
    if not spool_dates or not event_dates:
        return []
    params = {"spool_dates": spool_dates, "event_dates": event_dates}
    with connect(settings.warehouse_path) as con:
        rows = con.execute(load_sql("checks/held_back_event_dates"), params).fetchall()
    return [r[0] for r in rows]


def build_freshness(
    settings: Settings,
) -> tuple[dg.AssetChecksDefinition, UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    """The freshness check of spool_events, its job and its schedule (checks.freshness_cron)."""
    url = settings.checks.runbook_url

    @dg.asset_check(
        asset=SPOOL_EVENTS,
        name=FRESHNESS,
        description=_description(FRESHNESS, url),
        pool=POOL,  # records its outcome in the warehouse
        metadata={"runbook": _runbook(FRESHNESS, url)},
    )
    def freshness_check(
        context: dg.AssetCheckExecutionContext, piper: PiperResource
    ) -> dg.AssetCheckResult:
        """Age of the newest event of each source family, evaluated on a schedule."""
        current = piper.settings()
        today = datetime.now(UTC).date()
        outcomes = run_checks(
            current, (FRESHNESS, REFRESH_BACKLOG), today, today, run_id=context.run.run_id
        )
        # The refresh backlog is a check of spool_events declared with the asset (evaluated by
        # every spool run); reported here too, as an evaluation event, so it ages visibly
        # between runs.
        backlog = check_result(REFRESH_BACKLOG, outcomes, current.checks.runbook_url)
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(SPOOL_EVENTS),
                check_name=REFRESH_BACKLOG,
                passed=backlog.passed,
                metadata=backlog.metadata,
                severity=backlog.severity,
                description=backlog.description,
            )
        )
        return check_result(FRESHNESS, outcomes, current.checks.runbook_url)

    job = dg.define_asset_job(
        FRESHNESS_JOB,
        selection=dg.AssetSelection.checks(freshness_check),
        description="The freshness check alone: staleness is seen even when nothing arrives.",
    )
    schedule = dg.ScheduleDefinition(
        name=FRESHNESS_SCHEDULE,
        job=job,
        cron_schedule=settings.checks.freshness_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs the freshness check of {SPOOL_EVENTS} (checks.freshness_cron).",
    )
    return freshness_check, job, schedule
