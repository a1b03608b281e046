"""The spool planner: what each spool file needs, from stat() and the checkpoints alone.

One planner for the spool sensor, `piper ingest` (its plan and dry run), the reaper's question
"which dates did a dead run finish?" and the ingest itself: they all call plan_spool, so they
can never disagree on what is new, grown, changed, unchanged or still settling.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from piper_dagster.settings import Settings
from piper_dagster.spool.checkpoint import FileState
from piper_dagster.spool.discovery import SpoolFile, scan_spool


@dataclass
class FilePlan:
    file: SpoolFile
    state: FileState | None
    status: str  # new | grown | changed | unchanged | waiting


@dataclass
class IngestPlan:
    files: list[FilePlan]

    def counts(self) -> Counter[str]:
        return Counter(p.status for p in self.files)

    @property
    def to_read(self) -> list[FilePlan]:
        return [p for p in self.files if p.status in ("new", "grown", "changed")]

    @property
    def spool_dates_to_read(self) -> list[date]:
        return sorted({p.file.spool_date for p in self.to_read})

    def to_read_by_date(self, first: date, last: date) -> dict[date, list[FilePlan]]:
        """The files to read on each spool date in first..last (the partitions), by date."""
        by_date: dict[date, list[FilePlan]] = {}
        for p in self.to_read:
            if first <= p.file.spool_date <= last:
                by_date.setdefault(p.file.spool_date, []).append(p)
        return dict(sorted(by_date.items()))

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c['new']} files new, {c['grown']} grown, {c['changed']} changed, "
            f"{c['unchanged']} unchanged, {c['waiting']} waiting to settle"
        )


def plan_ingest(
    files: Iterable[SpoolFile],
    states: dict[str, FileState],
    *,
    now_ns: int,
    settle_seconds: float,
    dates: tuple[date, date] | None = None,
    reread: bool = False,
) -> IngestPlan:
    """Decide, from stat() alone, what each spool file needs (`dates`: inclusive range)."""
    plans = []
    for f in files:
        if dates and not dates[0] <= f.spool_date <= dates[1]:
            continue
        state = None if reread else states.get(f.source_file)
        if not f.settled(now_ns, settle_seconds):
            status = "waiting"
        elif state is None:
            status = "new"
        elif f.size == state.size_seen and f.mtime_ns == state.mtime_ns:
            status = "unchanged"
        elif f.size > state.size_seen and f.size >= state.offset_bytes:
            status = "grown"
        else:
            status = "changed"  # shrank, or rewritten in place: verified when read
        plans.append(FilePlan(f, state, status))
    plans.sort(key=lambda p: (p.file.spool_date, p.file.source_file))
    return IngestPlan(plans)


def plan_spool(
    settings: Settings,
    states: Callable[[], dict[str, FileState]],
    *,
    now_ns: int | None = None,
    dates: tuple[date, date] | None = None,
    reread: bool = False,
) -> IngestPlan:
    """Scan the spool, load the read states (`states`: how this caller reads them), plan.

    Settledness is judged against the clock after both (`now_ns` for tests and tools)."""
    files = list(scan_spool(settings.require_raw_root()))
    return plan_ingest(
        files,
        states(),
        now_ns=now_ns if now_ns is not None else time.time_ns(),
        settle_seconds=settings.ingest.settle_seconds,
        dates=dates,
        reread=reread,
    )
