"""The CLI's run harness: one named Dagster run, in this process, that never hangs.

Without the daemon nobody else releases what a killed run held, so every piper run
- is created with this process's pid and host in its tags (piper/pid, piper/host): a run killed
  at any point, even before its first step, is recognised as dead by the next command;
- marks failed the runs whose process is gone, and frees their pool slots, before it starts and
  every few seconds while it runs (a watcher thread), then reports what they had committed;
- says once what it waits for (the `duckdb` pool slot: which run, which pid, since when), then
  every 30 s, and gives up after `dagster.wait_seconds` with one line (exit 2);
- sleeps while it waits: Dagster 1.13's in-process executor polls a blocked pool claim in a
  tight loop (`interval_to_next_pending_claim_check` is never positive), ~75 % of a core;
- ends on Ctrl-C or SIGTERM within a second or two of a wait, its run canceled, slots freed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.storage.dagster_run import make_new_run_id
from dagster._utils.interrupts import check_captured_interrupt

from piper_dagster.dagster_home import DAGSTER_URL
from piper_dagster.defs.execution import _stop, install_wait_fix, progress_to
from piper_dagster.defs.keys import COMMAND_TAG
from piper_dagster.defs.runs import (
    HOST,
    committed_partitions,
    reap_dead_runs,
    report_pending_committed,
    run_process,
)
from piper_dagster.warehouse import WaitTimeout, WarehouseError

if TYPE_CHECKING:
    from piper_dagster.ingest.run import IngestProgress
    from piper_dagster.settings import Settings

log = logging.getLogger(__name__)

POOL = "duckdb"
WATCH_SECONDS = 2.0  # the watcher reaps dead runs and looks at the pool this often
SAY_EVERY_SECONDS = 30.0


class Interrupted(Exception):
    """Ctrl-C or SIGTERM ended a piper command (its run is canceled, its slots freed)."""


# --- the watcher ---------------------------------------------------------------------------------


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S")


def _since(timestamp: float | None) -> str:
    if timestamp is None:
        return "an unknown time"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Watcher(threading.Thread):
    """Reaps dead runs and reports (once, then every 30 s) what our run waits for."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        settings: Settings,
        run_id: str,
        say: Callable[[str], None],
    ) -> None:
        super().__init__(name="piper-run-watcher", daemon=True)
        self.instance, self.settings, self.run_id, self.say = instance, settings, run_id, say
        self.done = threading.Event()
        self.waiting_since: float | None = None
        self.said_at = 0.0
        self.cursor: str | None = None

    def run(self) -> None:
        while not self.done.wait(WATCH_SECONDS):
            try:
                self.tick()
            except Exception as exc:  # a flaky read must not kill the watch; say it, go on
                log.warning("run watcher: %s", exc)
        try:
            self.steps()  # the last steps' lines
        except Exception as exc:
            log.warning("run watcher: %s", exc)

    def steps(self) -> None:
        """One line per finished step: a long run is never silent (the bar covers the spool)."""
        from dagster._core.events import DagsterEventType

        kinds = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        page = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=kinds)
        self.cursor = page.cursor
        for record in page.records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is None:
                continue
            done = "done" if event.event_type == DagsterEventType.STEP_SUCCESS else "FAILED"
            self.say(f"  {event.step_key} {done} ({_clock(entry.timestamp)})")

    def tick(self) -> None:
        self.steps()
        reaped = reap_dead(self.instance, self.settings)
        if reaped:
            self.say(f"released the pool slots of {len(reaped)} dead run(s): {', '.join(reaped)}")
            _stop.released.set()
            _stop.wake.set()
        info = self.instance.event_log_storage.get_concurrency_info(POOL)
        ours = [p for p in info.pending_steps if p.run_id == self.run_id]
        holders = [c.run_id for c in info.claimed_slots if c.run_id != self.run_id]
        if not ours or not holders:
            self.waiting_since = None
            return
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since, self.said_at = now, 0.0
        waited = now - self.waiting_since
        bound = self.settings.dagster.wait_seconds
        what = self.describe(holders[0])
        if waited >= bound:
            _stop.reason = (
                f"gave up after {bound} s waiting for the {POOL} pool slot held by {what}:"
                " let it finish (see the Dagster UI), or stop it, then run the command again"
                " (dagster.wait_seconds sets the bound)"
            )
            _stop.wake.set()
        elif self.said_at == 0.0 or now - self.said_at >= SAY_EVERY_SECONDS:
            prefix = "waiting" if self.said_at == 0.0 else f"still waiting ({waited:.0f} s)"
            self.say(f"{prefix} for the {POOL} pool slot held by {what}; giving up after {bound} s")
            self.said_at = now

    def describe(self, run_id: str) -> str:
        record = self.instance.get_run_record_by_id(run_id)
        if record is None:
            return f"run {run_id}"
        run = record.dagster_run
        pid, host = run_process(self.instance, run)
        where = f"pid {pid}" + (f" on {host}" if host and host != HOST else "") if pid else "?"
        started = record.start_time or record.create_timestamp.timestamp()
        name = run.tags.get(COMMAND_TAG) or run.job_name
        return f"run {run_id} ({name}, {where}, since {_since(started)})"


