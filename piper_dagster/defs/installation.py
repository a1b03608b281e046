"""`piper doctor --installation`, the rows that need Dagster: the instance in DAGSTER_HOME, its
storage, the daemon's heartbeats and piper's sensors (the others: piper_dagster/checks/installation.py).

Read-only: nothing is created (a missing DAGSTER_HOME is a FAIL naming `piper init`, not made).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType, TickStatus

from piper_dagster.checks import Status
from piper_dagster.checks.installation import Row, skipped, tcp_reachable
from piper_dagster.defs.keys import FRESHNESS_SENSOR, REFRESH_SENSOR, SPOOL_SENSOR
from piper_dagster.settings import Settings

DAGSTER_ITEMS = ("dagster_instance", "dagster_storage", "daemon_heartbeat", "sensors")
# A daemon heartbeats every 30 s (Dagster's DEFAULT_HEARTBEAT_INTERVAL_SECONDS): four missed
# beats mean it is gone (Dagster's own UI waits 30 min before it says so).
HEARTBEAT_FRESH_SECONDS = 120
PIPER_SENSORS = (SPOOL_SENSOR, REFRESH_SENSOR, FRESHNESS_SENSOR)
START_DAEMON = (
    "start the daemon: `dagster-daemon run` (docker compose: the daemon service) or `dagster dev`;"
    " without it no sensor ticks: nothing is ingested, refreshed or checked by itself"
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _postgres_unreachable() -> str | None:
    """Why the instance's Postgres cannot be reached (bounded), None if it answers."""
    host = os.environ.get("DAGSTER_PG_HOST", "")
    if not host:
        return "DAGSTER_PG_HOST is not set (dagster.storage = postgres needs DAGSTER_PG_*)"
    port = int(os.environ.get("DAGSTER_PG_PORT") or 5432)
    why = tcp_reachable(host, port)
    return None if why is None else f"postgres {host}:{port}: {why}"


def heartbeat_row(instance: dg.DagsterInstance, now: float) -> Row:
    """Every daemon this instance needs has beaten within HEARTBEAT_FRESH_SECONDS."""
    beats = instance.get_daemon_heartbeats()
    required = instance.get_required_daemon_types()
    missing = [t for t in required if t not in beats]
    stale = {
        t: now - beats[t].timestamp
        for t in required
        if t in beats and now - beats[t].timestamp > HEARTBEAT_FRESH_SECONDS
    }
    if missing or stale:
        found = [f"no heartbeat from {', '.join(missing)}"] if missing else []
        found += [f"{t} last beat {age:.0f} s ago" for t, age in sorted(stale.items())]
        return Row("daemon_heartbeat", Status.FAIL, "; ".join(found), START_DAEMON)
    errors = [
        f"{t}: {hb.errors[0].message.strip().splitlines()[0]}"
        for t, hb in sorted(beats.items())
        if t in required and hb.errors
    ]
    ages = max((now - beats[t].timestamp for t in required), default=0.0)
    value = f"{len(required)} daemons, latest beats within {ages:.0f} s"
    if errors:
        return Row(
            "daemon_heartbeat",
            Status.WARN,
            value,
            "a daemon reports errors: " + "; ".join(errors) + " (the daemon's log says more)",
        )
    return Row("daemon_heartbeat", Status.PASS, value)


