"""Runs that died with their process: marked failed so they release the `duckdb` pool slot.

With the default run launcher Dagster cannot check a run worker's health: a run whose process
was killed (with the daemon, by the OOM killer...) stays "started" and keeps its pool slot
forever, blocking every later warehouse write. The sensors call `reap_dead_runs` on each tick.
"""

import os
import time

import dagster as dg
from dagster._core.events import DagsterEventType


def _run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run's steps execute in (from its 'Executing steps in process' event)."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) if event else None
        value = (metadata or {}).get("pid")
        if value is not None:
            return int(getattr(value, "value", value))
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def reap_dead_runs(instance: dg.DagsterInstance, older_than_seconds: float) -> list[str]:
    """Mark failed the runs started over `older_than_seconds` ago whose process is gone."""
    reaped = []
    now = time.time()
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
    )
    for record in records:
        started = record.start_time or record.create_timestamp.timestamp()
        if now - started < older_than_seconds:
            continue
        run_id = record.dagster_run.run_id
        pid = _run_pid(instance, run_id)
        if pid is None or _alive(pid):
            continue
        instance.report_run_failed(
            record.dagster_run, message=f"piper: the run's process (pid {pid}) is gone"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        reaped.append(run_id)
    return reaped
