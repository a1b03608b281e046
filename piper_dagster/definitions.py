"""The piper code location: every asset, check, sensor and resource, assembled once."""

import dagster as dg

from piper_dagster.defs.checks import freshness_check, freshness_job, freshness_schedule
from piper_dagster.defs.late_data import refresh_models_job, touched_event_dates_sensor
from piper_dagster.defs.models import gold_models, silver_models
from piper_dagster.defs.sensors import spool_sensor
from piper_dagster.defs.spool import spool_events

defs = dg.Definitions(
    assets=[spool_events, silver_models, gold_models],
    asset_checks=[freshness_check],
    jobs=[refresh_models_job, freshness_job],
    schedules=[freshness_schedule],
    sensors=[spool_sensor, touched_event_dates_sensor],
    executor=dg.in_process_executor,  # steps share one DuckDB file: no subprocess per step
)
