"""Daily partitions shared by the spool, silver and gold assets."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from piper_dagster.defs.keys import RANGE_END_TAG, RANGE_START_TAG
from piper_dagster.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """The spool dates and event dates from `ingest.start_date` to today."""
    # end_offset=1: today's partition exists today, so data of the current day can flow.
    return dg.DailyPartitionsDefinition(
        start_date=settings.ingest.start_date.isoformat(), end_offset=1, timezone="UTC"
    )


def partition_bounds(settings: Settings) -> tuple[date, date]:
    """The first and the last valid partition (today included: end_offset=1)."""
    keys = daily_partitions(settings).get_partition_keys()
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The inclusive date range of the partitions this run materializes (one or a range)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover the partitions first..last (single-run backfill)."""
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
