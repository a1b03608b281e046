"""The spool planner: what each spool file needs, from stat() and the checkpoints alone.

One planner for the spool sensor, `piper ingest` (its plan and dry run), the reaper's question
"which dates did a dead run finish?" and the ingest itself: they all call plan_spool, so they
can never disagree on what is new, grown, changed, unchanged, still settling or skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from piper_dagster.settings import Settings
from piper_dagster.spool.checkpoint import FileState
from piper_dagster.spool.discovery import (
    BEFORE_START_DATE,
    FUTURE_MTIME,
    SpoolFile,
    SpoolIssue,
    name_date,
    survey_spool,
)


@dataclass
class FilePlan:
    file: SpoolFile
    state: FileState | None
    status: str  # new | grown | changed | unchanged | waiting


@dataclass
class IngestPlan:
    files: list[FilePlan]
    # Entries skipped (a name that is not UTF-8, an OSError, no possible partition) and files
    # read but reported (a future mtime): whatever `dates` the plan was asked for.
    issues: list[SpoolIssue] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(p.status for p in self.files)

    @property
    def skipped(self) -> list[SpoolIssue]:
        return [i for i in self.issues if i.skipped]

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
        future = sum(1 for i in self.issues if i.kind == FUTURE_MTIME)
        return (
            f"{c['new']} files new, {c['grown']} grown, {c['changed']} changed, "
            f"{c['unchanged']} unchanged, {c['waiting']} waiting to settle, "
            f"{len(self.skipped)} skipped" + (f", {future} with a future mtime" if future else "")
        )


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _before_start(f: SpoolFile, first: date) -> SpoolIssue:
    named = name_date(f.source_file.rsplit("/", 1)[-1])
    shown = [f"name {named}"] if named else []
    shown.append(f"mtime {_iso(f.mtime_ns)[:10]}")
    if f.ctime_ns is not None:
        shown.append(f"ctime {_iso(f.ctime_ns)[:10]}")
    return SpoolIssue(
        f.source_file,
        BEFORE_START_DATE,
        f"no date it can take is a partition ({', '.join(shown)}; ingest.start_date {first}):"
        f" lower ingest.start_date to {f.spool_date} or earlier to read it",
    )


def _future_mtime(f: SpoolFile, settle_seconds: float) -> SpoolIssue:
    return SpoolIssue(
        f.source_file,
        FUTURE_MTIME,
        f"its mtime {_iso(f.mtime_ns)} is in the future: read once unchanged for"
        f" {settle_seconds:g} s by its ctime, spool date {f.spool_date}, clock skew judged"
        " by its ctime; fix the clock (or the copy) that set it",
    )


def plan_ingest(
    files: Iterable[SpoolFile],
    states: dict[str, FileState],
    *,
    now_ns: int,
    settle_seconds: float,
    dates: tuple[date, date] | None = None,
    reread: bool = False,
    issues: Iterable[SpoolIssue] = (),
    first: date | None = None,
    future_after_ns: int | None = None,
) -> IngestPlan:
    """Decide, from stat() alone, what each spool file needs (`dates`: inclusive range).

    `issues`: what the scan skipped (reported as they are); `first`: ingest.start_date (a file
    whose spool date is before it, with bytes to read, is skipped and reported); a file with
    bytes to read whose mtime is after `future_after_ns` is reported (FUTURE_MTIME)."""
    plans = []
    found = list(issues)
    for f in files:
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
        if status != "unchanged":  # news only while there is something to read
            if first is not None and f.spool_date < first:
                found.append(_before_start(f, first))
                continue  # no partition can hold it: never read, never requested
            if future_after_ns is not None and f.mtime_ns > future_after_ns:
                found.append(_future_mtime(f, settle_seconds))
        if dates and not dates[0] <= f.spool_date <= dates[1]:
            continue
        plans.append(FilePlan(f, state, status))
    plans.sort(key=lambda p: (p.file.spool_date, p.file.source_file))
    return IngestPlan(plans, found)


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
    first = settings.ingest.start_date
    # A dated plan (a run's partitions) never looks at files dated before its range: a tick's run
    # stat()s today's files, not the year's (docs/design.md "A year at scale").
    since = dates[0] if dates else None
    survey = survey_spool(settings.require_raw_root(), first=first, since=since)
    now = now_ns if now_ns is not None else time.time_ns()
    return plan_ingest(
        survey.files,
        states(),
        now_ns=now,
        settle_seconds=settings.ingest.settle_seconds,
        dates=dates,
        reread=reread,
        issues=survey.issues,
        first=first,
        # An mtime ahead by more than the clock-skew tolerance: beyond a file server's drift.
        future_after_ns=now + int(settings.ingest.skew_tolerance_seconds * 1e9),
    )
