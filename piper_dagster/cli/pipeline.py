"""`piper ingest`, `piper materialize` and `piper backfill`: the commands that run the pipeline."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from piper_dagster.cli.options import DATE, MODEL_NAMES, parse_day, partition_bounds
from piper_dagster.cli.reports import dates_text, refresh_waiting, report_models, report_run
from piper_dagster.cli.root import clear_errors
from piper_dagster.cli.runs import materialize_spool, run_assets
from piper_dagster.settings import ConfigError, Settings, load_settings


@clear_errors
def ingest(
    dry_run: Annotated[bool, typer.Option(help="Show the plan, read nothing.")] = False,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Read at most N files (N >= 1).")
    ] = None,
) -> None:
    """Materialize the spool partitions that have settled new bytes (one Dagster run)."""
    if limit is not None and limit < 1:  # 0 would plan, then read nothing: a mistake
        raise ConfigError(f"--limit {limit}: read at least 1 file (or leave --limit out)")
    from piper_dagster.spool.checkpoint import FileState, load_states
    from piper_dagster.spool.planner import plan_spool
    from piper_dagster.spool.report import issue_lines, record_issues
    from piper_dagster.warehouse import connect

    settings = load_settings()
    settings.require_raw_root()
    settings.require_data_root()

    def states() -> dict[str, FileState]:
        with connect(settings.warehouse_path) as con:
            return load_states(con)

    plan = plan_spool(settings, states)
    typer.echo(f"plan: {plan.summary()}")
    for line in issue_lines(plan.issues):
        typer.secho(f"warning: {line}", err=True, fg=typer.colors.YELLOW)
    if plan.issues and not dry_run:
        # For the dashboard, even when no run follows (once per entry, kind and day: a run
        # recording them again adds nothing).
        with connect(settings.warehouse_path) as con:
            record_issues(con, plan.issues, None)
    lo, hi = partition_bounds()
    by_date = plan.to_read_by_date(lo, hi)
    dates = list(by_date)
    outside = sorted(set(plan.spool_dates_to_read) - set(dates))
    if outside:
        typer.secho(
            f"warning: spool dates outside the partitions {lo}..{hi} are not ingested: "
            + ", ".join(d.isoformat() for d in outside),
            err=True,
            fg=typer.colors.YELLOW,
        )
    for d, files in by_date.items():
        typer.echo(f"  {d}  {len(files)} files to read")
    if dry_run:
        if not dates:
            typer.echo("nothing to ingest")
        return
    if not dates:
        typer.echo("nothing to ingest")
        # What a dead run, a full disk or a failed refresh left behind is still finished: the
        # derived files (export_pending) and the refresh ledger.
        finish_exports(settings)
        refresh_waiting(settings)
        return
    config = {"limit": limit} if limit is not None else {}
    result = materialize_spool(settings, dates[0], dates[-1], **config)
    try:
        report_run(result, "spool_events")
    except typer.Exit:
        # A failed run too: the batches it committed are in the ledger (not on Ctrl-C).
        refresh_waiting(settings)
        raise
    refresh_waiting(settings)


def finish_exports(settings: Settings) -> None:
    """Rewrite the derived files (Parquet, quarantine JSONL) an earlier run left pending, and
    remove its staging: a run does it at its end, this is for when no run is needed."""
    from piper_dagster.ingest.export import export_pending
    from piper_dagster.warehouse import connect, use_privacy

    if not settings.warehouse_path.exists():
        return
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        done = export_pending(con, settings)
    if done:
        typer.echo(f"exported what an earlier run left pending: {done}")


def _date_range(start: str, end: str, settings: Settings) -> tuple[date, date]:
    from piper_dagster.warehouse import connect

    lo, hi = partition_bounds()
    if start and end:
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
    else:
        with connect(settings.warehouse_path, read_only=True) as con:
            row = con.execute(
                "SELECT min(event_date), max(event_date) FROM silver_events"
            ).fetchone()
        if row is None or row[0] is None:
            raise ConfigError("the warehouse has no events yet: run `piper ingest` first")
        first = parse_day(start, "--start") if start else row[0]
        last = parse_day(end, "--end") if end else row[1]
    first, last = max(first, lo), min(last, hi)
    if first > last:
        raise ConfigError(f"empty date range (partitions exist from {lo} to {hi})")
    return first, last


@clear_errors
def materialize(
    model: Annotated[str, typer.Option(help=f"One model: {', '.join(MODEL_NAMES)}.")] = "",
    start: Annotated[
        str, typer.Option(metavar=DATE, help="First event date (default: the oldest).")
    ] = "",
    end: Annotated[
        str, typer.Option(metavar=DATE, help="Last event date (default: the newest).")
    ] = "",
) -> None:
    """Rebuild silver and gold (or one model) for a range of event dates, in one Dagster run."""
    settings = load_settings()
    if model and model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(MODEL_NAMES)}")
    first, last = _date_range(start, end, settings)
    selection = [model] if model else MODEL_NAMES
    problems = _upstream_problems(settings, selection, first, last)
    if problems:
        # Not a success with 0 rows: the inputs are not there (or not current), say which.
        for line in problems:
            typer.secho(f"piper: {line}", err=True, fg="red")
        raise typer.Exit(1)
    typer.echo(f"materializing {len(selection)} models for {first}..{last}")
    result = run_assets(settings, selection, first, last)
    report_models(result, selection)


def _upstream_problems(
    settings: Settings, selection: list[str], first: date, last: date
) -> list[str]:
    """One line per input of the selected models that this run does not build and that is empty,
    or held back (its dates wait in the refresh ledger behind a failed blocking check), for
    first..last, with the fix."""
    import duckdb

    from piper_dagster.models import MODELS
    from piper_dagster.refresh_ledger import read_backlog
    from piper_dagster.warehouse import connect

    everything = f"`piper materialize --start {first} --end {last}` (every silver and gold model)"
    problems = []
    with connect(settings.warehouse_path, read_only=True) as con:
        held = [d for d in read_backlog(con).held_back if first <= d.event_date <= last]
        for name in selection:
            model = MODELS[name]
            start, end = model.window(first, last)
            for dep in model.deps:
                if dep in selection:
                    continue
                if held and dep != "silver_events":
                    dates = [d.event_date for d in held]
                    spool = sorted({s for d in held for s in d.blocked_spool_dates})
                    problems.append(
                        f"{name}: its input {dep} is held back for event dates {dates_text(dates)}"
                        f" (spool partitions {dates_text(spool)} failed invalid_rate): fix the"
                        " cause and `piper quarantine replay`, or rebuild silver and gold as they"
                        f" are with {everything} (docs/runbook.md#invalid-rate)"
                    )
                    continue
                try:
                    row = con.execute(
                        f"SELECT count(*) FROM {dep} WHERE event_date >= ? AND event_date < ?",
                        [start, end],
                    ).fetchone()
                except duckdb.CatalogException:
                    row = (0,)  # never built
                if row is not None and row[0] == 0:
                    fix = (
                        "no event was ingested for these dates: `piper ingest`, or other dates"
                        if dep == "silver_events"
                        else f"build it first with {everything}"
                    )
                    problems.append(
                        f"{name}: its input {dep} has no rows for {start}..{end - timedelta(days=1)}"
                        f": {fix}"
                    )
    return problems


@clear_errors
def backfill(
    start: Annotated[str, typer.Option(metavar=DATE, help="First spool date.")],
    end: Annotated[str, typer.Option(metavar=DATE, help="Last spool date.")],
) -> None:
    """Re-ingest the spool dates start..end from byte 0, then silver and gold, in one run.

    Events and quarantined lines already in the warehouse are recognised and not counted twice.
    """
    settings = load_settings()
    settings.require_raw_root()
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    lo, hi = partition_bounds()
    first, last = max(first, lo), min(last, hi)
    if first > last:
        raise ConfigError(f"empty date range (partitions exist from {lo} to {hi})")
    result = run_assets(settings, ["spool_events", *MODEL_NAMES], first, last, {"reread": True})
    try:
        report_run(result, "spool_events", url=False)
        report_models(result, MODEL_NAMES)
    except typer.Exit:
        refresh_waiting(settings)  # a blocked run's other dates
        raise
    # Event dates outside start..end (late sessions, clock skew) still wait in the ledger.
    refresh_waiting(settings)
