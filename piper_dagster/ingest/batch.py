"""One batch: validate its lines, write events, quarantine and checkpoints in one transaction.

A crash at any point loses nothing and counts nothing twice: the batch's events, its
quarantined lines, its files' new offsets, the refresh ledger's dirty dates and its
ingest_batches row all commit together, or none of them does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from piper_dagster.contract.models import LineStatus, Reason
from piper_dagster.ingest.counters import LineCounters, PhaseClock
from piper_dagster.ingest.framing import Batch, lines_table, vanished
from piper_dagster.ingest.validate import NOT_REJECTED, classify_sql
from piper_dagster.spool.reader import QUARANTINE_PREFIX_BYTES
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction


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
        too_long = reason == Reason.LINE_TOO_LONG
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
        if ll.kind == Reason.LINE_TOO_LONG:
            rows.append(
                {
                    "reason": str(ll.kind),  # a plain str, like the validator's reasons
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


_FILES_SCHEMA = pa.schema(
    [
        ("file_idx", pa.int64()),
        ("source_file", pa.string()),
        ("host", pa.string()),
        ("user", pa.string()),
        ("spool_date", pa.date32()),
        ("size_seen", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("mtime", pa.timestamp("us", tz="UTC")),
        ("offset_bytes", pa.int64()),
        ("lines_read", pa.int64()),
        ("head_md5", pa.string()),
        ("tail_md5", pa.string()),
        ("consumed_hash", pa.string()),
        ("generation", pa.int64()),
    ]
)


def _files_table(batch: Batch, raw_root: Path) -> pa.Table:
    """The batch's files' new read states, fingerprinted from the bytes the reader consumed.

    Never from the file on disk: it may have been copied over since its read (the next run's
    verification then finds the difference) or deleted (reported; what was read commits)."""
    rows = []
    for idx, p in batch.progress.items():
        f = batch.files[idx]
        if not os.path.exists(raw_root / f.source_file) and not batch.reported(f, "vanished"):
            # Nothing is lost: what was read commits (and the rest of a file deleted while open
            # is still read). Reported once per run, as the cleanup deleting a file being read.
            batch.report(vanished(f, "while or after it was read: what was read is kept"))
        fp = p.fingerprint
        rows.append(
            {
                "file_idx": idx,
                "source_file": f.source_file,
                "host": f.host,
                "user": f.user,
                "spool_date": f.spool_date,
                "size_seen": p.size_seen,
                "mtime_ns": f.mtime_ns,
                "mtime": datetime.fromtimestamp(f.written_ns / 1e9, UTC),  # clock skew (§6)
                "offset_bytes": p.offset,
                "lines_read": p.lines,
                "head_md5": fp.head_md5,
                "tail_md5": fp.tail_md5,
                "consumed_hash": fp.consumed_hash,
                "generation": p.generation,
            }
        )
    return pa.Table.from_pylist(rows, _FILES_SCHEMA)


def write_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    *,
    raw_root: Path,
    skew_seconds: float,
    run_id: str,
    batch_no: int,
    phase_seconds: Counter[str],
) -> LineCounters:
    """Validate and write one batch, with its files' offsets, in one transaction."""
    counted = LineCounters()
    clock = PhaseClock(phase_seconds)
    lines = lines_table(batch) if batch.pieces else None
    files = _files_table(batch, raw_root)
    clock.lap("split")
    try:
        with transaction(con):
            con.register("batch_files", files)
            valid, rejected = (0, []) if lines is None else _classify(con, lines, counted, clock)
            counted.lines += len(batch.long_lines)
            if valid:
                _insert_events(con, counted, skew_seconds, run_id)
                counted.duplicates = valid - counted.events
            qrows = _quarantine_rows(batch, lines, rejected)
            counted.nul_padding_lines += sum(
                1 for ll in batch.long_lines if ll.kind == LineStatus.NUL_PADDING
            )
            clock.lap("write")
            if qrows:
                con.register("batch_quarantine", pa.Table.from_pylist(qrows, _QUARANTINE_SCHEMA))
                con.execute(load_sql("ingest/insert_quarantine"), {"run_id": run_id})
                con.execute(load_sql("ingest/pending_quarantine"))
                counted.invalid_by_reason.update(r["reason"] for r in qrows)
            con.execute(load_sql("ingest/upsert_spool_files"))
            for a in batch.anomalies:
                con.execute(
                    "INSERT INTO spool_anomalies VALUES ($f, $k, $d, now(), $r)",
                    {"f": a["source_file"], "k": a["kind"], "d": a["detail"], "r": run_id},
                )
            con.execute(
                "INSERT INTO ingest_batches VALUES ($run_id, $batch_no, now(), $files, $bytes,"
                " $lines, $events, $duplicates, $invalid, $blank, $nul_padding, $skewed,"
                " $event_dates)",
                {
                    "run_id": run_id,
                    "batch_no": batch_no,
                    "files": len(batch.progress),
                    "bytes": batch.nbytes,
                    **counted.row(),
                },
            )
        clock.lap("commit")
    finally:
        for name in ("batch_files", "batch_lines", "batch_quarantine"):
            with contextlib.suppress(Exception):
                con.unregister(name)
    return counted


def _classify(
    con: duckdb.DuckDBPyConnection, lines: pa.Table, counted: LineCounters, clock: PhaseClock
) -> tuple[int, list[tuple[int, str]]]:
    """Classify the batch's lines and count them: the valid ones, and (idx, reason) of the
    rejected ones (valid lines become events or duplicates once deduplicated)."""
    con.register("batch_lines", lines)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE classified AS "
        f"SELECT c.*, l.file_idx, l.line_no FROM ({classify_sql('batch_lines')}) c "
        "JOIN batch_lines l USING (idx)"
    )
    clock.lap("validate")
    counts = dict(con.execute("SELECT status, count(*) FROM classified GROUP BY ALL").fetchall())
    rejected = con.execute(
        "SELECT idx, status FROM classified WHERE NOT list_contains(?, status) ORDER BY idx",
        [sorted(NOT_REJECTED)],
    ).fetchall()
    counted.lines = sum(counts.values())
    counted.blank_lines = counts.get(LineStatus.BLANK, 0)
    counted.nul_padding_lines = counts.get(LineStatus.NUL_PADDING, 0)
    return counts.get(LineStatus.EVENT, 0), rejected


def _insert_events(
    con: duckdb.DuckDBPyConnection, counted: LineCounters, skew_seconds: float, run_id: str
) -> None:
    """Insert the batch's new events (the duplicates left out) and mark what they make stale."""
    con.execute(load_sql("ingest/new_events"), {"skew_seconds": skew_seconds})
    counted.events, counted.skewed = con.execute(
        "SELECT count(*), count(*) FILTER (clock_skewed) FROM new_events"
    ).fetchone()  # type: ignore[misc]
    counted.event_dates = {
        r[0] for r in con.execute("SELECT DISTINCT event_date FROM new_events").fetchall()
    }
    con.execute(load_sql("ingest/insert_events"), {"run_id": run_id})
    con.execute(load_sql("ingest/pending_events"))
    # The refresh ledger: these dates' silver and gold are stale from this commit on.
    con.execute(load_sql("refresh/dirty"), {"why": "ingest", "run_id": run_id})
