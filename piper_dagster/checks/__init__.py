"""Pipeline checks (freshness, volume, invalid rate, clock skew): one home for Dagster and doctor."""

from piper_dagster.checks.evaluate import (
    BLOCKING_CHECKS,
    CHECKS,
    CLOCK_SKEW,
    FRESHNESS,
    INVALID_RATE,
    PARTITION_CHECKS,
    REFRESH_BACKLOG,
    VOLUME,
    CheckInfo,
    evaluate,
)
from piper_dagster.checks.outcome import (
    SPOOL_ASSET,
    CheckOutcome,
    Status,
    grade,
    record,
    worst,
)

__all__ = [
    "BLOCKING_CHECKS",
    "CHECKS",
    "CLOCK_SKEW",
    "FRESHNESS",
    "INVALID_RATE",
    "PARTITION_CHECKS",
    "REFRESH_BACKLOG",
    "SPOOL_ASSET",
    "VOLUME",
    "CheckInfo",
    "CheckOutcome",
    "Status",
    "evaluate",
    "grade",
    "record",
    "worst",
]
