"""Asset checks of spool_events: volume, invalid rate, clock skew and the refresh backlog with every
materialization (check_specs + MaterializeResult, stable in Dagster 1.13), freshness (and the
refresh backlog again) by a sensor that reports them without a run (docs/design.md, "Freshness
without runs").

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
import time
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

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
from piper_dagster.defs.keys import FRESHNESS_SENSOR, POOL, SPOOL_EVENTS
from piper_dagster.defs.resources import PiperResource
from piper_dagster.serving import publish_from
from piper_dagster.settings import ConfigError, Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import WaitTimeout, connect

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
    wait_seconds: float | None = None,
) -> list[CheckOutcome]:
    """Evaluate `checks` for the spool partitions first..last and record them (read-write;
    run_id None: no run, the freshness sensor). A lock held by a run is waited for up to
    `wait_seconds` (default `dagster.wait_seconds`), then WaitTimeout."""
    now = now or datetime.now(UTC)
    with connect(settings.warehouse_path, wait_seconds=wait_seconds) as con:
        outcomes = evaluate(con, settings.checks, first, last, checks=checks, now=now)
        record(
            con, outcomes, asset=SPOOL_EVENTS, evaluated_at=now, run_id=run_id, settings=settings
        )
        # Grafana shows check outcomes and quarantine too: an ingest that only quarantined lines
        # (no gold run follows) and the freshness sensor must reach it as well.
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


def check_evaluation(
    name: str,
    outcomes: list[CheckOutcome],
    runbook_url: str,
    target: AssetCheckEvaluationTargetMaterializationData | None = None,
) -> dg.AssetCheckEvaluation:
    """check_result's verdict as an evaluation event: logged by a run, or reported without one
    (then `target`, the materialization it judged, makes it the UI's current evaluation)."""
    result = check_result(name, outcomes, runbook_url)
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(SPOOL_EVENTS),
        check_name=name,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
        target_materialization_data=target,
    )


def latest_materialization(
    instance: dg.DagsterInstance,
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """spool_events' latest materialization (any partition), None before the first.

    The UI's Checks tab shows an evaluation as current only if it targets the asset's latest
    materialization; without this pointer it compares timestamps, and the execution row's are
    whole seconds (SQLite), so an evaluation right after a run would show as outdated."""
    records = instance.fetch_materializations(dg.AssetKey(SPOOL_EVENTS), limit=1).records
    if not records:
        return None
    latest = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest.storage_id, run_id=latest.run_id, timestamp=latest.timestamp
    )


# The freshness sensor waits this long at most for the warehouse's write lock: a run holding it
# must not hold up the daemon's other sensors (they are evaluated one after the other), and a
# tick has 60 s in all. Runs hold the lock for seconds; a longer hold skips one evaluation.
FRESHNESS_LOCK_WAIT_SECONDS = 5.0


def freshness_tick(
    context: dg.SensorEvaluationContext, piper: PiperResource
) -> dg.SensorResult | dg.SkipReason:
    """One tick of the freshness sensor (a plain function: tests call it with a built context)."""
    started = time.monotonic()
    try:
        settings = piper.settings()
    except ConfigError as exc:
        return dg.SkipReason(str(exc))
    if not settings.warehouse_path.exists():
        return dg.SkipReason(f"no warehouse at {settings.warehouse_path} yet: run `piper init`")
    now = datetime.now(UTC)
    try:
        outcomes = run_checks(
            settings,
            (FRESHNESS, REFRESH_BACKLOG),
            now.date(),
            now.date(),
            run_id=None,
            now=now,
            wait_seconds=FRESHNESS_LOCK_WAIT_SECONDS,
        )
    except WaitTimeout:
        minutes = settings.checks.freshness_interval_minutes
        reason = (
            f"the warehouse is busy (a run is writing it) beyond {FRESHNESS_LOCK_WAIT_SECONDS:.0f} s:"
            f" freshness not evaluated this tick; next tick in {minutes} min"
        )
        context.log.warning(reason)
        return dg.SkipReason(reason)
    url = settings.checks.runbook_url
    # The refresh backlog is a check spec of spool_events (evaluated by every spool run), reported
    # here too so that it ages visibly between runs.
    target = latest_materialization(context.instance)
    events = [
        check_evaluation(name, outcomes, url, target) for name in (FRESHNESS, REFRESH_BACKLOG)
    ]
    verdicts = ", ".join(
        f"{e.check_name} {worst([o.status for o in outcomes if o.check == e.check_name])}"
        for e in events
    )
    said = f"{verdicts} ({time.monotonic() - started:.2f} s, no run)"
    context.log.info(said)
    # A tick that requests no run is "skipped" in Dagster's tick history: its message is the verdict.
    return dg.SensorResult(asset_events=events, skip_reason=f"evaluated without a run: {said}")


def build_freshness(
    settings: Settings, piper: PiperResource
) -> tuple[dg.AssetChecksDefinition, dg.SensorDefinition]:
    """The freshness check of spool_events, and the sensor that evaluates it without a run
    every `checks.freshness_interval_minutes`."""
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
        """Age of the newest event of each source family: evaluated by the freshness sensor
        without a run; executing it here (the UI's Execute) is a run, on demand."""
        current = piper.settings()
        today = datetime.now(UTC).date()
        outcomes = run_checks(
            current, (FRESHNESS, REFRESH_BACKLOG), today, today, run_id=context.run.run_id
        )
        url = current.checks.runbook_url
        context.op_execution_context.log_event(check_evaluation(REFRESH_BACKLOG, outcomes, url))
        return check_result(FRESHNESS, outcomes, url)

    @dg.sensor(
        name=FRESHNESS_SENSOR,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.checks.freshness_interval_minutes * 60,
        description=(
            f"Evaluates the freshness and refresh backlog checks of {SPOOL_EVENTS} and reports"
            " them without a run (checks.freshness_interval_minutes)."
        ),
    )
    def freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        """Freshness and refresh backlog of spool_events, evaluated without a run."""
        return freshness_tick(context, piper)

    return freshness_check, freshness_sensor
