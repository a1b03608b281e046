"""`piper doctor`: the pipeline checks on the warehouse, with no daemon; the exit code is the verdict.
`piper doctor --installation`: the installation itself, one row per item, the same exit codes."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

from piper_dagster.cli.options import DATE, MOMENT, parse_day, parse_moment
from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import DEFAULT_TOML, ConfigError, load_settings
from piper_dagster.warehouse import WarehouseError

if TYPE_CHECKING:
    from piper_dagster.checks.installation import InstallationReport


def run_installation() -> InstallationReport:
    """Every row of `piper doctor --installation`: a bad setting is its row, never a traceback."""
    from datetime import UTC, datetime

    from piper_dagster.checks import Status
    from piper_dagster.checks.installation import ITEMS, InstallationReport, Row, core_rows, skipped
    from piper_dagster.dagster_home import dagster_home_path

    now = datetime.now(UTC)
    try:
        settings = load_settings()
    except ConfigError as exc:  # its message names the setting and the fix
        rows = [Row("settings", Status.FAIL, "invalid", str(exc))]
        return InstallationReport(now, rows + skipped(ITEMS[1:], "needs valid settings"))
    from piper_dagster.defs.installation import dagster_rows  # imports Dagster: ~1.5 s

    config = os.environ.get("PIPER_CONFIG")
    where = f"{DEFAULT_TOML.name} + PIPER_CONFIG={config}" if config else DEFAULT_TOML.name
    home = dagster_home_path(settings)
    rows = {"settings": Row("settings", Status.PASS, f"valid ({where}, .env, PIPER_*)")}
    rows |= core_rows(settings, home)
    rows |= dagster_rows(settings, home)
    return InstallationReport(now, [rows[item] for item in ITEMS])


@clear_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    day: Annotated[
        str,
        typer.Option(
            "--date", metavar=DATE, help="Last spool partition (default: the newest read)."
        ),
    ] = "",
    days: Annotated[int, typer.Option(min=1, help="Spool partitions up to --date.")] = 1,
    as_of: Annotated[
        str,
        typer.Option(metavar=MOMENT, help="Evaluate as of this UTC time (ISO 8601), default now."),
    ] = "",
    record: Annotated[
        bool, typer.Option(help="Record the outcomes in pipeline_check_results (read-write).")
    ] = False,
    installation: Annotated[
        bool,
        typer.Option(
            "--installation",
            help="Check the installation instead: settings, spool, data root, free space,"
            " Dagster instance and storage, daemon, sensors, alert channels.",
        ),
    ] = False,
) -> None:
    """Run the pipeline checks on the warehouse, no daemon needed; exit 0 pass, 1 warn, 2 fail."""
    if installation:
        if day or as_of or record or days != 1:
            raise ConfigError(
                "--installation checks the installation, not partitions:"
                " --date, --days, --as-of and --record do not apply"
            )
        report = run_installation()
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            from piper_dagster.checks.installation import format_installation

            typer.echo(format_installation(report))
        raise typer.Exit(report.exit_code)
    from piper_dagster.checks import Status
    from piper_dagster.checks.doctor import EXIT_CODES, format_table, run_doctor

    try:
        report = run_doctor(
            load_settings(),
            last=parse_day(day, "--date") if day else None,
            days=days,
            as_of=parse_moment(as_of, "--as-of") if as_of else None,
            persist=record,
        )
    except (ConfigError, WarehouseError) as exc:
        if as_json:  # a script reads stdout: the failure is a report too
            error = {"status": "FAIL", "exit_code": EXIT_CODES[Status.FAIL], "error": str(exc)}
            typer.echo(json.dumps(error, indent=2))
        raise
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        typer.echo(format_table(report))
    raise typer.Exit(report.exit_code)
