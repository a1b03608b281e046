"""The ingest: spool files -> silver_events + quarantine, in batches that commit with their offsets.

Each batch (bounded bytes, possibly many small files) is validated in one DuckDB query and written
in one transaction together with the files' new offsets: a crash at any point loses nothing and
a rerun continues exactly where the last commit stopped. Parquet and the per-day quarantine files
are derived from the tables afterwards (export_pending records what to rewrite).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from piper_dagster.ingest.export import export_pending
from piper_dagster.ingest.validate import classify_sql
from piper_dagster.settings import Settings
from piper_dagster.spool.discovery import SpoolFile, scan_spool
from piper_dagster.spool.reader import (
    QUARANTINE_PREFIX_BYTES,
    LongLine,
    Piece,
    fingerprints,
    read_new_lines,
)
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect, use_privacy

log = logging.getLogger("piper.ingest")

# Statuses of lines that are not quarantined.
NOT_REJECTED = ("event", "blank", "nul_padding")


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    offset_bytes: int
    lines_read: int
    size_seen: int
    mtime_ns: int
    head_md5: str
    tail_md5: str
    generation: int


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

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c['new']} files new, {c['grown']} grown, {c['changed']} changed, "
            f"{c['unchanged']} unchanged, {c['waiting']} waiting to settle"
        )


def load_states(con: duckdb.DuckDBPyConnection) -> dict[str, FileState]:
    rows = con.execute(
        "SELECT source_file, offset_bytes, lines_read, size_seen, mtime_ns, head_md5, tail_md5,"
        " generation FROM spool_files"
    ).fetchall()
    return {r[0]: FileState(*r[1:]) for r in rows}


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


# --- the result ----------------------------------------------------------------------------------


@dataclass
class IngestResult:
    run_id: str
    plan_summary: str = ""
    files_seen: int = 0
    files_read: int = 0
    bytes_read: int = 0
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    nul_padding_lines: int = 0
    skewed: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    event_dates: set[date] = field(default_factory=set)  # this run added events to them
    refresh_pending: list[date] = field(default_factory=list)  # the refresh ledger after the run
    spool_dates: set[date] = field(default_factory=set)
    anomalies: list[dict[str, str]] = field(default_factory=list)
    batches: int = 0
    seconds: float = 0.0
    # read (files → batches), split, validate, write, commit, export: where the time went
    phase_seconds: Counter[str] = field(default_factory=Counter)

    @property
    def invalid(self) -> int:
        return sum(self.invalid_by_reason.values())

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
            "event_dates": [d.isoformat() for d in sorted(self.event_dates)],
            "refresh_pending": [d.isoformat() for d in self.refresh_pending],
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
            "lines_per_second": round(self.lines / secs),
            "mb_per_second": round(self.bytes_read / secs / 1e6, 2),
        }


# --- batches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A file's read state after a batch."""

    offset: int  # bytes consumed (complete lines)
    lines: int  # lines consumed
    generation: int
    # Bytes looked at: the stat() size once the file was read to its end, else `offset` (so a
    # file left half read by a batch boundary or a crash is "grown" for the next plan).
    size_seen: int


@dataclass
class Batch:
    files: list[SpoolFile]
    pieces: list[Piece] = field(default_factory=list)
    long_lines: list[LongLine] = field(default_factory=list)
    progress: dict[int, Progress] = field(default_factory=dict)  # by file_idx
    anomalies: list[dict[str, str]] = field(default_factory=list)
    nbytes: int = 0

    def add(self, item: Piece | LongLine, generation: int) -> None:
        if isinstance(item, Piece):
            self.pieces.append(item)
            self.nbytes += len(item.data)
            lines = item.first_line - 1 + item.lines
        else:
            self.long_lines.append(item)
            self.nbytes += item.length
            lines = item.line_no
        self.progress[item.file_idx] = Progress(item.end_offset, lines, generation, item.end_offset)


def _verify(plan: FilePlan, path: Path) -> tuple[FileState | None, dict[str, str] | None]:
    """Check that the bytes already consumed are unchanged; a rewrite restarts from zero."""
    state = plan.state
    if state is None:
        return None, None
    if plan.file.size < state.offset_bytes:
        kind, detail = "shrunk", f"size {plan.file.size} < {state.offset_bytes} bytes read"
    elif fingerprints(path, state.offset_bytes) != (state.head_md5, state.tail_md5):
        kind, detail = "rewritten", f"the first {state.offset_bytes} bytes changed"
    else:
        return state, None
    anomaly = {"source_file": plan.file.source_file, "kind": kind, "detail": detail}
    log.warning(
        "spool file %s was %s (%s): re-reading it from the start; already ingested events"
        " are recognised by event_id and not counted twice",
        plan.file.source_file,
        kind,
        detail,
    )
    restart = FileState(0, 0, 0, 0, "", "", state.generation + 1)
    return restart, anomaly


