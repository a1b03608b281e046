"""The refresh ledger (table refresh_pending): event dates whose silver and gold must be rebuilt.

Written by the ingest batch and the replay day that dirtied a date, in their own transaction
(sql/refresh/dirty.sql); cleared by the refresh that rebuilt the date, in two steps that match
the two layers of a refresh run:

- the silver step, having refreshed every silver model for first..last, marks the entries of
  those dates it saw before it started (`silver_rebuilt_at`), in its last model's transaction;
- the gold step, having refreshed every gold model, deletes the marked entries it saw before it
  started, in its last model's transaction.

An entry written after a step read its inputs is not in the set the step saw: it survives, and
the next refresh covers it. A refresh of some models only (`piper materialize --model`) clears
nothing: the other models of those dates are still stale.

The late-data sensor and the CLI drain the ledger (`drain_ranges`): one refresh run per
contiguous range of dates that are not held back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from piper_dagster.sql import load_sql


@dataclass(frozen=True)
class PendingDate:
    event_date: date
    first_dirtied_at: datetime
    max_seq: int
    entries: int
    why: tuple[str, ...]
    held_back: bool
    blocked_spool_dates: tuple[date, ...]
    run_ids: tuple[str, ...] = ()  # the runs that dirtied it


@dataclass
class Backlog:
    dates: list[PendingDate] = field(default_factory=list)

    @property
    def held_back(self) -> list[PendingDate]:
        return [d for d in self.dates if d.held_back]

    @property
    def to_refresh(self) -> list[PendingDate]:
        return [d for d in self.dates if not d.held_back]

    def oldest_age_seconds(self, now: datetime, *, held_back: bool = False) -> float | None:
        """Age of the oldest entry waiting (held-back dates only if `held_back`)."""
        dates = self.dates if held_back else self.to_refresh
        if not dates:
            return None
        oldest = min(d.first_dirtied_at for d in dates)
        return max(0.0, (now - oldest).total_seconds())


def read_backlog(con: duckdb.DuckDBPyConnection) -> Backlog:
    """The ledger per event date (read-only is enough)."""
    try:
        rows = con.execute(load_sql("refresh/backlog")).fetchall()
    except duckdb.CatalogException:
        return Backlog()  # a warehouse created before the ledger, opened read-only
    return Backlog(
        [
            PendingDate(
                event_date=r[0],
                first_dirtied_at=r[1] if r[1].tzinfo else r[1].replace(tzinfo=UTC),
                max_seq=int(r[2]),
                entries=int(r[3]),
                why=tuple(r[4]),
                held_back=bool(r[5]),
                blocked_spool_dates=tuple(r[6]),
                run_ids=tuple(r[7]),
            )
            for r in rows
        ]
    )


def contiguous_ranges(dates: set[date]) -> list[tuple[date, date]]:
    """[(first, last)] covering `dates`, one per run of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for d in sorted(dates):
        if ranges and (d - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], d)
        else:
            ranges.append((d, d))
    return ranges


@dataclass(frozen=True)
class RefreshRange:
    first: date
    last: date
    max_seq: int  # the newest entry in the range: a new dirtying makes a new state

    @property
    def state(self) -> str:
        """Identifies the ledger content this refresh drains (the sensor's run key)."""
        return f"{self.first}..{self.last}@{self.max_seq}"


def drain_ranges(
    backlog: Backlog, lo: date, hi: date, *, running: frozenset[str] = frozenset()
) -> list[RefreshRange]:
    """One range per run of consecutive dates to refresh (not held back, inside lo..hi).

    Dates dirtied by a run still `running` wait: its checks, evaluated after its data is
    committed, may yet hold them back."""
    by_date = {
        d.event_date: d
        for d in backlog.to_refresh
        if lo <= d.event_date <= hi and not running.intersection(d.run_ids)
    }
    return [
        RefreshRange(
            first,
            last,
            max(d.max_seq for day, d in by_date.items() if first <= day <= last),
        )
        for first, last in contiguous_ranges(set(by_date))
    ]


# --- clearing, from refresh_models -----------------------------------------------------------


def entries_seen(
    con: duckdb.DuckDBPyConnection, first: date, last: date, *, silver_rebuilt: bool
) -> list[int]:
    """The entries (seq) for first..last a refresh step sees before it reads its inputs."""
    sql = "SELECT seq FROM refresh_pending WHERE event_date BETWEEN $first AND $last"
    if silver_rebuilt:
        sql += " AND silver_rebuilt_at IS NOT NULL"
    return [r[0] for r in con.execute(sql, {"first": first, "last": last}).fetchall()]


def mark_silver_rebuilt(con: duckdb.DuckDBPyConnection, seqs: list[int]) -> None:
    """Inside the silver refresh's transaction: these entries' silver is rebuilt."""
    if seqs:
        con.execute(
            "UPDATE refresh_pending SET silver_rebuilt_at = now()"
            " WHERE seq IN (SELECT unnest($seqs::BIGINT[]))",
            {"seqs": seqs},
        )


def clear(con: duckdb.DuckDBPyConnection, seqs: list[int]) -> None:
    """Inside the gold refresh's transaction: these entries are rebuilt, silver and gold."""
    if seqs:
        con.execute(
            "DELETE FROM refresh_pending WHERE seq IN (SELECT unnest($seqs::BIGINT[]))",
            {"seqs": seqs},
        )
