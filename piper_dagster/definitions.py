"""The piper code location: every asset, check, sensor and resource, assembled once."""

import dagster as dg

from piper_dagster.defs.checks import freshness_check, freshness_job, freshness_schedule
from piper_dagster.defs.execution import install_wait_fix
from piper_dagster.defs.late_data import refresh_models_job, touched_event_dates_sensor
from piper_dagster.defs.models import gold_models, silver_models
from piper_dagster.defs.sensors import spool_sensor
from piper_dagster.defs.spool import spool_events

# Run workers load this module too: their pool waits sleep instead of spinning (defs/execution.py).
install_wait_fix()

# The freshness check runs on its schedule, not with every ingest (as before the named jobs).
_spool = dg.AssetSelection.assets("spool_events") - dg.AssetSelection.checks(freshness_check)

# The jobs piper's commands run (named, so that the Runs page tells them apart; the run's tags
# say which command and which dates). refresh_models (silver and gold) is the third.
ingest_spool_job = dg.define_asset_job(
    "ingest_spool",
    selection=_spool,
    description="piper ingest: the spool partitions with settled new bytes.",
)
ingest_and_refresh_job = dg.define_asset_job(
    "ingest_and_refresh",
    selection=_spool | dg.AssetSelection.groups("silver", "gold"),
    description="piper backfill / demo: the spool partitions, then silver and gold, in one run.",
)

defs = dg.Definitions(
    assets=[spool_events, silver_models, gold_models],
    asset_checks=[freshness_check],
    jobs=[refresh_models_job, freshness_job, ingest_spool_job, ingest_and_refresh_job],
    schedules=[freshness_schedule],
    sensors=[spool_sensor, touched_event_dates_sensor],
    executor=dg.in_process_executor,  # steps share one DuckDB file: no subprocess per step
)
