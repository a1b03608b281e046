"""The spool asset: one daily partition per spool date, ingested into silver_events."""

import dagster as dg

from piper_dagster.defs.checks import (
    SPOOL_RUN_CHECKS,
    blocked_partitions,
    check_result,
    held_back_event_dates,
    run_checks,
    spool_check_specs,
)
from piper_dagster.defs.execution import report_progress
from piper_dagster.defs.keys import PID_TAG, POOL, SPOOL_EVENTS
from piper_dagster.defs.partitions import daily_partitions, partition_dates
from piper_dagster.defs.resources import PiperResource
from piper_dagster.defs.runs import process_tags
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings


class SpoolIngestConfig(dg.Config):
    """Run options of the spool ingest."""

    limit: int | None = None  # read at most this many files (oldest spool dates first)
    reread: bool = False  # read the selected files again from byte 0 (dedupe keeps it exact)


def build_spool_asset(settings: Settings) -> dg.AssetsDefinition:
    """The spool asset over the configured partitions, with the checks of every spool run."""

    @dg.asset(
        name=SPOOL_EVENTS,
        partitions_def=daily_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=POOL,
        kinds={"duckdb"},
        group_name="spool",
        metadata={"tables": "silver_events, quarantine, spool_files"},
        check_specs=spool_check_specs(settings),
    )
    def spool_events(
        context: dg.AssetExecutionContext, config: SpoolIngestConfig, piper: PiperResource
    ) -> dg.MaterializeResult:
        """Spool JSONL of a spool date, validated, deduped into silver_events, the rest quarantined."""
        first, last = partition_dates(context)
        if PID_TAG not in context.run.tags:
            # A run launched by the daemon or the UI: its process named, as the CLI's runs are,
            # so that a piper command can tell at once whether it died (defs/runs.py).
            context.instance.add_run_tags(context.run.run_id, process_tags())
        current = piper.settings()
        result = ingest(
            current,
            dates=(first, last),
            run_id=context.run.run_id,
            limit=config.limit,
            reread=config.reread,
            on_progress=context.log.info,
            on_warning=context.log.warning,  # skipped spool entries, in the run's log
            on_batch=report_progress,  # the piper command running this run draws its bar from it
        )
        for anomaly in result.anomalies:
            context.log.warning(f"spool anomaly: {anomaly}")
        meta = result.metadata()
        meta["invalid_by_reason"] = dg.MetadataValue.json(meta["invalid_by_reason"])
        meta["anomalies"] = dg.MetadataValue.json(meta["anomalies"])
        meta["event_dates"] = dg.MetadataValue.json(meta["event_dates"])
        meta["refresh_pending"] = dg.MetadataValue.json(meta["refresh_pending"])
        # Every partition of the run is evaluated (and recorded), after the data is committed.
        outcomes = run_checks(current, SPOOL_RUN_CHECKS, first, last, run_id=context.run.run_id)
        # For the CLI and the UI: silver/gold of the event dates that came from a spool partition
        # whose blocking check failed wait for an operator (the refresh ledger keeps them, held
        # back).
        blocked = blocked_partitions(outcomes)
        meta["downstream_blocked"] = bool(blocked)
        meta["blocked_partitions"] = dg.MetadataValue.json([d.isoformat() for d in blocked])
        held_back = held_back_event_dates(
            current, blocked, sorted(result.event_dates | set(result.refresh_pending))
        )
        meta["held_back_event_dates"] = dg.MetadataValue.json([d.isoformat() for d in held_back])
        url = current.checks.runbook_url
        return dg.MaterializeResult(
            metadata=meta,
            check_results=[check_result(name, outcomes, url) for name in SPOOL_RUN_CHECKS],
        )

    return spool_events
