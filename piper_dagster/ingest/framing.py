"""Framing: the planned files' new bytes -> batches of complete lines -> an Arrow table.

A batch is bounded in bytes (possibly many small files, or part of a large one) and carries
each file's read state after it (Progress), so its lines and its checkpoints commit together.
The Arrow table is what the validator (validate.classify_sql) reads: one row per line, NUL
bytes removed (contract §2), with its terminator length and its file and line number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from piper_dagster.spool.checkpoint import verify
from piper_dagster.spool.discovery import UNREADABLE, SpoolFile
from piper_dagster.spool.fingerprint import Fingerprint
from piper_dagster.spool.planner import FilePlan
from piper_dagster.spool.reader import LongLine, Piece, read_new_lines

log = logging.getLogger("piper.ingest")


@dataclass(frozen=True)
class Progress:
    """A file's read state after a batch."""

    offset: int  # bytes consumed (complete lines)
    lines: int  # lines consumed
    generation: int
    # Bytes looked at: the stat() size once the file was read to its end, else `offset` (so a
    # file left half read by a batch boundary or a crash is "grown" for the next plan).
    size_seen: int
    # The hash of [0, offset) as the reader consumed it (committed as is: never re-read from
    # the file at commit time, which may have been replaced since).
    fingerprint: Fingerprint


# What a line costs a batch beyond its bytes: its rows in the Arrow table and in DuckDB's
# validation stages. Without it a file of ten million two-byte lines was one 20 MB batch of ten
# million rows (issue #13: 8.5 GB). Measured (docs/benchmarks.md): at 64, 500,000 lines `1` peak
# at 685 MiB; at 256, 375 MiB, and a clean ingest (about 300 bytes a line) is not slower.
LINE_COST_BYTES = 256


@dataclass
class Batch:
    files: list[SpoolFile]
    pieces: list[Piece] = field(default_factory=list)
    long_lines: list[LongLine] = field(default_factory=list)
    progress: dict[int, Progress] = field(default_factory=dict)  # by file_idx
    anomalies: list[dict[str, str]] = field(default_factory=list)
    nbytes: int = 0
    weight: int = 0  # what it costs to hold: nbytes + LINE_COST_BYTES a line
    # The run's anomalies (its metadata), which this batch's are also added to.
    run_anomalies: list[dict[str, str]] = field(default_factory=list)

    def add(self, item: Piece | LongLine, generation: int, fp: Fingerprint) -> None:
        self.weight += _weight(item)
        if isinstance(item, Piece):
            self.pieces.append(item)
            self.nbytes += len(item.data)
            lines = item.first_line - 1 + item.lines
        else:
            self.long_lines.append(item)
            self.nbytes += item.length
            lines = item.line_no
        self.progress[item.file_idx] = Progress(
            item.end_offset, lines, generation, item.end_offset, fp
        )

    def report(self, anomaly: dict[str, str]) -> None:
        """An anomaly found while reading: committed with this batch, and in the run's metadata."""
        self.anomalies.append(anomaly)
        self.run_anomalies.append(anomaly)

    def reported(self, file: SpoolFile, kind: str) -> bool:
        """Whether this run already reported `kind` for `file` (in this batch or before)."""
        return any(
            a["source_file"] == file.source_file and a["kind"] == kind for a in self.run_anomalies
        )


def vanished(file: SpoolFile, when: str) -> dict[str, str]:
    """A spool file deleted after the plan (the studio's cleanup): reported, never a failure."""
    log.warning("spool file %s was deleted %s", file.source_file, when)
    return {"source_file": file.source_file, "kind": "vanished", "detail": f"deleted {when}"}


def unreadable(file: SpoolFile, exc: OSError) -> dict[str, str]:
    """A spool file that could not be opened after the plan: skipped and reported, like the
    entries the scan cannot read (spool.discovery), never a failed run."""
    detail = f"cannot be opened after the plan: {exc.strerror or exc}"
    log.warning("spool file %s %s: skipped", file.source_file, detail)
    return {"source_file": file.source_file, "kind": UNREADABLE, "detail": detail}


def iter_batches(
    plans: list[FilePlan], raw_root: Path, batch_bytes: int, anomalies: list[dict[str, str]]
) -> Iterator[Batch]:
    """Group the new lines of the planned files into batches of about `batch_bytes` (their
    bytes plus LINE_COST_BYTES a line: ten million lines `1` are not one batch)."""
    max_lines = max(1, batch_bytes // LINE_COST_BYTES)
    files = [p.file for p in plans]
    batch = Batch(files, run_anomalies=anomalies)
    for idx, plan in enumerate(plans):
        try:
            # One open file for the verification and the read: a file deleted from now on is
            # still read to its planned end (the descriptor keeps its bytes).
            f = open(raw_root / plan.file.source_file, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            batch.report(vanished(plan.file, "after the plan, before its read: skipped"))
            continue
        except OSError as exc:  # e.g. its permissions changed since the plan: the others go on
            batch.report(unreadable(plan.file, exc))
            continue
        with f:
            state, hasher, anomaly = verify(plan.file, plan.state, f)
            if anomaly:
                batch.report(anomaly)  # recorded with the batch that restarts the file
            offset, lines, generation = (
                (state.offset_bytes, state.lines_read, state.generation) if state else (0, 0, 0)
            )
            fp = hasher.fingerprint()  # the state's, if nothing new is complete
            # Lazily: a batch may be handed out while this file is half read.
            items = read_new_lines(
                f, idx, offset, lines, plan.file.size, batch_bytes, hasher, max_lines
            )
            for item in items:
                if batch.weight and batch.weight + _weight(item) > batch_bytes:
                    yield batch
                    batch = Batch(files, run_anomalies=anomalies)
                batch.add(item, generation, hasher.fingerprint())
        # Read to its end (maybe with nothing new, or an unterminated tail): record it as seen.
        last = batch.progress.get(idx)
        if last is not None:
            offset, lines, fp = last.offset, last.lines, last.fingerprint
        batch.progress[idx] = Progress(offset, lines, generation, plan.file.size, fp)
        if batch.weight >= batch_bytes:
            yield batch
            batch = Batch(files, run_anomalies=anomalies)
    if batch.progress or batch.anomalies:
        yield batch


def _size(item: Piece | LongLine) -> int:
    return len(item.data) if isinstance(item, Piece) else item.length


def _weight(item: Piece | LongLine) -> int:
    return _size(item) + LINE_COST_BYTES * (item.lines if isinstance(item, Piece) else 1)


def lines_table(batch: Batch) -> pa.Table:
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