def iter_batches(
    plans: list[FilePlan], raw_root: Path, batch_bytes: int, anomalies: list[dict[str, str]]
) -> Iterator[Batch]:
    """Group the new lines of the planned files into batches of about `batch_bytes`."""
    files = [p.file for p in plans]
    batch = Batch(files)
    for idx, plan in enumerate(plans):
        path = raw_root / plan.file.source_file
        try:
            state, anomaly = _verify(plan, path)
        except FileNotFoundError:
            continue  # removed by the retention cleanup since the plan: nothing to read
        if anomaly:
            anomalies.append(anomaly)
            batch.anomalies.append(anomaly)  # recorded with the batch that restarts the file
        offset, lines, generation = (
            (state.offset_bytes, state.lines_read, state.generation) if state else (0, 0, 0)
        )
        try:
            items = read_new_lines(path, idx, offset, lines, plan.file.size, batch_bytes)
            # Lazily: a batch may be handed out while this file is half read.
            for item in items:
                if batch.nbytes and batch.nbytes + _size(item) > batch_bytes:
                    yield batch
                    batch = Batch(files)
                batch.add(item, generation)
        except FileNotFoundError:
            continue
        # Read to its end (maybe with nothing new, or an unterminated tail): record it as seen.
        last = batch.progress.get(idx)
        if last is not None:
            offset, lines = last.offset, last.lines
        batch.progress[idx] = Progress(offset, lines, generation, plan.file.size)
        if batch.nbytes >= batch_bytes:
            yield batch
            batch = Batch(files)
    if batch.progress:
        yield batch


def _size(item: Piece | LongLine) -> int:
    return len(item.data) if isinstance(item, Piece) else item.length


# --- one batch: validate, dedupe, write, commit ------------------------------------------------


def _lines_table(batch: Batch) -> pa.Table:
    """The batch's lines as Arrow, without copying the bytes when they hold no NUL."""
    buf = b"".join(p.data for p in batch.pieces)
    a = np.frombuffer(buf, np.uint8)
    nl = np.flatnonzero(a == 10)
    n = len(nl)
    starts = np.empty(n, np.int64)
    if n:
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
    # CRLF: a CR right before the LF (in the raw bytes) is part of the terminator.
    term = np.ones(n, np.int8)
    if n:
        has_cr = (nl > starts) & (a[np.maximum(nl - 1, 0)] == 13)
        term += has_cr.astype(np.int8)
    if b"\x00" in buf:
        # Contract §2: NUL bytes are removed first; a line of only NULs is padding, not data.
        nulpos = np.flatnonzero(a == 0)
        before_end = np.searchsorted(nulpos, nl)
        nuls = before_end - np.searchsorted(nulpos, starts)
        clean_ends = nl + 1 - before_end  # exclusive end after removal, terminator included
        data = np.delete(a, nulpos)
        offsets = np.concatenate([[0], clean_ends]).astype(np.int64)
        nul_only = (nuls > 0) & (np.diff(offsets) - term == 0)
    else:
        data = a
        offsets = np.concatenate([[0], nl + 1]).astype(np.int64)
        nul_only = np.zeros(n, bool)
    piece_start = np.cumsum([0] + [len(p.data) for p in batch.pieces[:-1]]).astype(np.int64)
    piece_of_line = np.searchsorted(piece_start, starts, side="right") - 1
    first_idx = np.searchsorted(starts, piece_start)
    first_line = np.array([p.first_line for p in batch.pieces], np.int64)
    file_of_piece = np.array([p.file_idx for p in batch.pieces], np.int32)
    idx = np.arange(n, dtype=np.int64)
    raw = pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pa.table(
        {
            "idx": idx,
            "raw": raw,
            "term": term,
            "nul_only": nul_only,
            "file_idx": file_of_piece[piece_of_line] if n else np.zeros(0, np.int32),
            "line_no": (first_line[piece_of_line] + idx - first_idx[piece_of_line])
            if n
            else np.zeros(0, np.int64),
        }
    )


def _escaped(raw: bytes) -> str:
    """The first 4 KiB of a line as valid UTF-8, undecodable bytes written as \\xNN."""
    return raw[:QUARANTINE_PREFIX_BYTES].decode("utf-8", "backslashreplace")