def sensors_row(instance: dg.DagsterInstance) -> Row:
    """piper's sensors are running (default RUNNING unless stopped in the UI or the CLI), and
    their latest tick did not fail."""
    states: dict[str, list] = {}
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        states.setdefault(state.name, []).append(state)
    stopped, failing, seen = [], [], []
    for name in PIPER_SENSORS:
        mine = states.get(name, [])
        # No stored state: never toggled, running as declared in code. A state per code
        # location that served it: stopped only if stopped in every one.
        if mine and all(s.status == InstigatorStatus.STOPPED for s in mine):
            stopped.append(name)
            continue
        ticks = [
            tick
            for s in mine
            for tick in instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1)
        ]
        latest = max(ticks, key=lambda t: t.timestamp, default=None)
        if latest is None:
            seen.append(f"{name} never ticked")
        elif latest.status == TickStatus.FAILURE:
            error = latest.error.message.strip().splitlines()[0] if latest.error else "failed"
            failing.append(f"{name}: {error}")
        else:
            seen.append(f"{name} {time.time() - latest.timestamp:.0f} s ago")
    value = f"{len(PIPER_SENSORS) - len(stopped)} of {len(PIPER_SENSORS)} running"
    if stopped:
        return Row(
            "sensors",
            Status.FAIL,
            f"{value}; stopped: {', '.join(stopped)}",
            "start them in the Dagster UI (Automation) or `dagster sensor start <name>`",
        )
    if failing:
        return Row(
            "sensors",
            Status.WARN,
            value,
            "latest tick failed: " + "; ".join(failing) + " (the tick's log in the UI)",
        )
    if all(s.endswith("never ticked") for s in seen):
        return Row("sensors", Status.PASS, f"{value} (none has ticked yet)")
    return Row("sensors", Status.PASS, f"{value} ({', '.join(seen)})")


def dagster_rows(settings: Settings, home: Path, now: float | None = None) -> dict[str, Row]:
    """The instance, its storage, the daemon and the sensors, by item (never raises)."""
    now = time.time() if now is None else now
    rows: dict[str, Row] = {}

    def rest(why: str) -> dict[str, Row]:
        rows.update({r.item: r for r in skipped([i for i in DAGSTER_ITEMS if i not in rows], why)})
        return rows

    yaml = home / "dagster.yaml"
    if not yaml.is_file():
        what = "does not exist" if not home.is_dir() else "has no dagster.yaml"
        rows["dagster_instance"] = Row(
            "dagster_instance",
            Status.FAIL,
            str(home),
            f"DAGSTER_HOME {what}: run `piper init` (or set DAGSTER_HOME to the instance)",
        )
        return rest("needs the Dagster instance")
    if settings.dagster.storage == "postgres":
        why = _postgres_unreachable()
        if why is not None:
            rows["dagster_instance"] = Row(
                "dagster_instance", Status.SKIP, str(yaml), "not loaded: its storage is unreachable"
            )
            rows["dagster_storage"] = Row(
                "dagster_storage",
                Status.FAIL,
                why,
                "start Postgres or fix DAGSTER_PG_HOST / DAGSTER_PG_PORT (deploy/dagster.postgres.yaml)",
            )
            return rest("needs the instance's storage")
    try:
        instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    except Exception as exc:  # a broken dagster.yaml: the row says what Dagster said
        rows["dagster_instance"] = Row(
            "dagster_instance",
            Status.FAIL,
            str(yaml),
            f"does not load ({_first_line(exc)}): `piper init` rewrites piper's dagster.yaml",
        )
        return rest("needs the Dagster instance")
    with instance:
        rows["dagster_instance"] = Row(
            "dagster_instance", Status.PASS, f"{yaml} ({settings.dagster.storage})"
        )
        try:
            runs = instance.get_runs_count()
            instance.get_daemon_heartbeats()  # the schedule / daemon tables too
        except Exception as exc:
            rows["dagster_storage"] = Row(
                "dagster_storage",
                Status.FAIL,
                type(instance.run_storage).__name__,
                f"not readable ({_first_line(exc)}): check the files in DAGSTER_HOME or the"
                " database, then `dagster instance migrate`",
            )
            return rest("needs the instance's storage")
        rows["dagster_storage"] = Row(
            "dagster_storage",
            Status.PASS,
            f"{type(instance.run_storage).__name__}, {runs} runs",
        )
        rows["daemon_heartbeat"] = heartbeat_row(instance, now)
        rows["sensors"] = sensors_row(instance)
    return rows
