"""Runs that died with their process: marked failed so they release the `duckdb` pool slot.

With the default run launcher Dagster cannot check a run worker's health: a run whose process
was killed (kill -9, the OOM killer, a reboot) stays "started" and keeps its pool slot forever,
blocking every later warehouse write. The sensors call `reap_dead_runs` on each tick, and every
piper command calls it before and while it waits (piper_dagster/cli/runner.py): no daemon needed.

A run's process is known from the `piper/pid` and `piper/host` tags the CLI writes when it
creates the run (so a run killed before its first step is recognised), else from the engine
event "Executing steps in process (pid: N)". A pid on another host is never judged.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.events import DagsterEventType

from piper_dagster.defs.keys import (
    COMMITTED_TAG,
    HOST_TAG,
    PARTITION_TAG,
    PID_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SPOOL_EVENTS,
)

if TYPE_CHECKING:
    from piper_dagster.settings import Settings

HOST = socket.gethostname()
# What a reaped spool run committed is reported as runless materializations (see
# `report_pending_committed`): the run's COMMITTED_TAG says whether that is still to do.

# Runs that can hold (or be about to claim) a pool slot.
_LIVE = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def process_tags() -> dict[str, str]:
    """Tags naming this process: a run created with them is reaped once the process is gone."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: HOST}


def _engine_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run's steps execute in (from its 'Executing steps in process' event)."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) if event else None
        value = (metadata or {}).get("pid")
        if value is not None:
            return int(getattr(value, "value", value))
    return None


def run_process(
    instance: dg.DagsterInstance, run: dg.DagsterRun, trust_untagged: bool = True
) -> tuple[int | None, str | None]:
    """(pid, host) of the process executing `run`; host None when only the engine event knows
    the pid (then it is trusted to be on this host only if `trust_untagged`)."""
    tags = run.tags
    if PID_TAG in tags:
        return int(tags[PID_TAG]), tags.get(HOST_TAG)
    pid = _engine_pid(instance, run.run_id)
    return pid, (HOST if trust_untagged and pid is not None else None)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def is_dead(instance: dg.DagsterInstance, run: dg.DagsterRun, trust_untagged: bool) -> int | None:
    """The pid of `run`'s process if it is certainly gone (on this host), else None."""
    pid, host = run_process(instance, run, trust_untagged)
    if pid is None or host != HOST or pid == os.getpid() or alive(pid):
        return None
    return pid


def reap_dead_runs(
    instance: dg.DagsterInstance,
    older_than_seconds: float,
    *,
    trust_untagged: bool = True,
    on_committed: Callable[[dg.DagsterRun], list[date] | None] | None = None,
) -> list[str]:
    """Mark failed the live runs whose process is gone, and free their pool slots.

    Runs tagged with their pid and host are judged at once; the others (launched by the daemon
    or the UI) only `older_than_seconds` after they started, from their engine event's pid, and
    only if `trust_untagged`. `on_committed(run)` returns the spool partitions a dead run had
    fully committed, reported as materialized (None: cannot tell now, try again next time).
    """
    reaped = []
    now = time.time()
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=_LIVE)):
        run = record.dagster_run
        if PID_TAG not in run.tags:
            started = record.start_time or record.create_timestamp.timestamp()
            if now - started < older_than_seconds:
                continue
        pid = is_dead(instance, run, trust_untagged)
        if pid is None:
            continue
        message = f"piper: the run's process (pid {pid} on {HOST}) is gone"
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message=message)
        else:
            instance.report_run_failed(run, message=message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        if on_committed is not None:
            instance.add_run_tags(run.run_id, {COMMITTED_TAG: "pending"})
        reaped.append(run.run_id)
    if on_committed is not None:
        report_pending_committed(instance, on_committed)
    return reaped


def report_pending_committed(
    instance: dg.DagsterInstance, on_committed: Callable[[dg.DagsterRun], list[date] | None]
) -> None:
    """Report the spool partitions reaped runs had committed, as runless materializations.

    Their data is in the warehouse (offsets commit with it): the partitions are materialized,
    not failed. Runs whose answer was not known yet (warehouse busy) are tried again later."""
    pending = instance.get_runs(filters=dg.RunsFilter(tags={COMMITTED_TAG: "pending"}))
    for run in pending:
        days = on_committed(run)
        if days is None:
            continue
        for day in days:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=SPOOL_EVENTS,
                    partition=day.isoformat(),
                    description=f"committed by run {run.run_id} before its process died",
                    metadata={"recovered_from_run": run.run_id},
                )
            )
        instance.add_run_tags(run.run_id, {COMMITTED_TAG: "done"})


def committed_partitions(settings: Settings) -> Callable[[dg.DagsterRun], list[date] | None]:
    """For the reaper: the spool partitions a dead run had fully committed (None: warehouse
    busy, ask again later). Fully: the run read some of the date's files and nothing settled
    is left to read on that date."""
    import duckdb

    from piper_dagster.spool.checkpoint import load_states
    from piper_dagster.spool.planner import plan_spool
    from piper_dagster.sql import load_sql

    def answer(run: dg.DagsterRun) -> list[date] | None:
        # A run of a named job has an empty selection (the job's); a subset names its assets.
        if run.asset_selection and dg.AssetKey(SPOOL_EVENTS) not in run.asset_selection:
            return []
        first = run.tags.get(RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
        last = run.tags.get(RANGE_END_TAG) or first
        if not first or not last or not settings.warehouse_path.exists():
            return []
        try:
            con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        except duckdb.IOException:
            return None  # a run is writing it: next time
        try:
            rows = con.execute(
                load_sql("runs/committed_spool_dates"),
                {"run_id": run.run_id, "first": first, "last": last},
            ).fetchall()
            states = load_states(con)
        finally:
            con.close()
        days = {r[0] for r in rows}
        if not days:
            return []
        plan = plan_spool(settings, lambda: states, dates=(min(days), max(days)))
        return sorted(days - set(plan.spool_dates_to_read))

    return answer
