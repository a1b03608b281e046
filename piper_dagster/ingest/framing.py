"""Framing: the planned files' new bytes -> batches of complete lines -> an Arrow table.

A batch is bounded in bytes (possibly many small files, or part of a large one) and carries
each file's read state after it (Progress), so its lines and its checkpoints commit together.
The Arrow table is what the validator (validate.classify_sql) reads: one row per line, NUL
bytes removed (contract §2), with its terminator length and its file and line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from piper_dagster.spool.checkpoint import verify
from piper_dagster.spool.discovery import SpoolFile
from piper_dagster.spool.planner import FilePlan
from piper_dagster.spool.reader import LongLine, Piece, read_new_lines


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


def iter_batches(
    plans: list[FilePlan], raw_root: Path, batch_bytes: int, anomalies: list[dict[str, str]]
) -> Iterator[Batch]:
    """Group the new lines of the planned files into batches of about `batch_bytes`."""
    files = [p.file for p in plans]
    batch = Batch(files)
    for idx, plan in enumerate(plans):
        path = raw_root / plan.file.source_file
        try:
            state, anomaly = verify(plan.file, plan.state, path)
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
