"""The option values shared by several commands: dates, times, the partitions, the models."""

from __future__ import annotations

from datetime import UTC, date, datetime

from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import ConfigError, load_settings

# How --help shows the date and time options (parsed by parse_day / parse_moment: a bad value
# is one line).
DATE = "YYYY-MM-DD"
MOMENT = "YYYY-MM-DDTHH:MM"


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_moment(value: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a time (e.g. 2026-03-05T08:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def partition_bounds() -> tuple[date, date]:
    # Imported here: the partitions load the settings, whose errors clear_errors reports.
    from piper_dagster.defs.partitions import partition_bounds

    return partition_bounds(load_settings())


MODEL_NAMES = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
