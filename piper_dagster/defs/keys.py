"""The names the Dagster wiring shares with the CLI and the runs: asset keys, jobs, run tags.

Written once here: a rename is one edit, and a typo is an import error rather than a selection
that silently matches nothing. Check names are the core's (piper_dagster.checks).
"""

from piper_dagster.checks import SPOOL_ASSET

SPOOL_EVENTS = SPOOL_ASSET  # the spool asset: the core records its checks under this name
SILVER_GROUP = "silver"
GOLD_GROUP = "gold"
POOL = "duckdb"  # every step that writes the warehouse: one at a time (dagster.yaml)

# Jobs (named, so that the Runs page tells piper's commands apart).
INGEST_SPOOL_JOB = "ingest_spool"
INGEST_AND_REFRESH_JOB = "ingest_and_refresh"
REFRESH_MODELS_JOB = "refresh_models"
PRUNE_JOB = "prune_history"
PRUNE_SCHEDULE = "prune_schedule"
SPOOL_SENSOR = "spool_sensor"
REFRESH_SENSOR = "touched_event_dates_sensor"
FRESHNESS_SENSOR = "freshness_sensor"  # evaluates freshness without a run (no job)

RUN_FAILURE_SENSOR = "run_failure_alerts"

# Run tags of piper's own (Dagster's are dagster/*).
PID_TAG = "piper/pid"
HOST_TAG = "piper/host"
COMMAND_TAG = "piper/command"
RANGE_TAG = "piper/range"
COMMITTED_TAG = "piper/committed_reported"  # a reaped spool run's committed days: reported?
SPOOL_STATE_TAG = "piper/spool_state"  # the spool sensor's fingerprint of the files it requests
REFRESH_STATE_TAG = "piper/refresh_state"  # the refresh sensor's ledger state

# Dagster's tags for one run over a partition range (single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
