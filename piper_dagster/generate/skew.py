"""Clock skew (contract §6): the verdict, and keeping events clear of its thresholds so that
the verdict is never a matter of a second."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta

from piper_dagster.generate.clock import DAY_US, US, closing_second, day_start_us, fmt_ts
from piper_dagster.generate.records import SampleFile

SKEW_TOLERANCE = timedelta(minutes=5)
_TOL_US = int(SKEW_TOLERANCE.total_seconds()) * US


def is_skewed(ts_us: int, mtime_us: int, spool_day: date) -> bool:
    return ts_us > mtime_us + _TOL_US or ts_us < day_start_us(spool_day) - DAY_US


def near_mtime_boundary(ts_us: int, mtime_us: int) -> bool:
    return abs(ts_us - (mtime_us + _TOL_US)) <= US


def near_day_boundary(ts_us: int, day: date) -> bool:
    return abs(ts_us - (day_start_us(day) - DAY_US)) <= US


def settle_mtimes(files: Iterable[SampleFile], rng: random.Random) -> None:
    """Each file's mtime: its last write plus a few seconds, in whole seconds, and at least 1 s
    away from any of its events' `ts + tolerance`."""
    for f in files:
        last = max(r.write_us for r in f.recs)
        mtime = closing_second(last // US, rng) * US
        while any(near_mtime_boundary(r.ts_us, mtime) for r in f.recs if r.kind == "event"):
            mtime += 2 * US
        f.mtime_us = mtime


def clear_day_boundaries(files: Iterable[SampleFile]) -> None:
    """Move any event within 1 s of its file's 24 h threshold (§6) 3 s later."""
    for f in files:
        for rec in f.recs:
            if (
                rec.kind == "event"
                and rec.event is not None
                and near_day_boundary(rec.ts_us, f.day)
            ):
                ts, ts_us = fmt_ts(rec.ts_us + 3 * US, f.emitter.ts_style)
                rec.event["ts"], rec.ts_us = ts, ts_us
                rec.write_us = max(rec.write_us, ts_us)
