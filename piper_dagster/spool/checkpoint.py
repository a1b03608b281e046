"""The spool's checkpoints: each file's read state, as the last committed batch left it.

The state lives in the warehouse (spool_files) and commits in the same transaction as the lines
it accounts for, so it is never ahead of or behind the data. Reading it is all this module does;
the ingest batch writes it (sql/ingest/upsert_spool_files.sql).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from piper_dagster.spool.discovery import SpoolFile
from piper_dagster.spool.fingerprint import fingerprints

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


def load_states(con: duckdb.DuckDBPyConnection) -> dict[str, FileState]:
    """Every file's read state, by source_file."""
    rows = con.execute(
        "SELECT source_file, offset_bytes, lines_read, size_seen, mtime_ns, head_md5, tail_md5,"
        " generation FROM spool_files"
    ).fetchall()
    return {r[0]: FileState(*r[1:]) for r in rows}


def verify(
    file: SpoolFile, state: FileState | None, path: Path
) -> tuple[FileState | None, dict[str, str] | None]:
    """Check that the bytes already consumed are unchanged; a rewrite restarts from zero."""
    if state is None:
        return None, None
    if file.size < state.offset_bytes:
        kind, detail = "shrunk", f"size {file.size} < {state.offset_bytes} bytes read"
    elif fingerprints(path, state.offset_bytes) != (state.head_md5, state.tail_md5):
        kind, detail = "rewritten", f"the first {state.offset_bytes} bytes changed"
    else:
        return state, None
    anomaly = {"source_file": file.source_file, "kind": kind, "detail": detail}
    log.warning(
        "spool file %s was %s (%s): re-reading it from the start; already ingested events"
        " are recognised by event_id and not counted twice",
        file.source_file,
        kind,
        detail,
    )
    restart = FileState(0, 0, 0, 0, "", "", state.generation + 1)
    return restart, anomaly
