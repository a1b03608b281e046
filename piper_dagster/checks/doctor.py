"""`piper doctor`: the four checks on the current warehouse, without Dagster, as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piper_dagster.checks.evaluate import CHECKS, FRESHNESS, REFRESH_BACKLOG, VOLUME, evaluate
from piper_dagster.checks.outcome import CheckOutcome, Status, record, worst
from piper_dagster.serving import publish_from
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect

EXIT_CODES = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass
class Report:
    as_of: datetime
    first: date
    last: date
    outcomes: list[CheckOutcome]

    @property
    def status(self) -> Status:
        return worst([o.status for o in self.outcomes])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "exit_code": self.exit_code,
            "as_of": self.as_of.isoformat(),
            "partitions": [self.first.isoformat(), self.last.isoformat()],
            "results": [{**o.as_dict(), "runbook": CHECKS[o.check].runbook} for o in self.outcomes],
        }


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
        if persist:
            record(con, outcomes, asset="spool_events", evaluated_at=as_of, run_id=None)
            publish_from(con, settings)  # recorded outcomes are for Grafana's health dashboard
    return Report(as_of, first, last, outcomes)


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
    """An aligned table: status, check, partition, scope, value, WARN / FAIL threshold, hint."""
    header = ("STATUS", "CHECK", "PARTITION", "SCOPE", "VALUE", "WARN / FAIL", "HINT")
    rows = [header]
    for o in report.outcomes:
        direction = "<" if o.check == VOLUME else ">"
        threshold = f"{direction}{format_value(o, o.warn)} / {direction}{format_value(o, o.fail)}"
        hint = o.hint
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
    counts = {s: sum(o.status == s for o in report.outcomes) for s in Status}
    lines.append("")
    lines.append(
        f"{report.status}: {counts[Status.PASS]} pass, {counts[Status.WARN]} warn,"
        f" {counts[Status.FAIL]} fail (spool partitions {report.first}..{report.last},"
        f" as of {report.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    return "\n".join(lines)
