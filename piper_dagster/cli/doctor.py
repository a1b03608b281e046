"""`piper doctor`: the pipeline checks on the warehouse, with no daemon; the exit code is the verdict."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from piper_dagster.cli.options import DATE, MOMENT, parse_day, parse_moment
from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import ConfigError, load_settings
from piper_dagster.warehouse import WarehouseError


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
) -> None:
    """Run the pipeline checks on the warehouse, no daemon needed; exit 0 pass, 1 warn, 2 fail."""
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
