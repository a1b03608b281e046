"""How a piper run executes in its process: the in-process executor's wait for a pool slot, and
the ingest's progress for the command that runs it (piper_dagster/cli/runner.py drives both).

Dagster 1.13's in-process executor polls a blocked pool claim in a tight loop
(`interval_to_next_pending_claim_check` is never positive), ~75 % of a core, and never looks at
the Ctrl-C/SIGTERM Dagster captured: `install_wait_fix` makes it sleep, and end on a stop request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dagster._core.execution.plan.active import ActiveExecution
from dagster._utils.interrupts import check_captured_interrupt

if TYPE_CHECKING:
    from piper_dagster.ingest.run import IngestProgress

POLL_SECONDS = 1.0  # a blocked run re-checks its stop flag and the pool this often


@dataclass
class _Stop:
    """Why the running piper run must end now (set by the watcher or a signal)."""

    reason: str | None = None  # "interrupted" or the one-line timeout message
    released: threading.Event = field(default_factory=threading.Event)  # slots were freed
    wake: threading.Event = field(default_factory=threading.Event)


_stop = _Stop()


def _raise_if_stopping() -> None:
    if check_captured_interrupt() and _stop.reason is None:
        _stop.reason = "interrupted"  # Dagster captured the signal; nothing else looks at it here
    if _stop.reason is not None:
        raise KeyboardInterrupt(_stop.reason)


def _sleep_til_ready(self: ActiveExecution) -> None:
    """ActiveExecution.sleep_til_ready that sleeps while a pool claim is blocked, and ends on a
    stop request (signal, wait bound) instead of looping forever."""
    _raise_if_stopping()
    concurrency = self._instance_concurrency_context
    blocked = concurrency is not None and concurrency.has_pending_claims()
    if blocked and _stop.released.is_set():
        # A dead run's slot was just freed: claim again now, not after the claim's backoff.
        _stop.released.clear()
        pending = concurrency._pending_timeouts  # type: ignore[union-attr]
        for key in list(pending):
            pending[key] = 0.0
        return
    seconds = self.sleep_interval()
    if blocked:
        seconds = POLL_SECONDS  # never spin: Dagster's own interval is <= 0 here
    if seconds > 0:
        _stop.wake.wait(min(seconds, POLL_SECONDS))
        _stop.wake.clear()
    _raise_if_stopping()


def install_wait_fix() -> None:
    """Replace the in-process executor's wait (idempotent); see the module docstring."""
    ActiveExecution.sleep_til_ready = _sleep_til_ready  # type: ignore[method-assign]


_progress_sink: Callable[[IngestProgress], None] | None = None


def report_progress(progress: IngestProgress) -> None:
    """Called by the spool asset after each batch; shown by the CLI that runs it, if any."""
    if _progress_sink is not None:
        _progress_sink(progress)


@contextmanager
def progress_to(sink: Callable[[IngestProgress], None] | None) -> Iterator[None]:
    global _progress_sink
    previous, _progress_sink = _progress_sink, sink
    try:
        yield
    finally:
        _progress_sink = previous
