"""Time in integer microseconds since the epoch, and RFC 3339 text in emitters' styles."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

US = 1_000_000
MIN_US = 60 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
EPOCH = datetime(1970, 1, 1)
EPOCH_DATE = date(1970, 1, 1)


def day_start_us(day: date) -> int:
    return (day - EPOCH_DATE).days * DAY_US


def date_of(t_us: int) -> date:
    return EPOCH_DATE + timedelta(days=t_us // DAY_US)


# (fraction digits, UTC offset in minutes, suffix, lower-case T/Z)
_TS_STYLES: dict[str, tuple[int, int, bool]] = {
    "ms_z": (3, 0, False),
    "us_utc": (6, 0, False),
    "s_z": (0, 0, False),
    "s_paris": (0, 60, False),
    "ms_ny": (3, -300, False),
    "ms_lower": (3, 0, True),
}


def fmt_ts(t_us: int, style: str) -> tuple[str, int]:
    """RFC 3339 text of `t_us` in an emitter's style, and the instant that text denotes."""
    digits, offset_min, lower = _TS_STYLES[style]
    unit = 10 ** (6 - digits)
    t_us -= t_us % unit
    local = EPOCH + timedelta(microseconds=t_us + offset_min * MIN_US)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += f".{local.microsecond // unit:0{digits}d}"
    if offset_min == 0:
        suffix = "+00:00" if style == "us_utc" else "Z"
    else:
        sign = "+" if offset_min > 0 else "-"
        hours, minutes = divmod(abs(offset_min), 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    if lower:
        text, suffix = text.replace("T", "t"), suffix.lower()
    return text + suffix, t_us


def bulk_ts(day_iso: str, t: float) -> str:
    s = int(t)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{day_iso}T{h:02d}:{m:02d}:{sec:02d}.{int((t - s) * 1000):03d}Z"


def closing_second(last_write_s: int, rng: random.Random) -> int:
    """The whole second of a file's mtime: its emitter closes it a few seconds after its last
    write (`last_write_s`, in whole seconds since the epoch)."""
    return last_write_s + 1 + rng.randint(1, 4)
