"""The piper code location: every asset, check, sensor and resource, built from the settings.

Dagster loads `defs` (a `@dg.definitions` function) when it loads the code location, not when
this module is imported: importing any module of piper reads no settings, and a broken
piper.toml is reported by the command or the code location that needs it.
"""

import dagster as dg

from piper_dagster.defs.alerts import build_run_failure_sensor
from piper_dagster.defs.checks import build_freshness
from piper_dagster.defs.execution import install_wait_fix
from piper_dagster.defs.keys import (
    GOLD_GROUP,
    INGEST_AND_REFRESH_JOB,
    INGEST_SPOOL_JOB,
    SILVER_GROUP,
    SPOOL_EVENTS,
)
from piper_dagster.defs.late_data import build_refresh
from piper_dagster.defs.models import build_model_assets
from piper_dagster.defs.resources import RESOURCE_KEY, PiperResource
from piper_dagster.defs.retention import build_prune
from piper_dagster.defs.sensors import build_spool_sensor
from piper_dagster.defs.spool import build_spool_asset
from piper_dagster.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every definition of the code location, for these settings (partitions, intervals)."""
    # Run workers build the definitions too: their pool waits sleep instead of spinning.
    install_wait_fix()
    piper = PiperResource()
    freshness_check, freshness_sensor = build_freshness(settings, piper)
    refresh_models_job, refresh_sensor = build_refresh(settings, piper)
    prune_job, prune_schedule = build_prune(settings, piper)
    # The freshness check is evaluated by its sensor, not with every ingest (it would never see
    # that nothing arrives).
    spool = dg.AssetSelection.assets(SPOOL_EVENTS) - dg.AssetSelection.checks(freshness_check)
    # The jobs piper's commands run (named, so that the Runs page tells them apart; the run's
    # tags say which command and which dates). refresh_models (silver and gold) is the third.
    ingest_spool_job = dg.define_asset_job(
        INGEST_SPOOL_JOB,
        selection=spool,
        description="piper ingest: the spool partitions with settled new bytes.",
    )
    ingest_and_refresh_job = dg.define_asset_job(
        INGEST_AND_REFRESH_JOB,
        selection=spool | dg.AssetSelection.groups(SILVER_GROUP, GOLD_GROUP),
        description=(
            "The spool sensor, piper backfill / demo: the spool partitions, then silver and gold"
            " of the same dates, in one run."
        ),
    )
    # Bound to the assets and checks (not top-level): a test or a script that materializes one
    # asset of these definitions gets the resource with it. The sensors are given it directly.
    bound = {RESOURCE_KEY: piper}
    assets = dg.with_resources([build_spool_asset(settings), *build_model_assets(settings)], bound)
    (freshness_bound,) = dg.with_resources([freshness_check], bound)
    return dg.Definitions(
        assets=assets,
        asset_checks=[freshness_bound],
        jobs=[refresh_models_job, ingest_spool_job, ingest_and_refresh_job, prune_job],
        schedules=[prune_schedule],
        sensors=[
            freshness_sensor,
            build_spool_sensor(settings, piper, [ingest_and_refresh_job, ingest_spool_job]),
            refresh_sensor,
            build_run_failure_sensor(piper),
        ],
        executor=dg.in_process_executor,  # steps share one DuckDB file: no subprocess per step
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location as Dagster loads it (dagster dev, the daemon, run workers)."""
    return build_definitions(load_settings())
