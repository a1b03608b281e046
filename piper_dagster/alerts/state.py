"""State changes of the check subjects: which recorded outcomes deserve a message.

A subject is (check, asset, scope, spool partition): freshness and the refresh backlog judge the
whole asset (no partition), the others each spool partition, so a bad spool day is its own
subject and its resolution (a replay) its own notice. Per subject, alert_state keeps the latest
judged status and what the last message said (`notified_status`, PASS: nothing open):

- a status below alerts.min_severity counts as PASS;
- it differs from what was last said: a message ("problem" for WARN/FAIL, "resolved" for PASS);
- it is what was last said, WARN/FAIL, for alerts.repeat_minutes: a "repeat" message;
- SKIP (could not judge) says nothing about the subject: no change, no message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from piper_dagster.alerts.message import (
    PROBLEM,
    REPEAT,
    RESOLVED,
    Observation,
    check_message,
)
from piper_dagster.settings import AlertsSettings
from piper_dagster.sql import load_sql

RANK = {"PASS": 0, "WARN": 1, "FAIL": 2}  # SKIP is not judged: never a state

_STATE_SCHEMA = pa.schema(
    [
        ("subject", pa.string()),
        ("check_name", pa.string()),
        ("asset", pa.string()),
        ("scope", pa.string()),
        ("partition_date", pa.date32()),
        ("status", pa.string()),
        ("notified_status", pa.string()),
        ("notified_at", pa.timestamp("us", tz="UTC")),
        ("changed_at", pa.timestamp("us", tz="UTC")),
        ("evaluated_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass
class _State:
    status: str
    notified_status: str
    notified_at: datetime | None
    changed_at: datetime


def _effective(status: str, cfg: AlertsSettings) -> str:
    return status if RANK[status] >= RANK[cfg.min_severity] else "PASS"


def decide(
    con: duckdb.DuckDBPyConnection,
    observations: list[Observation],
    cfg: AlertsSettings,
    at: datetime,
) -> list[dict[str, Any]]:
    """Update alert_state with the observations; the messages their changes call for."""
    judged = [o for o in observations if o.status in RANK]
    if not judged:
        return []
    subjects = sorted({o.subject for o in judged})
    state = {
        subject: _State(status, notified, notified_at, changed_at)
        for subject, status, notified, notified_at, changed_at in con.execute(
            load_sql("alerts/read_state"), {"subjects": subjects}
        ).fetchall()
    }
    messages: list[dict[str, Any]] = []
    rows: dict[str, dict[str, Any]] = {}
    repeat = timedelta(minutes=cfg.repeat_minutes)
    for o in judged:
        old = state.get(o.subject)
        previous = old.status if old else None
        notified = old.notified_status if old else "PASS"
        notified_at = old.notified_at if old else None
        changed_at = old.changed_at if old and old.status == o.status else at
        now = _effective(o.status, cfg)
        kind = None
        if now != notified:
            kind = RESOLVED if now == "PASS" else PROBLEM
        elif now != "PASS" and cfg.repeat_minutes and notified_at and at - notified_at >= repeat:
            kind = REPEAT
        if kind is not None:
            messages.append(check_message(o, kind, previous, changed_at, cfg, at))
            notified, notified_at = now, at
        state[o.subject] = _State(o.status, notified, notified_at, changed_at)
        rows[o.subject] = {
            "subject": o.subject,
            "check_name": o.check,
            "asset": o.asset,
            "scope": o.scope,
            "partition_date": o.partition_date,
            "status": o.status,
            "notified_status": notified,
            "notified_at": notified_at,
            "changed_at": changed_at,
            "evaluated_at": at,
        }
    con.register("state_rows", pa.Table.from_pylist(list(rows.values()), _STATE_SCHEMA))
    try:
        con.execute(load_sql("alerts/write_state"))
    finally:
        con.unregister("state_rows")
    return messages