def _quarantine_rows(
    batch: Batch, lines: pa.Table | None, rejected: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    rows = []
    for idx, reason in rejected:
        assert lines is not None
        body = lines["raw"][idx].as_py()[: -lines["term"][idx].as_py()]
        too_long = reason == "line_too_long"
        rows.append(
            {
                "reason": reason,
                "file_idx": lines["file_idx"][idx].as_py(),
                "source_line": lines["line_no"][idx].as_py(),
                "raw_line": _escaped(body),
                "raw_bytes": None if too_long else body,
                "raw_length": len(body),
                "raw_md5": hashlib.md5(body).hexdigest(),
            }
        )
    for ll in batch.long_lines:
        if ll.kind == "line_too_long":
            rows.append(
                {
                    "reason": ll.kind,
                    "file_idx": ll.file_idx,
                    "source_line": ll.line_no,
                    "raw_line": _escaped(ll.prefix),
                    "raw_bytes": None,
                    "raw_length": ll.length,
                    "raw_md5": hashlib.md5(ll.prefix).hexdigest(),
                }
            )
    return rows


_QUARANTINE_SCHEMA = pa.schema(
    [
        ("reason", pa.string()),
        ("file_idx", pa.int32()),
        ("source_line", pa.int64()),
        ("raw_line", pa.string()),
        ("raw_bytes", pa.large_binary()),
        ("raw_length", pa.int64()),
        ("raw_md5", pa.string()),
    ]
)


def _files_table(batch: Batch, raw_root: Path) -> pa.Table:
    rows = []
    for idx, p in batch.progress.items():
        f = batch.files[idx]
        head, tail = fingerprints(raw_root / f.source_file, p.offset)
        rows.append(
            {
                "file_idx": idx,
                "source_file": f.source_file,
                "host": f.host,
                "user": f.user,
                "spool_date": f.spool_date,
                "size_seen": p.size_seen,
                "mtime_ns": f.mtime_ns,
                "mtime": datetime.fromtimestamp(f.mtime_ns / 1e9, UTC),
                "offset_bytes": p.offset,
                "lines_read": p.lines,
                "head_md5": head,
                "tail_md5": tail,
                "generation": p.generation,
            }
        )
    return pa.Table.from_pylist(rows)


class _PhaseClock:
    """Adds the seconds since the last lap to `into[phase]`."""

    def __init__(self, into: Counter[str]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] += now - self.last
        self.last = now


@dataclass
class BatchStats:
    phase_seconds: Counter[str] = field(default_factory=Counter)
    events: int = 0
    duplicates: int = 0
    skewed: int = 0
    blank: int = 0
    nul_padding: int = 0
    lines: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    event_dates: list[date] = field(default_factory=list)


def write_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    *,
    raw_root: Path,
    skew_seconds: float,
    run_id: str,
    batch_no: int,
) -> BatchStats:
    """Validate and write one batch, with its files' offsets, in one transaction."""
    stats = BatchStats()
    clock = _PhaseClock(stats.phase_seconds)
    lines = _lines_table(batch) if batch.pieces else None
    files = _files_table(batch, raw_root)
    clock.lap("split")
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("batch_files", files)
        if lines is not None:
            con.register("batch_lines", lines)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE classified AS "
                f"SELECT c.*, l.file_idx, l.line_no FROM ({classify_sql('batch_lines')}) c "
                "JOIN batch_lines l USING (idx)"
            )
            clock.lap("validate")
            counts = dict(
                con.execute("SELECT status, count(*) FROM classified GROUP BY ALL").fetchall()
            )
            rejected = con.execute(
                "SELECT idx, status FROM classified WHERE NOT list_contains(?, status)"
                " ORDER BY idx",
                [list(NOT_REJECTED)],
            ).fetchall()
        else:
            counts, rejected = {}, []
        stats.lines = sum(counts.values()) + len(batch.long_lines)
        stats.blank = counts.pop("blank", 0)
        stats.nul_padding = counts.pop("nul_padding", 0)
        valid = counts.pop("event", 0)
        if valid:
            con.execute(load_sql("ingest/new_events"), {"skew_seconds": skew_seconds})
            stats.events, stats.skewed = con.execute(
                "SELECT count(*), count(*) FILTER (clock_skewed) FROM new_events"
            ).fetchone()  # type: ignore[misc]
            stats.event_dates = [
                r[0] for r in con.execute("SELECT DISTINCT event_date FROM new_events").fetchall()
            ]
            con.execute(load_sql("ingest/insert_events"), {"run_id": run_id})
            con.execute(load_sql("ingest/pending_events"))
            # The refresh ledger: these dates' silver and gold are stale from this commit on.
            con.execute(load_sql("refresh/dirty"), {"why": "ingest", "run_id": run_id})
            stats.duplicates = valid - stats.events
        qrows = _quarantine_rows(batch, lines, rejected)
        stats.nul_padding += sum(1 for ll in batch.long_lines if ll.kind == "nul_padding")
        clock.lap("write")
        if qrows:
            con.register("batch_quarantine", pa.Table.from_pylist(qrows, _QUARANTINE_SCHEMA))
            con.execute(load_sql("ingest/insert_quarantine"), {"run_id": run_id})
            con.execute(load_sql("ingest/pending_quarantine"))
            stats.invalid_by_reason.update(r["reason"] for r in qrows)
        con.execute(load_sql("ingest/upsert_spool_files"))
        for a in batch.anomalies:
            con.execute(
                "INSERT INTO spool_anomalies VALUES ($f, $k, $d, now(), $r)",
                {"f": a["source_file"], "k": a["kind"], "d": a["detail"], "r": run_id},
            )
        con.execute(
            "INSERT INTO ingest_batches VALUES ($run_id, $batch_no, now(), $files, $bytes,"
            " $lines, $events, $duplicates, $invalid, $blank, $nul, $skewed, $dates)",
            {
                "run_id": run_id,
                "batch_no": batch_no,
                "files": len(batch.progress),
                "bytes": batch.nbytes,
                "lines": stats.lines,
                "events": stats.events,
                "duplicates": stats.duplicates,
                "invalid": sum(stats.invalid_by_reason.values()),
                "blank": stats.blank,
                "nul": stats.nul_padding,
                "skewed": stats.skewed,
                "dates": stats.event_dates,
            },
        )
        con.execute("COMMIT")
        clock.lap("commit")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("batch_files", "batch_lines", "batch_quarantine"):
            with contextlib.suppress(Exception):
                con.unregister(name)
    return stats


