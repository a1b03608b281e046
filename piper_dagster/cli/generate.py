"""The commands that print or write what is generated from the models and the catalog: the
contract's schema and docs, the metrics catalog, the Grafana files, a sample spool."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from piper_dagster.cli.options import DATE, parse_day
from piper_dagster.cli.root import clear_errors
from piper_dagster.generate.options import DAMAGE_KINDS
from piper_dagster.settings import ConfigError

contract_app = typer.Typer(help="The telemetry contract.", no_args_is_help=True)
catalog_app = typer.Typer(
    help="The metrics catalog (piper_dagster/conf/metrics_catalog.yml).", no_args_is_help=True
)
grafana_app = typer.Typer(
    help="Grafana: dashboards and provisioning generated from the catalog.", no_args_is_help=True
)
spool_app = typer.Typer(help="The telemetry spool.", no_args_is_help=True)


# --- contract ------------------------------------------------------------------------------------


@contract_app.command("schema")
def contract_schema() -> None:
    """Print the JSON Schema of a telemetry event, generated from the contract models."""
    from piper_dagster.contract.introspect import event_json_schema

    typer.echo(json.dumps(event_json_schema(), indent=2))


@contract_app.command("docs")
@clear_errors
def contract_docs(
    check: Annotated[
        bool, typer.Option("--check", help="Only tell whether the file is current (exit 1 if not).")
    ] = False,
    path: Annotated[
        Path | None, typer.Option(help="The page to rewrite (default: docs/contract.md).")
    ] = None,
) -> None:
    """Rewrite the generated tables of docs/contract.md from the contract models."""
    from piper_dagster.contract_docs import CONTRACT_DOC, render, stale_blocks

    target = path or CONTRACT_DOC
    if not target.is_file():
        raise ConfigError(f"{target} is missing: give the page with --path")
    stale = stale_blocks(target)
    if check:
        if stale:
            typer.echo(
                f"{target}: generated blocks out of date with the models: {', '.join(stale)};"
                " run `piper contract docs`"
            )
            raise typer.Exit(1)
        typer.echo(f"{target}: up to date with the models")
        return
    target.write_text(render(target.read_text(encoding="utf-8")), encoding="utf-8")
    typer.echo(f"{target}: rewrote {', '.join(stale) if stale else 'nothing (already current)'}")


# --- catalog -------------------------------------------------------------------------------------


@catalog_app.command("list")
@clear_errors
def catalog_list(
    model: Annotated[str, typer.Option(help="Only the metrics of this gold model.")] = "",
) -> None:
    """The gold metrics: model, column, unit, which direction is good, thresholds."""
    from piper_dagster.catalog import format_table, load_catalog

    entries = [e for e in load_catalog() if not model or e.model == model]
    if not entries:
        raise ConfigError(f"no metric of model {model!r} in the catalog")
    typer.echo(format_table(entries))


# --- grafana -------------------------------------------------------------------------------------


@grafana_app.command("generate")
@clear_errors
def grafana_generate(
    check: Annotated[
        bool, typer.Option(help="Only report files that differ; exit 1 if any.")
    ] = False,
) -> None:
    """Write grafana/dashboards/ and grafana/provisioning/ (datasource, dashboards, alert rules,
    contact point) from the catalog, the checks and the serving layer."""
    from piper_dagster.grafana.generate import stale, write

    if check:
        differ = stale()
        for rel in differ:
            typer.echo(f"out of date: {rel}")
        if differ:
            raise typer.Exit(1)
        typer.echo("grafana files are up to date")
        return
    for rel in write():
        typer.echo(f"wrote {rel}")


# --- spool generate ------------------------------------------------------------------------------


@spool_app.command("generate")
@clear_errors
def spool_generate(
    out: Annotated[Path, typer.Option(help="Spool directory to write (raw_root).")],
    start: Annotated[
        str,
        typer.Option(metavar=DATE, help="First spool date (default: --days days before today)."),
    ] = "",
    days: Annotated[int, typer.Option(min=1, help="Spool dates written.")] = 3,
    artists: Annotated[int, typer.Option(min=1, help="Artists' workstations.")] = 12,
    events_per_artist_day: Annotated[
        int, typer.Option(min=1, help="Events per artist and day.")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Same seed, same spool.")] = 0,
    damage: Annotated[
        str,
        typer.Option(
            metavar="KIND,...",
            help="Comma-separated damage kinds, 'all', or '' for a clean spool. Kinds: "
            + ", ".join(DAMAGE_KINDS)
            + ".",
        ),
    ] = "",
    skewed_hosts: Annotated[
        int, typer.Option(min=0, help="Hosts whose clock is wrong (clock-skewed events).")
    ] = 0,
    damage_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of events damaged, per damage kind.")
    ] = 0.02,
    bulk_events: Annotated[
        int, typer.Option(help="Write this many clean events fast (benchmarks) instead.")
    ] = 0,
    bulk_files: Annotated[int, typer.Option(min=1, help="Files of --bulk-events.")] = 200,
) -> None:
    """Write a realistic, deterministic sample spool (optionally damaged)."""
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.generate.options import GenerateOptions
    from piper_dagster.generate.sample_spool import generate_spool

    # Default: the `days` days up to yesterday, so every file is already settled.
    first = parse_day(start, "--start") if start else date.today() - timedelta(days=days)
    if bulk_events:
        summary = generate_bulk(out, events=bulk_events, files=bulk_files, start=first, seed=seed)
    else:
        kinds = set(DAMAGE_KINDS) if damage == "all" else {k for k in damage.split(",") if k}
        unknown = kinds - set(DAMAGE_KINDS)
        if unknown:
            raise ConfigError(
                f"unknown damage kind(s) {sorted(unknown)}; choose from {', '.join(DAMAGE_KINDS)}"
            )
        options = GenerateOptions(
            start=first,
            days=days,
            artists=artists,
            events_per_artist_day=events_per_artist_day,
            seed=seed,
            damage=frozenset(kinds),
            damage_rate=damage_rate,
            skewed_hosts=skewed_hosts,
        )
        summary = generate_spool(out, options)
    typer.echo(json.dumps(summary.as_dict(), indent=2, default=str))
