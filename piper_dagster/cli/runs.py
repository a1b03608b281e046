"""A command's Dagster run: the selected assets over a date range, with piper's terminal."""

from __future__ import annotations

from datetime import date
from typing import Any

from piper_dagster.cli.root import Options
from piper_dagster.cli.terminal import Terminal
from piper_dagster.settings import Settings


def run_assets(
    settings: Settings,
    selection: list[str],
    first: date,
    last: date,
    spool_config: dict[str, Any] | None = None,
    *,
    command: str | None = None,
) -> Any:
    """One named Dagster run of the selected assets over first..last, in this process,
    recorded in the instance (UI); see piper_dagster/cli/runner.py for its waits and signals."""
    import dagster as dg

    from piper_dagster.cli import runner
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.definitions import build_definitions
    from piper_dagster.defs.keys import COMMAND_TAG, RANGE_TAG, SPOOL_EVENTS
    from piper_dagster.defs.partitions import range_tags

    ensure_dagster_home(settings)
    if SPOOL_EVENTS not in selection:
        job_name = "refresh_models"
    elif len(selection) == 1:
        job_name = "ingest_spool"
    else:
        job_name = "ingest_and_refresh"
    run_config = {"ops": {SPOOL_EVENTS: {"config": spool_config}}} if spool_config else None
    tags = {
        **range_tags(first, last),
        COMMAND_TAG: command or Options.command,
        RANGE_TAG: f"{first}..{last}",
    }
    job = build_definitions(settings).resolve_job_def(job_name)
    keys = [dg.AssetKey(name) for name in selection]
    # Only a strict subset is passed: subsetting adds back every check of the selected assets
    # (the freshness check, which runs on its own schedule).
    whole = set(keys) == set(job.asset_layer.executable_asset_keys)
    with Terminal() as term:
        return runner.execute(
            settings,
            job,
            asset_selection=None if whole else keys,
            tags=tags,
            run_config=run_config,
            verbose=Options.verbose,
            say=term.say,
            on_progress=term.progress if SPOOL_EVENTS in selection else None,
        )


def materialize_spool(settings: Settings, first: date, last: date, **config: Any) -> Any:
    """One Dagster run of spool_events over first..last."""
    return run_assets(settings, ["spool_events"], first, last, config or None)
