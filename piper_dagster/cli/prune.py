"""`piper prune`: delete what `[retention]` lets go, never live work (docs/runbook.md, Retention)."""

from __future__ import annotations

from typing import Annotated

import typer

from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import load_settings
from piper_dagster.warehouse import WaitTimeout


@clear_errors
def prune(
    dry_run: Annotated[
        bool, typer.Option(help="Count what would be deleted, per store; delete nothing.")
    ] = False,
) -> None:
    """Delete old routine Dagster runs, warehouse history and files per [retention]."""
    import dagster as dg

    from piper_dagster.cli.runner import reap_dead
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.defs.retention import prune_all
    from piper_dagster.retention import check_settings

    settings = load_settings()
    check_settings(settings)  # bad settings: one line before anything is opened
    settings.require_data_root()
    ensure_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        reaped = reap_dead(instance, settings)  # a dead run is not an active one
        if reaped:
            typer.echo(f"released the pool slots of {len(reaped)} dead run(s): {', '.join(reaped)}")
        report = prune_all(
            instance,
            settings,
            dry_run=dry_run,
            wait_seconds=settings.dagster.wait_seconds,
            say=typer.echo,
        )
    if dry_run:
        typer.echo("dry run: nothing deleted")
    for line in report.lines():
        typer.echo(line)
    if report.skipped:
        raise WaitTimeout(f"prune skipped the warehouse and its files: {report.skipped}")
