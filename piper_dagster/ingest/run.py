"""The ingest run: spool files -> silver_events + quarantine, batch after batch.

Plan (the spool planner), frame the new bytes into batches, write each batch with its
checkpoints in one transaction, then derive Parquet and the per-day quarantine files from the
tables (export_pending records what to rewrite). A crash at any point loses nothing and a
rerun continues exactly where the last commit stopped.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from piper_dagster.ingest.batch import write_batch
from piper_dagster.ingest.counters import LineCounters, PhaseClock
from piper_dagster.ingest.export import export_pending
from piper_dagster.ingest.framing import iter_batches
from piper_dagster.settings import Settings
from piper_dagster.spool.checkpoint import load_states
from piper_dagster.spool.planner import plan_spool
from piper_dagster.spool.report import issue_lines, record_issues
from piper_dagster.warehouse import connect, use_privacy

log = logging.getLogger("piper.ingest")


@dataclass(kw_only=True)
class IngestResult(LineCounters):
    """A run's line counters (the sum of its batches') and what else it did."""

    run_id: str
    plan_summary: str = ""
    files_seen: int = 0
    files_read: int = 0
    bytes_read: int = 0
    refresh_pending: list[date] = field(default_factory=list)  # the refresh ledger after the run
    spool_dates: set[date] = field(default_factory=set)
    anomalies: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # spool entries not read, and why
    future_mtime: list[dict[str, str]] = field(default_factory=list)  # read, but reported
    batches: int = 0
    seconds: float = 0.0
    # read (files → batches), split, validate, write, commit, export: where the time went
    phase_seconds: Counter[str] = field(default_factory=Counter)

    def metadata(self) -> dict[str, Any]:
        secs = max(self.seconds, 1e-9)
        return {
            "plan": self.plan_summary,
            "files_seen": self.files_seen,
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "lines": self.lines,
            "events": self.events,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "invalid_by_reason": dict(sorted(self.invalid_by_reason.items())),
            "blank_lines": self.blank_lines,
            "nul_padding_lines": self.nul_padding_lines,
            "skewed": self.skewed,
            "anomalies": self.anomalies,
            "skipped": self.skipped,
            "future_mtime": self.future_mtime,
            "event_dates": [d.isoformat() for d in sorted(self.event_dates)],
            "refresh_pending": [d.isoformat() for d in self.refresh_pending],
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
            "lines_per_second": round(self.lines / secs),
            "mb_per_second": round(self.bytes_read / secs / 1e6, 2),
        }


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest stands after a batch (or before the first): for a progress display."""

    files_done: int  # files read to their planned end
    files_total: int
    bytes_done: int
    bytes_total: int  # settled bytes the plan will read (estimate: stat() sizes)
    batches: int


def ingest(
    settings: Settings,
    *,
    dates: tuple[date, date] | None = None,
    run_id: str | None = None,
    limit: int | None = None,
    reread: bool = False,
    dry_run: bool = False,
    now_ns: int | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
    on_batch: Callable[[IngestProgress], None] | None = None,
) -> IngestResult:
    """Read every settled new byte of the spool (optionally only spool dates in `dates`)."""
    raw_root = settings.require_raw_root()
    settings.require_data_root()
    say = on_progress or log.info
    result = IngestResult(run_id=run_id or f"adhoc-{uuid.uuid4()}")
    started = time.perf_counter()
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        clock = PhaseClock(result.phase_seconds)
        plan = plan_spool(
            settings, lambda: load_states(con), now_ns=now_ns, dates=dates, reread=reread
        )
        to_read = plan.to_read[:limit] if limit is not None else plan.to_read
        result.plan_summary = plan.summary()
        result.files_seen = len(plan.files)
        result.spool_dates = {p.file.spool_date for p in to_read}
        say(
            f"plan: {result.plan_summary}"
            + (f"; reading {len(to_read)} (limit)" if limit is not None else "")
        )
        result.skipped = [i.as_dict() for i in plan.skipped]
        result.future_mtime = [i.as_dict() for i in plan.issues if not i.skipped]
        for line in issue_lines(plan.issues):  # skipped spool entries: the operator's news
            (on_warning or log.warning)(line)
        clock.lap("plan")
        if dry_run:
            return result
        record_issues(con, plan.issues, result.run_id)  # the pipeline-health dashboard's
        # Progress for the caller (the CLI draws a bar from it): bytes drive the estimate.
        bytes_total = sum(
            p.file.size - (p.state.offset_bytes if p.state and p.status == "grown" else 0)
            for p in to_read
        )
        done_files: set[int] = set()
        if on_batch:
            on_batch(IngestProgress(0, len(to_read), 0, bytes_total, 0))
        batches = iter_batches(to_read, raw_root, settings.ingest.batch_bytes, result.anomalies)
        for batch_no, batch in enumerate(batches, 1):
            clock.lap("read")
            phases: Counter[str] = Counter()
            counted = write_batch(
                con,
                batch,
                raw_root=raw_root,
                skew_seconds=settings.ingest.skew_tolerance_seconds,
                run_id=result.run_id,
                batch_no=batch_no,
                phase_seconds=phases,
            )
            result.batches = batch_no
            result.bytes_read += batch.nbytes
            result.add(counted)
            say(
                f"batch {batch_no}: {len(batch.progress)} files, {batch.nbytes / 1e6:.1f} MB,"
                f" {counted.lines} lines, {counted.events} events, {counted.duplicates}"
                f" duplicates, {counted.invalid} invalid"
            )
            result.phase_seconds.update(phases)
            if on_batch:
                # A file read to its end records its stat() size as size_seen (see Progress).
                done_files.update(
                    i for i, pr in batch.progress.items() if pr.size_seen == to_read[i].file.size
                )
                on_batch(
                    IngestProgress(
                        min(len(done_files), len(to_read)),
                        len(to_read),
                        min(result.bytes_read, bytes_total),
                        bytes_total,
                        batch_no,
                    )
                )
            if after_batch:
                after_batch(batch_no)
            clock = PhaseClock(result.phase_seconds)
        result.files_read = len(to_read)
        exported = export_pending(con, settings)
        clock.lap("export")
        if exported:
            say(f"exported {exported}")
        # What waits for a refresh, this run's dates and any a dead run or a failed refresh left
        # (the refresh ledger, drained by the late-data sensor and the CLI).
        result.refresh_pending = sorted(
            r[0] for r in con.execute("SELECT DISTINCT event_date FROM refresh_pending").fetchall()
        )
    result.seconds = time.perf_counter() - started
    return result
