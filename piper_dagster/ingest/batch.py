"""One batch: validate its lines, write events, quarantine and checkpoints in one transaction.

A crash at any point loses nothing and counts nothing twice: the batch's events, its
quarantined lines, its files' new offsets, the refresh ledger's dirty dates and its
ingest_batches row all commit together, or none of them does.

Memory is bounded by the batch, whatever its lines: they are classified and quarantined
column-wise in DuckDB (no Python object per line), and a line that DuckDB still cannot classify
(out of memory, or another error of its data) is isolated by splitting the batch and quarantined
as `unprocessable` instead of stopping the files behind it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from piper_dagster.contract.models import LineStatus, Reason
from piper_dagster.ingest.counters import UNPROCESSABLE, LineCounters, PhaseClock
from piper_dagster.ingest.framing import Batch, lines_table, vanished
from piper_dagster.ingest.validate import NOT_REJECTED, classify_sql
from piper_dagster.spool.reader import QUARANTINE_PREFIX_BYTES
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction

log = logging.getLogger("piper.ingest")

# Errors that a line's data can cause in the classification query. A batch failing with one is
# split until the line is isolated; anything else (disk, I/O, a bug in the SQL) stops the batch.
DATA_ERRORS: tuple[type[duckdb.Error], ...] = (
    duckdb.OutOfMemoryException,
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
)
# More unprocessable lines than this in one batch is not a poison line but a failure of piper
# (a systematic error would otherwise cost one query per line): the batch stops with it.
MAX_UNPROCESSABLE = 100

_LONG_LINES_SCHEMA = pa.schema(
    [
        ("file_idx", pa.int32()),
        ("line_no", pa.int64()),
        ("prefix", pa.large_binary()),
        ("length", pa.int64()),
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


def _backslashreplace(raw: pa.Array) -> pa.Array:
    """The quarantine's raw_line of lines that are not valid UTF-8: undecodable bytes as \\xNN.

    Called by DuckDB (an Arrow UDF) only for the rows whose prefix does not decode."""
    return pa.array(
        [None if b is None else b.decode("utf-8", "backslashreplace") for b in raw.to_pylist()],
        pa.string(),
    )


def _register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    known = con.execute(
        "SELECT 1 FROM duckdb_functions() WHERE function_name = 'piper_backslashreplace'"
    ).fetchone()
    if known is None:
        con.create_function(
            "piper_backslashreplace", _backslashreplace, ["BLOB"], "VARCHAR", type="arrow"
        )


def _long_lines_table(batch: Batch) -> pa.Table:
    """The batch's streamed line_too_long lines (NUL padding is only counted)."""
    rows = [
        {"file_idx": ll.file_idx, "line_no": ll.line_no, "prefix": ll.prefix, "length": ll.length}
        for ll in batch.long_lines
        if ll.kind == Reason.LINE_TOO_LONG
    ]
    return pa.Table.from_pylist(rows, _LONG_LINES_SCHEMA)


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
    files = _files_table(batch, raw_root)
    long_lines = _long_lines_table(batch)
    # Files read from their first line in this batch: a new read of the file (first, rewritten,
    # re-read), from which the occurrences of its quarantined lines are counted anew.
    restarted = sorted(
        {p.file_idx for p in batch.pieces if p.first_line == 1}
        | {ll.file_idx for ll in batch.long_lines if ll.line_no == 1}
    )
    clock.lap("split")
    try:
        con.register("batch_files", files)
        con.register("batch_long_lines", long_lines)
        # Before the transaction: a failed statement would abort it, and the net in _classify
        # needs to retry after a failure. `classified` keeps the valid lines (with their
        # envelope), `batch_rejected` the rejected ones (narrow: their bytes and place): a batch
        # of many bad lines carries no envelope columns.
        con.register("batch_lines", lines_table(Batch(files=batch.files)))  # no lines: columns
        con.execute(f"CREATE OR REPLACE TEMP TABLE classified AS {_classified_sql('batch_lines')}")
        con.execute(load_sql("ingest/batch_rejected"), {"kept": sorted(NOT_REJECTED)})
        lines = lines_table(batch)
        clock.lap("split")
        _classify(con, lines)
        statuses = Counter(_sort_lines(con))
        del lines
        clock.lap("validate")
        with transaction(con):
            valid = _count(statuses, counted)
            counted.lines += len(batch.long_lines)
            counted.nul_padding_lines += sum(
                1 for ll in batch.long_lines if ll.kind == LineStatus.NUL_PADDING
            )
            if valid:
                _insert_events(con, counted, skew_seconds, run_id)
                counted.duplicates = valid - counted.events
            _quarantine(con, counted, run_id, restarted)
            clock.lap("write")
            con.execute(load_sql("ingest/upsert_spool_files"))
            con.execute(load_sql("health/dirty_spool"))
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
        for name in ("batch_files", "batch_lines", "batch_part", "batch_long_lines"):
            with contextlib.suppress(Exception):
                con.unregister(name)
    return counted