def reap_dead(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """reap_dead_runs as the CLI does it: runs of this host; untagged runs (the daemon's) only
    with the embedded instance, whose runs all execute on this machine."""
    return reap_dead_runs(
        instance,
        settings.dagster.retry_after_seconds,
        trust_untagged=settings.dagster.storage == "sqlite",
        on_committed=committed_partitions(settings),
    )


# --- one run -------------------------------------------------------------------------------------


def _raise_on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """SIGTERM ends a piper command like Ctrl-C (Python's default would skip every cleanup)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_on_signal)


def execute(
    settings: Settings,
    job: dg.JobDefinition,
    *,
    asset_selection: list[dg.AssetKey] | None,
    tags: dict[str, str],
    run_config: dict[str, Any] | None,
    verbose: bool,
    say: Callable[[str], None],
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> Any:
    """Execute `job` in this process on the instance, recorded and visible in the UI."""
    from piper_dagster.defs.runs import process_tags

    install_wait_fix()
    run_id = make_new_run_id()
    config: dict[str, Any] = dict(run_config or {})
    if not verbose:
        # The event log goes to the instance (the UI) in full; the terminal gets piper's lines.
        config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    with dg.DagsterInstance.get() as instance:
        reaped = reap_dead(instance, settings)  # before any wait
        if reaped:
            say(f"released the pool slots of {len(reaped)} dead run(s): {', '.join(reaped)}")
        _stop.reason = None
        _stop.released.clear()
        say(f"run {run_id} ({job.name}, {tags.get('piper/range', '')}): {run_url(run_id)}")
        watcher = _Watcher(instance, settings, run_id, say)
        watcher.start()
        try:
            with progress_to(on_progress):
                result = job.execute_in_process(
                    run_config=config or None,
                    instance=instance,
                    asset_selection=asset_selection,
                    run_id=run_id,
                    tags={**tags, **process_tags()},
                    raise_on_error=False,
                )
        except KeyboardInterrupt:
            _stop.reason = _stop.reason or "interrupted"
            result = None
        finally:
            watcher.done.set()
            watcher.join(timeout=5)
            _settle(instance, run_id)
        reason, _stop.reason = _stop.reason, None
        if reason is None and check_captured_interrupt():
            reason = "interrupted"
        if reason is not None and reason != "interrupted":
            raise WaitTimeout(reason)
        if reason == "interrupted" or _was_interrupted(result):
            raise Interrupted(f"interrupted: run {run_id} stopped, its pool slots freed")
        said = _operator_error(result)
        if said is not None:  # a damaged warehouse, a full disk: the run failed, one line says why
            raise WarehouseError(f"{said} (run {run_id})")
        report_pending_committed(instance, committed_partitions(settings))
        return result


def run_url(run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{DAGSTER_URL}/runs/{run_id}"


# A signal that lands inside a step (inside a DuckDB query: DuckDB's own interrupt) fails the
# step with one of these, not the run with UNEXPECTED_TERMINATION.
_INTERRUPT_ERRORS = {"DagsterExecutionInterruptedError", "InterruptException", "KeyboardInterrupt"}


def _was_interrupted(result: Any) -> bool:
    """Whether a signal ended the run (between steps, or inside one)."""
    if result is None:
        return True
    for event in result.all_events:
        if event.is_run_failure:
            reason = getattr(event.event_specific_data, "failure_reason", None)
            if reason is not None and reason.value == "UNEXPECTED_TERMINATION":
                return True
    return any(error.cls_name in _INTERRUPT_ERRORS for error in _step_errors(result))


def _error_names(cls: type[BaseException]) -> set[str]:
    return {cls.__name__}.union(*(_error_names(c) for c in cls.__subclasses__()))


def _step_errors(result: Any) -> Iterator[Any]:
    """Every error of the run's failed steps, causes and contexts included (Dagster keeps their
    class names and texts)."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        todo = [event.step_failure_data.error]
        while todo:
            error = todo.pop(0)
            if error is not None:
                yield error
                todo += [error.cause, error.context]


def _operator_error(result: Any) -> str | None:
    """The one-line message of a step that failed on a WarehouseError (damaged warehouse, full
    disk, a wait given up): Dagster keeps only its text, in the step failure's error chain."""
    names = _error_names(WarehouseError)
    for error in _step_errors(result):
        if error.cls_name in names:
            text = error.message.strip().splitlines()[0]
            head, sep, rest = text.partition(": ")
            return rest if sep and head.rsplit(".", 1)[-1] == error.cls_name else text
    return None


def _settle(instance: dg.DagsterInstance, run_id: str) -> None:
    """No run of ours is left "started" and no slot held, whatever happened."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, message="piper: the command was interrupted")
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
