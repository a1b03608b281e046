"""`piper demo`: a sample spool through every asset, a summary, then the Dagster UI on it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from piper_dagster.cli.options import MODEL_NAMES, partition_bounds
from piper_dagster.cli.reports import refresh_waiting, report_models, report_run
from piper_dagster.cli.root import PLANNED_EVENTS_ENV, clear_errors
from piper_dagster.cli.runs import run_assets
from piper_dagster.generate.options import DAMAGE_KINDS
from piper_dagster.models import GOLD_MODELS
from piper_dagster.settings import PROJECT_ROOT, Settings, load_settings

DEMO_DAMAGE_RATE = 0.002


@clear_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo lives.")] = Path(
        "var/demo"
    ),
    days: Annotated[
        int, typer.Option(min=1, help="Days of sample telemetry, up to yesterday.")
    ] = 7,
    ui: Annotated[bool, typer.Option(help="Start the Dagster UI at the end.")] = True,
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
) -> None:
    """Sample spool -> every asset -> summary -> the Dagster UI on it."""
    from piper_dagster.generate.options import GenerateOptions
    from piper_dagster.generate.sample_spool import generate_spool

    directory = directory.absolute()
    spool, data = directory / "spool", directory / "data"
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(spool)
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(data)
    os.environ.setdefault("DAGSTER_HOME", str(data / "dagster"))
    settings = load_settings()
    # The days up to yesterday: realistic mtimes of today's files would lie in the future.
    first = date.today() - timedelta(days=days)
    if not spool.exists():
        typer.echo(f"generating a {days}-day sample spool in {spool} ...")
        summary = generate_spool(
            spool,
            # Every kind of damage at a realistic rate: the invalid-rate check warns without
            # blocking gold (docs/runbook.md); one host with a wrong clock.
            GenerateOptions(
                start=first,
                days=days,
                damage=frozenset(DAMAGE_KINDS),
                damage_rate=DEMO_DAMAGE_RATE,
                skewed_hosts=1,
            ),
        )
        typer.echo(f"  {summary.files} files, {summary.lines} lines, {summary.valid_events} events")
    else:
        _say_reused(directory, spool, data)
    settings.require_data_root()
    lo, hi = partition_bounds()
    # One run: the spool dates of the sample (and the day before, for sessions across
    # midnight), then every silver and gold model for the same dates. Not today: the sample
    # has no data for it, and the volume check would rightly call an empty day a drop.
    yesterday = date.today() - timedelta(days=1)
    result = run_assets(
        settings,
        ["spool_events", *MODEL_NAMES],
        max(lo, first - timedelta(days=1)),
        min(hi, yesterday),
    )
    try:
        report_run(result, "spool_events", url=False)
        report_models(result, MODEL_NAMES)
    except typer.Exit:
        refresh_waiting(settings)  # names the held-back dates, refreshes the others
        raise
    _print_summary(settings)
    _print_grafana(settings, spool, data)
    if ui:
        typer.echo(f"\nDagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
        # The root callback set PLANNED_EVENTS_ENV: stated again, as runs launched from the UI
        # are created in these processes.
        env = {**os.environ, **PLANNED_EVENTS_ENV}
        from piper_dagster.dagster_home import WORKSPACE_YAML

        cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE_YAML), "-p", str(port)]
        subprocess.run(cmd, env=env, check=False)


def _say_reused(directory: Path, spool: Path, data: Path) -> None:
    """A second demo reads the spool it generated before: say so, and which data it is."""
    files = sorted(spool.rglob("*.jsonl"))
    dates = sorted({f.name[:10] for f in files})
    span = f", spool dates {dates[0]}..{dates[-1]}" if dates else ""
    typer.echo(f"reusing the sample spool in {spool} ({len(files)} files{span})")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    if dates and dates[-1] < yesterday:  # made days ago: the days since stay empty
        typer.echo(f"  it ends on {dates[-1]}: the days up to {yesterday} have no sample data")
    if data.exists():
        # Ingest is exactly-once: files already read are not read again.
        typer.echo(f"reusing the demo data in {data} (what was read before is not read again)")
    typer.echo(f"  (remove {directory} for a fresh demo)")


def _print_grafana(settings: Settings, spool: Path, data: Path) -> None:
    """Where Grafana reads from (the gold run published it), and how to start it."""
    from piper_dagster.dagster_home import DAGSTER_URL
    from piper_dagster.grafana.deployment import GRAFANA_URL
    from piper_dagster.serving import SERVED, current_version

    serving = settings.serving_dir
    typer.echo(
        f"\nGrafana reads the serving layer {serving / 'current'} "
        f"(version {current_version(serving)}: {len(SERVED)} Parquet tables), never the warehouse."
    )
    typer.echo("Grafana and Dagster in Docker on this data (choose the two passwords):")
    typer.echo(
        f"  cd {PROJECT_ROOT} && \\\n"  # where docker-compose.yml is
        f"  PIPER_RAW_ROOT={spool} PIPER_DATA_ROOT={data} \\\n"
        "  GRAFANA_ADMIN_PASSWORD=... DAGSTER_PG_PASSWORD=... docker compose up -d --build"
    )
    typer.echo(
        f"  then Grafana on {GRAFANA_URL} (anonymous viewer), the Dagster UI on {DAGSTER_URL}"
    )


def _print_summary(settings: Settings) -> None:
    from piper_dagster.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        typer.echo("\nsilver_events by event_date:")
        for d, n, skewed in con.execute(
            "SELECT event_date, count(*), count(*) FILTER (clock_skewed) FROM silver_events"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall():
            typer.echo(f"  {d}  {n:>7} events  {skewed:>4} skewed")
        typer.echo("quarantine by reason:")
        for reason, n in con.execute(
            "SELECT reason, count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            typer.echo(f"  {reason:<28}{n:>6}")
        for model in GOLD_MODELS:
            typer.echo(f"\n{model.name} (latest rows):")
            rel = con.sql(f"SELECT * FROM {model.name} ORDER BY {model.key} DESC LIMIT 4")
            typer.echo(str(rel))
