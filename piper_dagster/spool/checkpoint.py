"""The spool's checkpoints: each file's read state, as the last committed batch left it.

The state lives in the warehouse (spool_files) and commits in the same transaction as the lines
it accounts for, so it is never ahead of or behind the data. Reading it and verifying it against
the file are all this module does; the ingest batch writes it (sql/ingest/upsert_spool_files.sql).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO

import duckdb

from piper_dagster.spool.discovery import SpoolFile
from piper_dagster.spool.fingerprint import ConsumedHasher, hash_prefix

# The ingest's logger: a rewritten file is news of the ingest, wherever it is noticed.
log = logging.getLogger("piper.ingest")


@dataclass(frozen=True)
class FileState:
    """A spool file's committed read state (one spool_files row)."""

    offset_bytes: int
    lines_read: int
    size_seen: int
    mtime_ns: int
    head_md5: str
    tail_md5: str
    generation: int
    # Hash of all the consumed bytes; None in a row written before the column existed (verified
    # once with head_md5/tail_md5, then rewritten with it).
    consumed_hash: str | None = None


_COLUMNS = ("offset_bytes", "lines_read", "size_seen", "mtime_ns", "head_md5", "tail_md5")


def load_states(con: duckdb.DuckDBPyConnection) -> dict[str, FileState]:
    """Every file's read state, by source_file."""
    # Only the state's columns (a year of files: converting each row's TIMESTAMPTZ columns to
    # Python took 1 s of every sensor tick). A read-only connection (the sensor's peek) may see a
    # warehouse that no writer has upgraded yet, without consumed_hash.
    has_hash = con.execute(
        "SELECT count(*) FROM duckdb_columns()"
        " WHERE table_name = 'spool_files' AND column_name = 'consumed_hash'"
    ).fetchone()
    columns = ", ".join(("source_file", *_COLUMNS, "generation"))
    consumed = "consumed_hash" if has_hash and has_hash[0] else "NULL"
    rows = con.execute(f"SELECT {columns}, {consumed} FROM spool_files").fetchall()
    return {r[0]: FileState(*r[1:]) for r in rows}


def verify(
    file: SpoolFile, state: FileState | None, f: BinaryIO
) -> tuple[FileState | None, ConsumedHasher, dict[str, str] | None]:
    """Check that the bytes already consumed are unchanged; a rewrite restarts from zero.

    Hashes [0, offset) of the open file once: on a match the returned hasher continues with the
    new bytes, so a grown file costs one re-read of its prefix. Returns the state to read from
    (None: from byte 0, nothing read before), the hasher at that state's offset, and an anomaly
    (shrunk | rewritten) if the file must be read again."""
    if state is None:
        return None, ConsumedHasher(), None
    if file.size < state.offset_bytes:
        kind, detail = "shrunk", f"size {file.size} < {state.offset_bytes} bytes read"
    else:
        hasher = hash_prefix(f, state.offset_bytes)
        fp = hasher.fingerprint()
        if fp.offset < state.offset_bytes:  # since the plan's stat()
            kind, detail = "shrunk", f"size {fp.offset} < {state.offset_bytes} bytes read"
        else:
            if state.consumed_hash is not None:
                same = fp.consumed_hash == state.consumed_hash
            else:
                # Written by an older piper: the old check, once; this run's commit stores the
                # hash of everything read.
                same = (fp.head_md5, fp.tail_md5) == (state.head_md5, state.tail_md5)
            if same:
                return state, hasher, None
            kind, detail = "rewritten", f"the first {state.offset_bytes} bytes changed"
    anomaly = {"source_file": file.source_file, "kind": kind, "detail": detail}
    log.warning(
        "spool file %s was %s (%s): re-reading it from the start; already ingested events"
        " are recognised by event_id and not counted twice",
        file.source_file,
        kind,
        detail,
    )
    # The prefix hash is not reused: the reader re-reads from byte 0 and hashes as it goes.
    restart = FileState(0, 0, 0, 0, "", "", state.generation + 1)
    return restart, ConsumedHasher(), anomaly
