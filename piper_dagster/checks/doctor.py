"""`piper doctor`: the four checks on the current warehouse, without Dagster, as a table.

Besides the partitions asked for (--date, --days), doctor lists every spool partition whose
blocking check still holds silver and gold back: its latest recorded outcome is FAIL and it still
FAILs when evaluated now. An on-call look at "today" must not miss last Tuesday's blocked gold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from piper_dagster.alerts import deliver_quietly, pending
from piper_dagster.checks.evaluate import (
    BLOCKING_CHECKS,
    CHECKS,
    FRESHNESS,
    REFRESH_BACKLOG,
    VOLUME,
    evaluate,
)
from piper_dagster.checks.outcome import SPOOL_ASSET, CheckOutcome, Status, record, worst
from piper_dagster.serving import publish_from
from piper_dagster.settings import ChecksSettings, Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect

# SKIP (could not judge) does not fail: nothing is known to be wrong.
EXIT_CODES = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class HeldBack:
    """A spool partition outside the range asked for whose blocking check still FAILs."""

    outcome: CheckOutcome  # evaluated now
    recorded_at: datetime  # the latest recorded evaluation, a FAIL
    run_id: str | None  # its Dagster run (None: `piper doctor --record`)
    event_dates: list[date]  # the dates whose silver and gold it holds back

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded_at": self.recorded_at.isoformat(),
            "run_id": self.run_id,
            "event_dates": [d.isoformat() for d in self.event_dates],
            "why_listed": "outside --date/--days: its blocking check failed and still holds"
            " silver and gold back",
        }


def _result(o: CheckOutcome) -> dict[str, Any]:
    info = CHECKS[o.check]
    return {
        **o.as_dict(),
        # value, warn_threshold and fail_threshold are all in this unit.
        "unit": info.unit,
        "bad_when": "below" if info.lower_is_worse else "above",
        "blocking": info.blocking,
        "holds_gold_back": info.blocking and o.status == Status.FAIL,
        "outside_range": False,
        "runbook": info.runbook,
    }


@dataclass
class Report:
    as_of: datetime
    first: date
    last: date
    outcomes: list[CheckOutcome]
    held_back: list[HeldBack] = field(default_factory=list)

    @property
    def all_outcomes(self) -> list[CheckOutcome]:
        return [*self.outcomes, *(h.outcome for h in self.held_back)]

    @property
    def status(self) -> Status:
        return worst([o.status for o in self.all_outcomes])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "exit_code": self.exit_code,
            "as_of": self.as_of.isoformat(),
            "partitions": [self.first.isoformat(), self.last.isoformat()],
            "results": [
                *(_result(o) for o in self.outcomes),
                *(
                    {**_result(h.outcome), "outside_range": True, "held_back": h.as_dict()}
                    for h in self.held_back
                ),
            ],
        }


def held_back(
    con: duckdb.DuckDBPyConnection, cfg: ChecksSettings, first: date, last: date, now: datetime
) -> list[HeldBack]:
    """Spool partitions outside first..last whose latest recorded blocking-check outcome is FAIL
    and which still FAIL now (after a replay that fixed them, they are not listed)."""
    params = {
        "checks": sorted(BLOCKING_CHECKS),
        "asset": SPOOL_ASSET,
        "first": first,
        "last": last,
    }
    out = []
    for name, day, recorded_at, run_id, event_dates in con.execute(
        load_sql("checks/blocking_failures"), params
    ).fetchall():
        (outcome,) = (
            o
            for o in evaluate(con, cfg, day, day, checks=(name,), now=now)
            if o.scope == "all"  # the blocking checks judge the whole partition
        )
        if outcome.status == Status.FAIL:
            out.append(HeldBack(outcome, recorded_at, run_id, list(event_dates or [])))
    return out


def run_doctor(
    settings: Settings,
    *,
    last: date | None = None,
    days: int = 1,
    as_of: datetime | None = None,
    persist: bool = False,
) -> Report:
    """Evaluate the checks for `days` spool partitions ending at `last` (default: the newest
    spool date read). Read-only unless `persist` (then the outcomes are recorded, run_id NULL)."""
    as_of = as_of or datetime.now(UTC)
    # Read-only by default: an on-call look changes nothing (and several can run at once).
    with connect(settings.warehouse_path, read_only=not persist, create=False) as con:
        if last is None:
            row = con.execute(
                "SELECT max(spool_date) FROM spool_files WHERE spool_date <= ?", [as_of.date()]
            ).fetchone()
            last = row[0] if row and row[0] else as_of.date()
        first = last - timedelta(days=days - 1)
        outcomes = evaluate(con, settings.checks, first, last, now=as_of)
        blocked = held_back(con, settings.checks, first, last, as_of)
        undelivered = 0
        if persist:
            # The held-back partitions' FAILs were recorded already (that is why they are listed).
            record(
                con, outcomes, asset=SPOOL_ASSET, evaluated_at=as_of, run_id=None, settings=settings
            )
            publish_from(con, settings)  # recorded outcomes are for Grafana's health dashboard
            undelivered = pending(con)
    if undelivered:
        deliver_quietly(settings)  # the state changes it recorded notify, like a run's
    return Report(as_of, first, last, outcomes, blocked)


# Decimals shown by default: hours to a tenth, volume ratios in whole percent, rates to 0.01 %.
_DIGITS = {FRESHNESS: 1, VOLUME: 0, REFRESH_BACKLOG: 1}


def format_value(o: CheckOutcome, value: float | None, digits: int | None = None) -> str:
    if value is None:
        return "-"
    digits = _DIGITS.get(o.check, 2) if digits is None else digits
    if o.check in (FRESHNESS, REFRESH_BACKLOG):  # ages in seconds, shown in hours
        return f"{value / 3600:.{digits}f} h"
    return f"{value:.{digits}%}"


def _value_cell(o: CheckOutcome) -> str:
    """The value, with as many more decimals as it takes not to read like a threshold it passed
    (5.005 % over a 5 % FAIL threshold must not print as 5.00 %)."""
    digits = _DIGITS.get(o.check, 2)
    while o.value is not None and digits < 6:
        text = format_value(o, o.value, digits)
        if all(o.value == t or text != format_value(o, t, digits) for t in (o.warn, o.fail)):
            break
        digits += 1
    return format_value(o, o.value, digits)


def format_table(report: Report) -> str:
    """An aligned table: status, check, partition, scope, value, WARN / FAIL threshold, hint.
    The held-back partitions outside the range come last, their hint says why they are listed."""
    header = ("STATUS", "CHECK", "PARTITION", "SCOPE", "VALUE", "WARN / FAIL", "HINT")
    rows = [header]
    why = {id(h.outcome): h for h in report.held_back}
    for o in report.all_outcomes:
        direction = "<" if CHECKS[o.check].lower_is_worse else ">"
        threshold = f"{direction}{format_value(o, o.warn)} / {direction}{format_value(o, o.fail)}"
        hint = o.hint
        if id(o) in why:
            hint = f"{_held_back_text(why[id(o)])}; {hint}"
        if o.status != Status.PASS:
            hint += f" (see {CHECKS[o.check].runbook})"
        rows.append(
            (
                str(o.status),
                o.check,
                o.partition_date.isoformat() if o.partition_date else "-",
                o.scope,
                _value_cell(o),
                threshold,
                hint,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    counts = {s: sum(o.status == s for o in report.all_outcomes) for s in Status}
    extra = ""
    if report.held_back:
        days = sorted({h.outcome.partition_date.isoformat() for h in report.held_back})
        extra = f" and {len(days)} outside them still holding gold back: {', '.join(days)}"
    lines.append("")
    lines.append(
        f"{report.status}: {counts[Status.PASS]} pass, {counts[Status.SKIP]} skip (not judged),"
        f" {counts[Status.WARN]} warn, {counts[Status.FAIL]} fail"
        f" (spool partitions {report.first}..{report.last}{extra},"
        f" as of {report.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    return "\n".join(lines)


def _held_back_text(h: HeldBack) -> str:
    dates = [d.isoformat() for d in h.event_dates]
    shown = ", ".join(dates[:5]) + (f", +{len(dates) - 5} more" if len(dates) > 5 else "")
    return (
        f"HELD BACK, outside --date/--days: FAIL recorded {h.recorded_at:%Y-%m-%d %H:%M} UTC"
        f" still holds back silver and gold of event dates {shown or '-'}"
    )