# --- the whole ingest --------------------------------------------------------------------------


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
        con.execute("SET memory_limit = ?", [settings.ingest.memory_limit])
        use_privacy(con, settings.privacy)
        clock = _PhaseClock(result.phase_seconds)
        files = list(scan_spool(raw_root))
        plan = plan_ingest(
            files,
            load_states(con),
            now_ns=now_ns if now_ns is not None else time.time_ns(),
            settle_seconds=settings.ingest.settle_seconds,
            dates=dates,
            reread=reread,
        )
        to_read = plan.to_read[:limit] if limit is not None else plan.to_read
        result.plan_summary = plan.summary()
        result.files_seen = len(plan.files)
        result.spool_dates = {p.file.spool_date for p in to_read}
        say(
            f"plan: {result.plan_summary}"
            + (f"; reading {len(to_read)} (limit)" if limit is not None else "")
        )
        clock.lap("plan")
        if dry_run:
            return result
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
            stats = write_batch(
                con,
                batch,
                raw_root=raw_root,
                skew_seconds=settings.ingest.skew_tolerance_seconds,
                run_id=result.run_id,
                batch_no=batch_no,
            )
            result.batches = batch_no
            result.bytes_read += batch.nbytes
            result.lines += stats.lines
            result.events += stats.events
            result.duplicates += stats.duplicates
            result.skewed += stats.skewed
            result.blank_lines += stats.blank
            result.nul_padding_lines += stats.nul_padding
            result.invalid_by_reason.update(stats.invalid_by_reason)
            result.event_dates.update(stats.event_dates)
            say(
                f"batch {batch_no}: {len(batch.progress)} files, {batch.nbytes / 1e6:.1f} MB,"
                f" {stats.lines} lines, {stats.events} events, {stats.duplicates} duplicates,"
                f" {sum(stats.invalid_by_reason.values())} invalid"
            )
            result.phase_seconds.update(stats.phase_seconds)
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
            clock = _PhaseClock(result.phase_seconds)
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


def classify_buffer(con: duckdb.DuckDBPyConnection, data: bytes) -> list[str]:
    """Statuses ('event', 'blank', 'nul_padding' or a reason) of each line of `data`.

    The hot path's own code on an in-memory buffer of complete lines, for tests and tools.
    """
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError("data must end with a newline")
    lines = _lines_table(Batch(files=[], pieces=[Piece(0, 0, len(data), 1, data)]))
    con.register("probe_lines", lines)
    try:
        rows = con.execute(
            f"SELECT status FROM ({classify_sql('probe_lines')}) ORDER BY idx"
        ).fetchall()
    finally:
        con.unregister("probe_lines")
    return [r[0] for r in rows]
