"""`piper init` (data directory, warehouse, instance) and `piper publish` (the serving layer)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import Settings, load_settings


@clear_errors
def init(
    upgrade_storage: Annotated[
        bool,
        typer.Option(
            "--upgrade-storage",
            help="Rewrite a warehouse made before piper pinned DuckDB's v1.5 storage format"
            " (cheaper checkpoints at a year's size; holds the warehouse while it copies).",
        ),
    ] = False,
) -> None:
    """Create the data directory, the warehouse schema and the Dagster instance."""
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.warehouse import STORAGE_VERSION, connect, storage_version

    settings = load_settings()
    settings.require_raw_root()
    settings.require_data_root()
    with connect(settings.warehouse_path) as con:
        version = storage_version(con)
    if upgrade_storage and not version.startswith(STORAGE_VERSION):
        version = _upgrade_storage(settings)
    elif not version.startswith(STORAGE_VERSION):
        typer.secho(
            f"piper: the warehouse is in DuckDB's {version} storage format: its checkpoints cost"
            " more as it grows; `piper init --upgrade-storage` rewrites it in"
            f" {STORAGE_VERSION} (needs its size free beside it)",
            err=True,
            fg=typer.colors.YELLOW,
        )
    home = ensure_dagster_home(settings)
    _create_instance()
    # Grafana's views need files to read from its first start on, even before any data.
    publication = _publish(settings)
    typer.echo(f"spool      {settings.raw_root}")
    typer.echo(f"warehouse  {settings.warehouse_path} (storage {version})")
    typer.echo(f"serving    {settings.serving_dir / 'current'} (version {publication.version})")
    typer.echo(f"dagster    {home}")


def _upgrade_storage(settings: Settings) -> str:
    from piper_dagster.warehouse import upgrade_storage

    typer.echo(f"upgrading the storage of {settings.warehouse_path} (holding it while it copies)")
    done = upgrade_storage(settings.warehouse_path)
    if done is None:  # upgraded meanwhile by another piper
        from piper_dagster.warehouse import STORAGE_VERSION

        return STORAGE_VERSION
    typer.echo(
        f"upgraded {done.before} -> {done.after} in {done.seconds:.1f} s"
        f" ({done.bytes_before / 2**20:.0f} MiB -> {done.bytes_after / 2**20:.0f} MiB)"
    )
    return done.after


def _create_instance() -> None:
    # Its storages created now, once: the daemon and the webserver starting together on a new
    # home would both create the SQLite schedule storage and race in Dagster's alembic stamping.
    import dagster as dg

    with dg.DagsterInstance.get():
        pass


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
