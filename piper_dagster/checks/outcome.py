"""What a check says: a status graded against WARN / FAIL thresholds, and its record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import duckdb
import pyarrow as pa

from piper_dagster.alerts import Observation, notify_checks
from piper_dagster.settings import Settings, load_settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction

# The asset the spool partitions' checks are recorded for (its key in the Dagster wiring too).
SPOOL_ASSET = "spool_events"


class Status(StrEnum):
    """A check's verdict; members in increasing severity.

    SKIP: the check could not judge (too little data: a small volume baseline, too few lines, no
    events). It is never shown as PASS, yet it ranks *below* PASS: "the worst" of several outcomes
    is the most severe verdict among those that judged, and SKIP only when none could judge. A
    family that is always too small to judge (the storage auditor's volume) must not turn every
    healthy summary into SKIP; the SKIP rows and their count are listed beside it. A SKIP does not
    fail a run, a blocking check or doctor's exit code (docs/design.md#pipeline-checks).
    """

    SKIP = "SKIP"
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        return list(Status).index(self)

    @property
    def passed(self) -> bool:
        """Nothing known to be wrong: PASS, or SKIP (could not judge)."""
        return self in (Status.PASS, Status.SKIP)


def worst(statuses: list[Status]) -> Status:
    """The most severe status; SKIP only if every check was SKIP; PASS for none."""
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


def grade(value: float | None, warn: float, fail: float, *, lower_is_worse: bool = False) -> Status:
    """PASS, WARN or FAIL for `value` (None: the check could not judge, SKIP)."""
    if value is None:
        return Status.SKIP
    if lower_is_worse:
        return Status.FAIL if value < fail else Status.WARN if value < warn else Status.PASS
    return Status.FAIL if value > fail else Status.WARN if value > warn else Status.PASS


@dataclass(frozen=True)
class CheckOutcome:
    """One check on one partition (None: the whole asset) and one scope."""

    check: str
    partition_date: date | None
    scope: str  # 'all' or a source family
    status: Status
    value: float | None
    warn: float
    fail: float
    detail: dict[str, Any] = field(default_factory=dict)
    hint: str = ""  # one line for the operator: what is wrong and where to look

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "partition_date": self.partition_date.isoformat() if self.partition_date else None,
            "scope": self.scope,
            "status": str(self.status),
            "value": self.value,
            "warn_threshold": self.warn,
            "fail_threshold": self.fail,
            "detail": self.detail,
            "hint": self.hint,
        }


_ROWS_SCHEMA = pa.schema(
    [
        ("check_name", pa.string()),
        ("asset", pa.string()),
        ("partition_date", pa.date32()),
        ("scope", pa.string()),
        ("status", pa.string()),
        ("value", pa.float64()),
        ("warn_threshold", pa.float64()),
        ("fail_threshold", pa.float64()),
        ("detail", pa.string()),
        ("evaluated_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)


def record(
    con: duckdb.DuckDBPyConnection,
    outcomes: list[CheckOutcome],
    *,
    asset: str,
    evaluated_at: datetime,
    run_id: str | None,
    settings: Settings | None = None,
) -> int:
    """Append the outcomes to pipeline_check_results (one row each); rows written.

    In the same transaction, the alerts see them (piper_dagster/alerts): a state change of a
    check subject queues its notification in the outbox, which the caller delivers after
    (alerts.deliver_quietly). Every path that records outcomes (spool runs, the freshness check,
    `piper doctor --record`) notifies alike. `settings`: None reads them."""
    if not outcomes:
        return 0
    from piper_dagster.checks.evaluate import CHECKS  # evaluate imports this module

    settings = settings or load_settings()
    observations = [
        Observation(
            check=o.check,
            asset=asset,
            scope=o.scope,
            partition_date=o.partition_date,
            status=str(o.status),
            value=o.value,
            warn=o.warn,
            fail=o.fail,
            unit=CHECKS[o.check].unit,
            lower_is_worse=CHECKS[o.check].lower_is_worse,
            hint=o.hint,
            runbook=CHECKS[o.check].runbook_at(settings.checks.runbook_url),
            run_id=run_id,
        )
        for o in outcomes
    ]
    rows = [
        {
            "check_name": o.check,
            "asset": asset,
            "partition_date": o.partition_date,
            "scope": o.scope,
            "status": str(o.status),
            "value": o.value,
            "warn_threshold": o.warn,
            "fail_threshold": o.fail,
            "detail": json.dumps(o.detail, default=str, sort_keys=True),
            "evaluated_at": evaluated_at,
            "run_id": run_id,
        }
        for o in outcomes
    ]
    con.register("check_rows", pa.Table.from_pylist(rows, _ROWS_SCHEMA))
    try:
        with transaction(con):
            con.execute(load_sql("checks/insert_results"))
            notify_checks(con, observations, settings.alerts, evaluated_at)
    finally:
        con.unregister("check_rows")
    return len(rows)
