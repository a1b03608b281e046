"""Test helpers shared by the test modules (no test module imports another): events, and the
Dagster definitions and sensors as the code location builds them from the current settings."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

import dagster as dg

from piper_dagster.definitions import build_definitions
from piper_dagster.defs.keys import REFRESH_SENSOR, SPOOL_SENSOR
from piper_dagster.settings import load_settings


def ev(n: int, ts: str = "2026-03-04T10:00:00Z", **extra: object) -> bytes:
    """One valid spool line (a dcc.launch event), `n` making it unique."""
    event = {
        "schema_version": "1.0",
        "event_id": f"evt-{n}",
        "event_type": "dcc.launch",
        "ts": ts,
        "host": "ws001",
        "user": "alice",
        "payload": {"status": "success", "duration_ms": n, "dcc": "maya"},
        **extra,
    }
    return json.dumps(event).encode() + b"\n"


@cache
def _built(start_date: date, interval: int, cron: str, runbook_url: str) -> dg.Definitions:
    return build_definitions(load_settings())


def defs() -> dg.Definitions:
    """The definitions for the settings of now (the environment the test set), built once per
    distinct value of the settings they depend on; the rest is read by the resource at use."""
    s = load_settings()
    return _built(
        s.ingest.start_date,
        s.dagster.sensor_interval_seconds,
        s.checks.freshness_cron,
        s.checks.runbook_url,
    )


def spool_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """One tick of the code location's spool sensor."""
    return defs().resolve_sensor_def(SPOOL_SENSOR)(context)


def touched_event_dates_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """One tick of the code location's refresh sensor."""
    return defs().resolve_sensor_def(REFRESH_SENSOR)(context)
