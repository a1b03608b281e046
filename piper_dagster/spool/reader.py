"""Reading new complete lines from growing, append-only spool files (contract §1-2).

The reader yields bounded pieces of whole lines from each file's consumed offset; an unterminated
tail stays unread until its newline arrives. A UTF-8 byte order mark at byte 0 of a file is not
part of its first line (§2): it is consumed with that line but not handed on. A line longer than a whole read chunk is streamed
without being held in memory (it can only be `line_too_long`, or NUL padding).

The reader owns the hash of the consumed bytes (spool/fingerprint.py): it feeds every raw byte
it consumes (the BOM, NUL runs, streamed long lines included) to the file's hasher, so at each
item it yields the hasher covers exactly [0, item.end_offset), the bytes that item's checkpoint
accounts for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from piper_dagster.contract import MAX_LINE_BYTES
from piper_dagster.contract.models import UTF8_BOM, LineStatus, Reason
from piper_dagster.spool.fingerprint import ConsumedHasher

QUARANTINE_PREFIX_BYTES = 4096


@dataclass(frozen=True)
class Piece:
    """Complete lines of one file: `data` ends with b'\\n'."""

    file_idx: int
    start_offset: int
    end_offset: int
    first_line: int  # 1-based number of the first line in data
    data: bytes

    @property
    def lines(self) -> int:
        return self.data.count(b"\n")


@dataclass(frozen=True)
class LongLine:
    """A line longer than a read chunk, streamed: too long, or only NUL bytes."""

    file_idx: int
    line_no: int
    end_offset: int
    kind: Reason | LineStatus  # Reason.LINE_TOO_LONG | LineStatus.NUL_PADDING
    prefix: bytes  # first bytes, NULs removed (for the quarantine)
    length: int  # bytes after NUL removal, terminator excluded


def _stream_long_line(  # type: ignore[no-untyped-def]
    f, file_idx: int, line_no: int, offset: int, limit: int, chunk: int, hasher: ConsumedHasher
):
    """Consume one line longer than `chunk` starting at `offset`; None if it is unterminated
    (then the hasher was fed bytes nobody consumed: the caller stops reading the file)."""
    kept = bytearray()
    length = 0
    had_nul = False
    pos = offset
    f.seek(offset)
    while pos < limit:
        buf = f.read(min(chunk, limit - pos))
        if not buf:
            return None
        cut = buf.find(b"\n")
        hasher.update(buf if cut < 0 else memoryview(buf)[: cut + 1])
        part = buf if cut < 0 else buf[:cut]
        had_nul = had_nul or b"\x00" in part
        clean = part.replace(b"\x00", b"")
        length += len(clean)
        if len(kept) <= MAX_LINE_BYTES:
            kept += clean[: MAX_LINE_BYTES + 1 - len(kept)]
        if cut >= 0:
            end = pos + cut + 1
            if kept.endswith(b"\r") and length <= MAX_LINE_BYTES + 1:
                length -= 1  # CRLF: the CR belongs to the terminator
                del kept[-1:]
            if length > MAX_LINE_BYTES:
                kind: Reason | LineStatus = Reason.LINE_TOO_LONG
            elif length == 0 and had_nul:
                kind = LineStatus.NUL_PADDING
            else:
                # Short once its NUL run is gone: an ordinary line after all.
                return Piece(file_idx, offset, end, line_no, bytes(kept) + b"\n")
            return LongLine(
                file_idx, line_no, end, kind, bytes(kept[:QUARANTINE_PREFIX_BYTES]), length
            )
        pos += len(buf)
    return None


def read_new_lines(
    f: BinaryIO,
    file_idx: int,
    offset: int,
    lines_read: int,
    limit: int,
    chunk: int,
    hasher: ConsumedHasher,
    max_lines: int,
) -> Iterator[Piece | LongLine]:
    """Pieces of complete lines in [offset, limit) of the open file, each at most `chunk` bytes
    and `max_lines` lines (a batch's memory grows with its lines as well as its bytes).

    `hasher` holds the hash of [0, offset); at each yield it holds [0, item.end_offset)."""
    if hasher.offset != offset:
        raise ValueError(f"hasher at {hasher.offset}, reading from {offset}")
    f.seek(offset)
    if offset == 0 and limit >= len(UTF8_BOM) and f.read(len(UTF8_BOM)) == UTF8_BOM:
        # Skipped, not consumed: the offset only moves past it with the first complete
        # line (a file that is only the BOM so far, or a first line still growing, is
        # read again from byte 0; line 1 keeps its number). Hashed now: it precedes that line.
        offset = len(UTF8_BOM)
        hasher.update(UTF8_BOM)
    f.seek(offset)
    while offset < limit:
        want = min(chunk, limit - offset)
        buf = f.read(want)
        if not buf:
            return  # the file shrank under us: the next run will notice
        cut = buf.rfind(b"\n")
        if cut < 0:
            if len(buf) < chunk:
                return  # an unterminated tail: wait for its newline
            item = _stream_long_line(f, file_idx, lines_read + 1, offset, limit, chunk, hasher)
            if item is None:
                return
            yield item
            offset, lines_read = item.end_offset, lines_read + 1
            f.seek(offset)
            continue
        data = buf if cut + 1 == len(buf) else buf[: cut + 1]
        n = data.count(b"\n")
        while n > max_lines:  # many short lines: fewer of them, cut where about max_lines end
            cut = data.rfind(b"\n", 0, len(data) * max_lines // n)
            data = data[: cut + 1] if cut >= 0 else data[: data.find(b"\n") + 1]
            n = data.count(b"\n")
        hasher.update(data)
        piece = Piece(file_idx, offset, offset + len(data), lines_read + 1, data)
        yield piece
        offset, lines_read = piece.end_offset, lines_read + piece.lines
        f.seek(offset)