def _classified_sql(source: str) -> str:
    """The classification of `source`'s lines with their file and line number; the bytes of the
    rejected ones ride along for the quarantine (the others' are not needed again)."""
    kept = ", ".join(f"'{s}'" for s in sorted(NOT_REJECTED))
    return (
        f"SELECT c.*, l.file_idx, l.line_no,"
        f" CASE WHEN c.status NOT IN ({kept}) THEN l.raw END AS raw, l.term"
        f" FROM ({classify_sql(source)}) AS c JOIN {source} AS l USING (idx)"
    )


def _classify(con: duckdb.DuckDBPyConnection, lines: pa.Table) -> None:
    """Classify the batch's `lines` into the temp table `batch_classified`: each line with its
    status (_classified_sql).

    If DuckDB fails on the lines' data, they are split in halves, recursively, until the
    lines it cannot classify are alone: each becomes an `unprocessable` line, the others are
    classified as usual (the halves that pass are exactly what the whole would have given).
    """
    con.register("batch_lines", lines)
    try:
        sql = _classified_sql("batch_lines")
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch_classified AS {sql}")
        return
    except DATA_ERRORS as exc:
        first_error = exc
    log.warning(
        "a batch of %d lines failed validation (%s): splitting it to isolate the line(s)",
        len(lines),
        str(first_error).splitlines()[0],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE batch_classified AS FROM classified LIMIT 0")
    part = _classified_sql("batch_part")
    unprocessable = 0
    todo = [(0, len(lines))]
    while todo:
        lo, n = todo.pop()
        con.register("batch_part", lines.slice(lo, n))
        try:
            con.execute(f"INSERT INTO batch_classified {part}")
            continue
        except DATA_ERRORS as exc:
            if n > 1:
                todo += [(lo + n // 2, n - n // 2), (lo, n // 2)]  # the first half first
                continue
            unprocessable += 1
            if unprocessable > MAX_UNPROCESSABLE:
                raise first_error from exc
            log.warning(
                "line %d of the batch is unprocessable (%s): quarantined",
                lo,
                str(exc).splitlines()[0],
            )
        con.execute(
            "INSERT INTO batch_classified (idx, status, file_idx, line_no, raw, term)"
            " SELECT idx, $status, file_idx, line_no, raw, term FROM batch_part",
            {"status": UNPROCESSABLE},
        )


def _sort_lines(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Move the classified lines' valid ones to `classified`, the rejected ones to
    `batch_rejected`; the line count by status (an SQL aggregate)."""
    con.execute(
        "INSERT INTO classified FROM batch_classified WHERE status = $event",
        {"event": LineStatus.EVENT},
    )
    con.execute(
        "INSERT INTO batch_rejected SELECT idx, status, file_idx, line_no, raw, term"
        " FROM batch_classified WHERE NOT list_contains($kept, status)",
        {"kept": sorted(NOT_REJECTED)},
    )
    counts = con.execute("SELECT status, count(*) FROM batch_classified GROUP BY ALL").fetchall()
    con.execute("DROP TABLE batch_classified")
    return dict(counts)


def _count(statuses: Counter[str], counted: LineCounters) -> int:
    """Count the classified lines; returns the number of valid ones (events or duplicates once
    deduplicated)."""
    counted.lines = sum(statuses.values())
    counted.blank_lines = statuses[LineStatus.BLANK]
    counted.nul_padding_lines = statuses[LineStatus.NUL_PADDING]
    return statuses[LineStatus.EVENT]


def _quarantine(
    con: duckdb.DuckDBPyConnection, counted: LineCounters, run_id: str, restarted: list[int]
) -> None:
    """Quarantine the batch's rejected lines, column-wise, each line once across re-reads.

    A line already quarantined by an earlier read of its file (same bytes, same occurrence) is
    relabelled to its line number now and counted as a duplicate, not as invalid again."""
    if restarted:
        con.execute(load_sql("ingest/quarantine_restart"), {"restarted": restarted})
    _register_udfs(con)
    con.execute(
        load_sql("ingest/batch_quarantine"),
        {"prefix_bytes": QUARANTINE_PREFIX_BYTES},
    )
    rows = con.execute(
        "SELECT reason, known, count(*) FROM batch_quarantine GROUP BY ALL"
    ).fetchall()
    if not rows:
        return
    for reason, known, n in rows:
        if known:
            counted.duplicates += n
        else:
            counted.invalid_by_reason[reason] += n
    con.execute(load_sql("ingest/insert_quarantine"), {"run_id": run_id})
    con.execute(load_sql("ingest/pending_quarantine"))


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
    insert_new_events(con, run_id, "ingest")


def insert_new_events(con: duckdb.DuckDBPyConnection, run_id: str, why: str) -> None:
    """Insert `new_events` (the ingest's or a replay's) into silver_events with everything that
    must commit with them, in the caller's transaction: their ingest sequence (the incremental
    Parquet export's watermark), the dedupe index, and the marks of what they make stale (the
    refresh ledger, the health tables). `why`: 'ingest' or 'replay'."""
    con.execute(load_sql("ingest/next_seq"))
    con.execute(load_sql("ingest/insert_events"), {"run_id": run_id})
    con.execute(load_sql("ingest/insert_event_ids"))
    con.execute(load_sql("ingest/pending_events"))
    con.execute(load_sql("refresh/dirty"), {"why": why, "run_id": run_id})
    con.execute(load_sql("health/dirty_events"))
