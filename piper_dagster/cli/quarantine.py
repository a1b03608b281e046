"""`piper quarantine replay`: quarantined lines re-validated with the current contract."""

from __future__ import annotations

from typing import Annotated

import typer

from piper_dagster.cli.options import DATE, parse_day
from piper_dagster.cli.reports import refresh_waiting
from piper_dagster.cli.root import clear_errors
from piper_dagster.contract import Reason
from piper_dagster.ingest.counters import UNPROCESSABLE
from piper_dagster.settings import ConfigError, load_settings

quarantine_app = typer.Typer(help="Quarantined lines (contract §5).", no_args_is_help=True)
# The contract's reasons, and piper's own (a line DuckDB could not classify).
REASONS = [*(r.value for r in Reason), UNPROCESSABLE]


@quarantine_app.command("replay")
@clear_errors
def quarantine_replay(
    reason: Annotated[
        str,
        typer.Option(
            metavar="REASON",
            help="Only lines quarantined for this reason: " + ", ".join(REASONS) + ".",
        ),
    ] = "",
    since: Annotated[str, typer.Option(metavar=DATE, help="Only spool dates from this one.")] = "",
    dry_run: Annotated[bool, typer.Option(help="Count what would pass, change nothing.")] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="Then rebuild silver and gold for the touched event dates (the refresh ledger).",
        ),
    ] = True,
) -> None:
    """Re-validate quarantined lines with the current contract; ingest those that pass, once."""
    from piper_dagster.quarantine import replay
    from piper_dagster.refresh_ledger import contiguous_ranges

    if reason and reason not in REASONS:
        raise ConfigError(f"unknown reason {reason!r}; choose from {', '.join(REASONS)}")
    settings = load_settings()
    result = replay(
        settings,
        reason=reason or None,
        since=parse_day(since, "--since") if since else None,
        dry_run=dry_run,
    )
    typer.echo(
        f"{'dry run: ' if dry_run else ''}{result.replayed} quarantined lines re-validated:"
        f" {result.events} events ingested, {result.duplicates} duplicates,"
        f" {sum(result.still_invalid.values())} still invalid"
        + (f" ({result.reclassified} under another reason)" if result.reclassified else "")
    )
    for r, n in sorted(result.still_invalid.items()):
        typer.echo(f"  {r:<28}{n:>7}")
    if result.exported:
        typer.echo(f"exported {result.exported}")
    if dry_run:
        return
    if result.spool_dates:
        # The replay changed these partitions' invalid rate: evaluate the checks again, so a
        # replay that fixes a blocked partition releases its held-back dates.
        from piper_dagster.checks import PARTITION_CHECKS
        from piper_dagster.defs.checks import run_checks

        for first, last in contiguous_ranges(set(result.spool_dates)):
            run_checks(settings, PARTITION_CHECKS, first, last, run_id=None)
    if refresh:
        refresh_waiting(settings)
        return
    ranges = contiguous_ranges(set(result.event_dates))
    if ranges:
        typer.echo("silver and gold need a refresh for these event dates:")
        for first, last in ranges:
            typer.echo(f"  piper materialize --start {first} --end {last}")
