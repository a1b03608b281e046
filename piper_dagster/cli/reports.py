"""What a command says about its runs: failed checks, rows per model, the run's UI address, and
the refresh ledger drained (its held-back dates named once, with the fix)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import typer

from piper_dagster.cli.options import MODEL_NAMES, partition_bounds
from piper_dagster.cli.runs import run_assets
from piper_dagster.settings import Settings


def _report_checks(result: Any) -> None:
    """The asset checks of the run that did not pass, with their hint and runbook section."""
    for ev in result.get_asset_check_evaluations():
        if ev.passed:
            continue
        meta = ev.metadata
        status = meta["status"].value if "status" in meta else ev.severity.value
        hint = meta["hint"].value if "hint" in meta else ""
        where = meta["partition"].value if "partition" in meta else ""
        runbook = meta["runbook"].value if "runbook" in meta else ""
        typer.secho(
            f"check {ev.check_name} {status} {where}: {hint} (see {runbook})",
            err=True,
            fg="red" if status == "FAIL" else "yellow",
        )


def run_url(run_id: str) -> str:
    # Imported here: the harness imports Dagster, which `piper --help` should not wait for.
    from piper_dagster.cli.runner import run_url as url

    return url(run_id)


def _materializations(result: Any, asset: str) -> list[Any]:
    """The run's materializations of one asset (of a multi-asset too: not by node name)."""
    return [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None and event.asset_key.to_user_string() == asset
    ]


def _metadata_dates(mats: list[Any], key: str) -> list[str]:
    """The union of a date-list metadata entry over a run's materializations (one per
    partition of a range run, each with the run's metadata): said once, not per partition."""
    days: set[str] = set()
    for mat in mats:
        value = mat.metadata.get(key)
        if value is not None and value.value:
            days.update(value.value)
    return sorted(days)


def report_run(result: Any, node: str, *, url: bool = True) -> None:
    """The spool run's outcome; `url`: end with the run's UI address (else report_models does)."""
    _report_checks(result)
    # Held-back dates are named once, by refresh_waiting (from the refresh ledger).
    mats = _materializations(result, node)
    blocked = _metadata_dates(mats, "blocked_partitions")
    if not result.success:
        if blocked:  # expected: a blocking check did its job; a result, not a crash
            typer.secho(
                f"run {result.run_id} stopped by a blocking check on spool partitions"
                f" {', '.join(blocked)}: {run_url(result.run_id)}",
                err=True,
                fg="red",
            )
        else:
            typer.secho(
                f"run {result.run_id} failed: see the Dagster UI {run_url(result.run_id)}",
                err=True,
                fg="red",
            )
        raise typer.Exit(1)
    if mats:
        meta = mats[0].metadata
        keys = ("files_read", "lines", "events", "duplicates", "invalid", "skewed", "seconds")
        typer.echo(
            f"run {result.run_id}: " + ", ".join(f"{k} {meta[k].value}" for k in keys if k in meta)
        )
        if "invalid_by_reason" in meta and meta["invalid_by_reason"].value:
            typer.echo(f"  invalid by reason: {json.dumps(meta['invalid_by_reason'].value)}")
    if url:
        typer.echo(f"  {run_url(result.run_id)}")


def report_models(result: Any, names: list[str]) -> None:
    """The models run's outcome: rows per model and the run's UI address (exit 1 if it failed)."""
    if not result.success:
        typer.secho(
            f"run {result.run_id} failed: see the Dagster UI {run_url(result.run_id)}",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)
    for name in names:
        mats = _materializations(result, name)
        if mats:
            typer.echo(f"  {name:<32}{mats[0].metadata['rows'].value:>9} rows")
    typer.echo(f"  {run_url(result.run_id)}")


def dates_text(dates: list[date]) -> str:
    """Dates for a line of text: each one when few, else contiguous ranges."""
    from piper_dagster.refresh_ledger import contiguous_ranges

    if len(dates) <= 7:
        return ", ".join(d.isoformat() for d in sorted(dates))
    return ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in contiguous_ranges(set(dates)))


def refresh_waiting(settings: Settings) -> None:
    """Drain the refresh ledger: one Dagster run of every silver and gold model per contiguous
    range of waiting event dates (shown in the UI like the sensor's); held-back dates are named
    once, with the fix, and left for an operator (docs/runbook.md#refresh-backlog)."""
    from piper_dagster.refresh_ledger import drain_ranges, read_backlog
    from piper_dagster.warehouse import connect

    if not settings.warehouse_path.exists():
        return
    with connect(settings.warehouse_path, read_only=True) as con:
        backlog = read_backlog(con)
    held = [d.event_date for d in backlog.held_back]
    if held:
        spool = sorted({s for d in backlog.held_back for s in d.blocked_spool_dates})
        typer.secho(
            f"silver and gold held back for event dates {dates_text(held)} (events from spool"
            f" partitions {dates_text(spool)}, whose invalid_rate check failed): fix the cause"
            " and `piper quarantine replay`, or rebuild them as they are with"
            f" `piper materialize --start {min(held)} --end {max(held)}`"
            " (docs/runbook.md#invalid-rate)",
            err=True,
            fg="red",
        )
    lo, hi = partition_bounds()
    outside = [d.event_date for d in backlog.to_refresh if not lo <= d.event_date <= hi]
    if outside:
        typer.secho(
            f"warning: event dates {dates_text(outside)} are outside the partitions {lo}..{hi}"
            " and cannot be refreshed (ingest.start_date)",
            err=True,
            fg=typer.colors.YELLOW,
        )
    for waiting in drain_ranges(backlog, lo, hi):
        typer.echo(f"refreshing silver and gold for {waiting.first}..{waiting.last}")
        report_models(run_assets(settings, MODEL_NAMES, waiting.first, waiting.last), MODEL_NAMES)
