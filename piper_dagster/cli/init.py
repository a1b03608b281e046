"""`piper init` (data directory, warehouse, instance) and `piper publish` (the serving layer)."""

from __future__ import annotations

from typing import Any

import typer

from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import Settings, load_settings


@clear_errors
def init() -> None:
    """Create the data directory, the warehouse schema and the Dagster instance."""
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.warehouse import connect

    settings = load_settings()
    settings.require_raw_root()
    settings.require_data_root()
    with connect(settings.warehouse_path):
        pass
    home = ensure_dagster_home(settings)
    # Grafana's views need files to read from its first start on, even before any data.
    publication = _publish(settings)
    typer.echo(f"spool      {settings.raw_root}")
    typer.echo(f"warehouse  {settings.warehouse_path}")
    typer.echo(f"serving    {settings.serving_dir / 'current'} (version {publication.version})")
    typer.echo(f"dagster    {home}")


def _publish(settings: Settings) -> Any:
    from piper_dagster.serving import publish

    return publish(settings)


@clear_errors
def publish_cmd() -> None:
    """Publish the serving layer Grafana reads (done after every gold run; this forces one)."""
    settings = load_settings()
    publication = _publish(settings)
    typer.echo(f"published {publication.version} in {publication.seconds:.2f} s:")
    for table, rows in publication.rows.items():
        typer.echo(f"  {table:<32}{rows:>9} rows")
    typer.echo(f"Grafana reads {settings.serving_dir / 'current'}")
