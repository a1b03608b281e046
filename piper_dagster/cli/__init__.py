"""`piper`: the operator's command line (typer). Every materialization goes through Dagster.

The root app (cli/root.py) gets its commands here, in the order `piper --help` lists them; each
command group lives in its own module.
"""

from __future__ import annotations

from piper_dagster.cli import alerts, demo, doctor, generate, init, pipeline, prune, quarantine
from piper_dagster.cli.root import app

app.add_typer(generate.contract_app, name="contract")
app.add_typer(quarantine.quarantine_app, name="quarantine")
app.add_typer(generate.grafana_app, name="grafana")
app.add_typer(generate.catalog_app, name="catalog")
app.add_typer(generate.spool_app, name="spool")
app.add_typer(alerts.alerts_app, name="alerts")

app.command()(init.init)
app.command("publish")(init.publish_cmd)
app.command()(pipeline.ingest)
app.command()(pipeline.materialize)
app.command()(pipeline.backfill)
app.command()(doctor.doctor)
app.command()(prune.prune)
app.command()(demo.demo)


def main() -> None:
    """The `piper` entry point (pyproject's [project.scripts])."""
    app()
