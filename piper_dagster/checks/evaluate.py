"""The pipeline checks, computed from the warehouse for a range of spool partitions.

Plain functions over a DuckDB connection (read-only is enough): Dagster (defs/checks.py) and
`piper doctor` call the same code. The queries live in sql/checks/.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from piper_dagster.checks.outcome import CheckOutcome, Status, grade
from piper_dagster.contract.families import FAMILIES, family_rows
from piper_dagster.refresh_ledger import read_backlog
from piper_dagster.settings import ChecksSettings
from piper_dagster.sql import load_sql

FRESHNESS = "freshness"
VOLUME = "volume"
INVALID_RATE = "invalid_rate"
CLOCK_SKEW = "clock_skew"
REFRESH_BACKLOG = "refresh_backlog"

RUNBOOK = "docs/runbook.md"


@dataclass(frozen=True)
class CheckInfo:
    name: str
    description: str  # what it means, shown in the Dagster UI and `piper doctor --json`
    anchor: str  # its section of the runbook
    # What its value and thresholds are measured in, for `piper doctor --json` (every check
    # names one: a test says so): "seconds", "ratio" (of two counts), "share" (a part of a whole).
    unit: str = ""
    lower_is_worse: bool = False  # bad *below* its thresholds (a drop), else bad above them
    blocking: bool = False  # a FAIL holds silver and gold back (docs/design.md#pipeline-checks)

    @property
    def runbook(self) -> str:
        return self.runbook_at("")

    def runbook_at(self, url: str) -> str:
        """Its section at the runbook's web address `url` (empty: the path in the repository)."""
        return f"{url or RUNBOOK}#{self.anchor}"


CHECKS: dict[str, CheckInfo] = {
    c.name: c
    for c in (
        CheckInfo(
            FRESHNESS,
            "Age of the newest event of each source family (artists' machines, farm poller,"
            " storage auditor). Stale: an emitter, the spool mount or the ingest has stopped.",
            "freshness",
            unit="seconds",
        ),
        CheckInfo(
            VOLUME,
            "Events of the spool partition per source family against the median of the same"
            " weekday in the previous weeks. A drop: machines stopped writing or files are missing.",
            "volume",
            unit="ratio",
            lower_is_worse=True,
        ),
        CheckInfo(
            INVALID_RATE,
            "Quarantined lines / lines read of the spool partition, by reason, with the worst"
            " files. High: an emitter writes lines the contract rejects (gold would under-count).",
            "invalid-rate",
            unit="share",
            blocking=True,
        ),
        CheckInfo(
            CLOCK_SKEW,
            "Share of the spool partition's events that are clock-skewed (contract §6), with"
            " the hosts and their typical offset. High: a machine's clock is wrong.",
            "clock-skew",
            unit="share",
        ),
        CheckInfo(
            REFRESH_BACKLOG,
            "Age of the oldest event date waiting in the refresh ledger for its silver and gold"
            " (dates held back by a failed invalid rate apart). Old: nothing drains the ledger"
            " (no daemon and no `piper ingest`), or its refresh runs fail.",
            "refresh-backlog",
            unit="seconds",
        ),
    )
}
PARTITION_CHECKS: tuple[str, ...] = (VOLUME, INVALID_RATE, CLOCK_SKEW)
BLOCKING_CHECKS: frozenset[str] = frozenset(c.name for c in CHECKS.values() if c.blocking)


