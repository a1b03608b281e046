"""The root `piper` app: its global options (--verbose, the signal handlers, piper's warnings on
stderr) and the wrapper that turns an operator's mistake into one line and an exit code."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

import typer

from piper_dagster.cli.terminal import StderrLines
from piper_dagster.settings import ConfigError
from piper_dagster.warehouse import WarehouseError

# One ASSET_MATERIALIZATION_PLANNED event per asset with its partition range, not one per
# partition (5110 for a 365-day run of the 14 assets, minutes of bookkeeping before the first
# step); read by Dagster in the process that creates a run. Caveat: a failed run's partitions show
# as missing, not failed, in the UI (docs/design.md "Dagster's bookkeeping"). Also set for
# `dagster dev` (piper demo inherits it), docker-compose.yml, the Dockerfile and the README.
PLANNED_EVENTS_ENV = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}

app = typer.Typer(
    help="piper: telemetry of the sandwich USD pipeline, on Dagster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def clear_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bad settings, options, directories or warehouse: one clear line on stderr and exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, WarehouseError) as exc:
            typer.secho(f"piper: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (runner.install_signal_handlers)
            typer.secho("piper: interrupted", err=True, fg=typer.colors.RED)
            raise typer.Exit(130) from None
        except Exception as exc:
            from piper_dagster.cli.runner import Interrupted

            if not isinstance(exc, Interrupted):
                raise
            typer.secho(f"piper: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(130) from None

    return wrapper


class Options:
    """The global options (set by the app callback) for the command being run."""

    verbose = False
    command = "piper"


@app.callback()
def _global_options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Also print Dagster's event log (always in the instance and the UI)."
        ),
    ] = False,
) -> None:
    from piper_dagster.cli.runner import install_signal_handlers

    Options.verbose = verbose
    for key, value in PLANNED_EVENTS_ENV.items():
        os.environ.setdefault(key, value)
    Options.command = ctx.invoked_subcommand or "piper"
    install_signal_handlers()  # SIGTERM ends a command like Ctrl-C, cleaning up on the way
    # piper's own warnings (e.g. "waiting for the warehouse lock") reach the operator.
    logger = logging.getLogger("piper_dagster")
    if not any(isinstance(h, StderrLines) for h in logger.handlers):
        logger.addHandler(StderrLines(logging.WARNING))