def _rows(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> list[dict]:
    cur = con.execute(load_sql(f"checks/{name}"), params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _per_spool_partition(
    con: duckdb.DuckDBPyConnection,
    name: str,
    cfg: ChecksSettings,
    first: date,
    last: date,
    outcome: Callable[[dict[str, Any], ChecksSettings], CheckOutcome],
) -> list[CheckOutcome]:
    """Check `name` on each spool partition first..last: its query's row (listing the
    checks.top_n worst) graded by `outcome`; invalid rate and clock skew share this."""
    rows = _rows(con, name, {"first": first, "last": last, "top_n": cfg.top_n})
    return [outcome(row, cfg) for row in rows]


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- freshness ----------------------------------------------------------------------------------


def freshness(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, now: datetime
) -> list[CheckOutcome]:
    """Per source family: seconds since its newest (non-skewed) event; not about a partition."""
    # The newest events are recent: look at the last days first (zone maps skip the year), and
    # at the whole history only for a family not heard of in them (already past its FAIL).
    fail_days = max(getattr(cfg, f"freshness_{f}_fail_hours") for f in FAMILIES) / 24
    since = now.astimezone(UTC).date() - timedelta(days=math.ceil(fail_days))
    families = family_rows()
    rows = _rows(con, FRESHNESS, {"families": families, "now": now, "since": since})
    silent = {r["family"] for r in rows if r["newest_ts"] is None}
    if silent:
        older = [f for f in families if f["family"] in silent]
        found = {
            r["family"]: r
            for r in _rows(con, FRESHNESS, {"families": older, "now": now, "since": None})
        }
        rows = [found.get(r["family"], r) for r in rows]
    out = []
    for row in rows:
        family = row["family"]
        warn = getattr(cfg, f"freshness_{family}_warn_hours") * 3600
        fail = getattr(cfg, f"freshness_{family}_fail_hours") * 3600
        age = row["age_seconds"]
        if age is None:
            # Never heard of: as stale as can be.
            status = Status.FAIL
            hint = f"no {family} event in the warehouse (clock-skewed ones not counted)"
        else:
            status = grade(age, warn, fail)
            hint = f"newest {family} event {_hours(age)} ago"
        out.append(
            CheckOutcome(
                FRESHNESS,
                None,
                family,
                status,
                age,
                warn,
                fail,
                {
                    "newest_ts": row["newest_ts"],
                    "last_ingested_at": row["last_ingested_at"],
                    "now": now,
                },
                hint,
            )
        )
    return out


# --- volume -------------------------------------------------------------------------------------


def volume(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, first: date, last: date, now: datetime
) -> list[CheckOutcome]:
    """Per spool partition and source family: events / same-weekday baseline (a drop is bad)."""
    params = {
        "first": first,
        "last": last,
        "weeks": cfg.volume_baseline_weeks,
        "families": family_rows(),
        "now": now,
    }
    out = []
    for row in _rows(con, VOLUME, params):
        events, baseline = int(row["events"] or 0), row["baseline"]
        detail = {
            "events": events,
            "baseline": baseline,
            "baseline_days": row["baseline_days"] or [],
            "partial_day": row["partial_day"],
        }
        if baseline is None or baseline < cfg.volume_min_baseline_events:
            ratio = None
            hint = (
                f"{events} events; baseline too small to judge"
                f" ({baseline or 0:g} < {cfg.volume_min_baseline_events} usual events)"
            )
        else:
            ratio = events / baseline
            hint = f"{events} events vs {baseline:g} usual ({ratio:.0%})"
        status = grade(
            ratio,
            cfg.volume_warn_ratio,
            cfg.volume_fail_ratio,
            lower_is_worse=CHECKS[VOLUME].lower_is_worse,
        )
        out.append(
            CheckOutcome(
                VOLUME,
                row["partition_date"],
                row["family"],
                status,
                ratio,
                cfg.volume_warn_ratio,
                cfg.volume_fail_ratio,
                detail,
                hint,
            )
        )
    return out


# --- invalid rate -------------------------------------------------------------------------------


def _invalid_rate_outcome(row: dict[str, Any], cfg: ChecksSettings) -> CheckOutcome:
    """One spool partition's invalid rate, graded; the hint names its main reason and worst file."""
    lines, invalid = int(row["lines"]), int(row["invalid"])
    rate = invalid / lines if lines else None
    reasons = dict(row["reasons"] or {})
    top_files = row["top_files"] or []
    judged = lines >= cfg.invalid_rate_min_lines
    status = grade(rate if judged else None, cfg.invalid_rate_warn, cfg.invalid_rate_fail)
    if rate is None:
        hint = "no lines read: nothing to judge"
    elif not judged:
        hint = (
            f"{invalid}/{lines} lines rejected; too few lines to judge"
            f" (< {cfg.invalid_rate_min_lines})"
        )
    elif not invalid:
        hint = f"{lines} lines, none rejected"
    else:
        reason, n = next(iter(reasons.items()))
        hint = f"{invalid}/{lines} lines rejected; mostly {reason} ({n})"
        if top_files:
            hint += f"; worst file {top_files[0]['source_file']}"
    return CheckOutcome(
        INVALID_RATE,
        row["partition_date"],
        "all",
        status,
        rate,
        cfg.invalid_rate_warn,
        cfg.invalid_rate_fail,
        {
            "lines": lines,
            "files": int(row["files"]),
            "invalid": invalid,
            "by_reason": reasons,
            "top_files": top_files,
        },
        hint,
    )


def invalid_rate(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, first: date, last: date
) -> list[CheckOutcome]:
    """Per spool partition: quarantined lines / lines read, by reason, with the worst files."""
    return _per_spool_partition(con, INVALID_RATE, cfg, first, last, _invalid_rate_outcome)


# --- clock skew ---------------------------------------------------------------------------------


def skewed_hosts_text(hosts: list[dict[str, Any]], hosts_total: int) -> str:
    """Every listed host, most affected first, with its share of the partition's events and its
    offset, then "+N more" for the hosts past checks.top_n: two wrong clocks are two fixes."""
    parts = [f"{h['host']} {h['share']:.2%} (off ~{h['median_offset_hours']:+g} h)" for h in hosts]
    if hosts_total > len(hosts):
        parts.append(f"+{hosts_total - len(hosts)} more")
    noun = "host" if hosts_total == 1 else "hosts"
    return f"{hosts_total} {noun} by share of events: " + ", ".join(parts)


def _clock_skew_outcome(row: dict[str, Any], cfg: ChecksSettings) -> CheckOutcome:
    """One spool partition's clock-skewed share, graded; the hint names the hosts."""
    events, skewed = int(row["events"]), int(row["skewed"])
    share = skewed / events if events else None
    hosts = row["hosts"] or []
    hosts_total = int(row["hosts_total"])
    status = grade(share, cfg.clock_skew_warn, cfg.clock_skew_fail)
    if share is None:
        hint = "no events: nothing to judge"
    elif not skewed:
        hint = f"{events} events, none skewed"
    else:
        hint = f"{skewed}/{events} events skewed; " + skewed_hosts_text(hosts, hosts_total)
    return CheckOutcome(
        CLOCK_SKEW,
        row["partition_date"],
        "all",
        status,
        share,
        cfg.clock_skew_warn,
        cfg.clock_skew_fail,
        {
            "events": events,
            "skewed": skewed,
            "hosts": hosts,
            "hosts_total": hosts_total,
            "hosts_not_listed": hosts_total - len(hosts),
        },
        hint,
    )


def clock_skew(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, first: date, last: date
) -> list[CheckOutcome]:
    """Per spool partition: share of clock-skewed events, the hosts and their median offset."""
    return _per_spool_partition(con, CLOCK_SKEW, cfg, first, last, _clock_skew_outcome)


# --- refresh backlog ----------------------------------------------------------------------------


def refresh_backlog(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, now: datetime
) -> list[CheckOutcome]:
    """The refresh ledger: seconds the oldest event date (not held back) has waited."""
    backlog = read_backlog(con)
    waiting, held = backlog.to_refresh, backlog.held_back
    warn = cfg.refresh_backlog_warn_hours * 3600
    fail = cfg.refresh_backlog_fail_hours * 3600
    age = backlog.oldest_age_seconds(now)
    if age is None:
        # Nothing waits: judged, and healthy (not a SKIP: an empty ledger is the goal).
        age = 0.0
        hint = "no event date waits for a refresh"
    else:
        oldest = min(waiting, key=lambda d: d.first_dirtied_at)
        hint = (
            f"{len(waiting)} event dates wait for a refresh, the oldest ({oldest.event_date})"
            f" for {_hours(age)}"
        )
    if held:
        hint += f"; {len(held)} held back by a failed invalid rate"
    detail = {
        "waiting": len(waiting),
        "waiting_dates": [d.event_date for d in waiting[:20]],
        "held_back": len(held),
        "held_back_dates": [d.event_date for d in held[:20]],
        "oldest_dirtied_at": min((d.first_dirtied_at for d in waiting), default=None),
    }
    return [
        CheckOutcome(
            REFRESH_BACKLOG, None, "all", grade(age, warn, fail), age, warn, fail, detail, hint
        )
    ]


# --- all ----------------------------------------------------------------------------------------


def evaluate(
    con: duckdb.DuckDBPyConnection,
    cfg: ChecksSettings,
    first: date,
    last: date,
    *,
    checks: tuple[str, ...] = (FRESHNESS, *PARTITION_CHECKS, REFRESH_BACKLOG),
    now: datetime | None = None,
) -> list[CheckOutcome]:
    """The outcomes of `checks` for the spool partitions first..last (freshness: at `now`)."""
    now = now or datetime.now(UTC)
    out: list[CheckOutcome] = []
    for name in checks:
        if name == FRESHNESS:
            out += freshness(con, cfg, now)
        elif name == VOLUME:
            out += volume(con, cfg, first, last, now)
        elif name == INVALID_RATE:
            out += invalid_rate(con, cfg, first, last)
        elif name == CLOCK_SKEW:
            out += clock_skew(con, cfg, first, last)
        elif name == REFRESH_BACKLOG:
            out += refresh_backlog(con, cfg, now)
        else:
            raise ValueError(f"unknown check {name!r}; known: {', '.join(CHECKS)}")
    return out
