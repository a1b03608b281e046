"""Files derived from the warehouse tables: silver_events Parquet, the silver domains' Parquet and
per-day quarantine JSONL.

silver_events' copy grows incrementally: each export writes the rows of the ingest_seq range
past its watermark (export_state) as new files, never rewriting the old ones; the silver refresh
compacts the dates that gathered many small files (export_pending target 'silver_events').
Other partitions named in export_pending (committed with the data that dirtied them) are
rewritten from the tables, each file replaced atomically, then cleared: rerunning after a crash
redoes the export and yields the same files.

Files are written in a staging directory OUTSIDE the published trees (<data_root>/.staging/<id>,
the same file system, so that os.replace stays atomic): a reader globbing
`silver/events/**/*.parquet` never meets a half-written or 0-byte file, whatever killed the
writer. Staging directories left by a dead process are removed by the next export: only a
process holding the warehouse's write lock exports, and that lock excludes every other process.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb

from piper_dagster.settings import Settings
from piper_dagster.sql import load_sql

STAGING = ".staging"  # under data_root
# The staging directories of this process's exports in progress (threads of one run): the only
# ones a cleanup must leave alone, since the write lock keeps other processes out.
_active: set[Path] = set()
_active_lock = threading.Lock()
# A silver domain model's target in export_pending is its table's name (the models are listed in
# piper_dagster/models.py, which the core cannot import): a plain identifier, never input.
_MODEL_TARGET = re.compile(r"silver_[a-z0-9_]+")


def staging_root(settings: Settings) -> Path:
    return settings.data_root / STAGING


def remove_leftovers(settings: Settings) -> list[Path]:
    """Remove the staging directories a dead export left (and the `.staging-*` directories
    older versions left inside the published trees); the ones removed."""
    removed: list[Path] = []
    root = staging_root(settings)
    with _active_lock:
        active = set(_active)
    if root.is_dir():
        for leftover in root.iterdir():
            if leftover not in active:
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
    silver = settings.data_root / "silver"
    if silver.is_dir():
        for tree in silver.iterdir():
            for leftover in tree.glob(".staging-*") if tree.is_dir() else []:
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
    return removed


@contextmanager
def _staging(root: Path) -> Iterator[Path]:
    """A fresh staging directory under `root`, removed at the end (a kill leaves it to
    remove_leftovers)."""
    path = root / f"{os.getpid()}-{uuid.uuid4().hex}"
    with _active_lock:
        _active.add(path)
    try:
        path.mkdir(parents=True)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with _active_lock:
            _active.discard(path)


def _pending(con: duckdb.DuckDBPyConnection, target: str) -> list[date]:
    rows = con.execute(
        "SELECT partition_date FROM export_pending WHERE target = ? ORDER BY 1", [target]
    ).fetchall()
    return [r[0] for r in rows]


def _clear(con: duckdb.DuckDBPyConnection, target: str, dates: list[date]) -> None:
    con.execute(
        "DELETE FROM export_pending WHERE target = ? AND partition_date IN (SELECT unnest(?))",
        [target, dates],
    )


def mark_pending(con: duckdb.DuckDBPyConnection, target: str, dates: list[date]) -> None:
    """Mark `dates` of `target` (a silver model's name) as to be exported; call it inside the
    transaction that changed them, so that no crash can lose the mark."""
    con.execute(load_sql("ingest/pending_partitions"), {"target": target, "dates": dates})


def _sql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


EVENTS = "silver_events"
# Date bounds of a query over every event date (an incremental range may touch any).
ANY_DATE = (date(1, 1, 1), date(9999, 12, 31))
# An incremental export's files are part-<hi>-<i>.parquet (hi: the top of its ingest_seq range),
# a compaction's compact-<seq>-<i>.parquet (every row up to seq): names a rerun reproduces.
_SEQ_FILE = re.compile(r"(part|compact)-([0-9]+)-[0-9]+\.parquet")


def _fill(sql: str, lo: int, hi: int, first: date, last: date) -> str:
    """A query of sql/ingest/export_events*.sql with its literals (integers and dates only)."""
    return (
        sql.replace("$seq_lo", str(int(lo)))
        .replace("$seq_hi", str(int(hi)))
        .replace("$date_first", f"DATE '{first.isoformat()}'")
        .replace("$date_last", f"DATE '{last.isoformat()}'")
    )


def max_open_files(con: duckdb.DuckDBPyConnection) -> int:
    """How many partitions one COPY may write: past DuckDB's partitioned_write_max_open_files it
    closes files and opens new ones (more, smaller files, and names that depend on the timing),
    and each open writer holds a row group in memory."""
    (n,) = con.execute("SELECT current_setting('partitioned_write_max_open_files')").fetchone()  # type: ignore[misc]
    return max(1, int(n))


def _chunks(
    per_date: list[tuple[date, int]], limit: int, *, contiguous: bool
) -> list[tuple[date, date]]:
    """Cut dates (ascending, with their partition counts) into [first, last] ranges of at most
    `limit` partitions (a date alone may exceed it). `contiguous`: a range never spans a date
    missing from the list (its rows would be written too)."""
    out: list[tuple[date, date]] = []
    first: date | None = None
    last, parts = date.min, 0
    for d, n in per_date:
        gap = contiguous and first is not None and d != last + timedelta(days=1)
        if first is not None and (parts + n > limit or gap):
            out.append((first, last))
            first = None
        if first is None:
            first, parts = d, 0
        last, parts = d, parts + n
    if first is not None:
        out.append((first, last))
    return out


def write_date_partitions(
    con: duckdb.DuckDBPyConnection,
    select: str,
    out_dir: Path,
    dates: list[date],
    partition_by: tuple[str, ...] = ("event_date",),
    *,
    staging: Path | None = None,
) -> int:
    """Rewrite out_dir/event_date=D/... for each D in `dates` from `select`; files written.

    `select` reads the dates [$date_first, $date_last] (a range predicate, that zonemaps prune,
    substituted per COPY). Each file is written under `staging` (default: a `.staging` next to
    out_dir, outside it), then moved into place atomically; files the new export did not produce
    (stale) are removed. A COPY takes as many consecutive dates as DuckDB keeps files open (one
    partition per date and value of the other partition columns: counted when there are any).
    """
    root = staging if staging is not None else out_dir.parent / STAGING
    days = sorted(set(dates))
    if len(partition_by) > 1 and days:
        # Other partition columns: each date opens one file per distinct value of theirs.
        others = ", ".join(partition_by[1:])
        sql = _fill(select, 0, 0, days[0], days[-1])
        counts = dict(
            con.execute(
                f"SELECT event_date, count(*) FROM (SELECT DISTINCT event_date, {others} "
                f"FROM ({sql})) GROUP BY 1"
            ).fetchall()
        )
        per_date = [(d, int(counts.get(d, 1))) for d in days]
    else:
        per_date = [(d, 1) for d in days]
    written = 0
    for first, last in _chunks(per_date, max_open_files(con), contiguous=True):
        sql = _fill(select, 0, 0, first, last)
        chunk = [d for d in days if first <= d <= last]
        with _staging(root) as staged:
            copy = staged / "copy"
            _copy(con, sql, copy, partition_by, "data_{i}")
            written += _publish(copy, out_dir, chunk)
    return written


def _copy(
    con: duckdb.DuckDBPyConnection,
    select: str,
    to: Path,
    partition_by: tuple[str, ...],
    pattern: str,
) -> None:
    con.execute(
        f"COPY ({select}) TO {_sql_literal(to)} (FORMAT parquet, "
        f"PARTITION_BY ({', '.join(partition_by)}), COMPRESSION snappy, "
        f"FILENAME_PATTERN '{pattern}')"
    )


def _publish(staged_root: Path, out_dir: Path, dates: list[date]) -> int:
    """Move the complete staged files into place, one os.replace each, then drop stale ones."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for d in dates:
        name = f"event_date={d.isoformat()}"
        target, staged = out_dir / name, staged_root / name
        fresh = _move_in(staged, target)
        written += len(fresh)
        _sweep(target, fresh.__contains__, keep=True)  # stale: the tables no longer produce it
    return written


def _move_in(staged: Path, target: Path) -> set[Path]:
    """Move every staged Parquet file to the same place under `target`; the places."""
    moved: set[Path] = set()
    for f in sorted(staged.rglob("*.parquet")) if staged.exists() else []:
        dest = target / f.relative_to(staged)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)  # atomic per file
        moved.add(dest)
    return moved


def _sweep(target: Path, test: Callable[[Path], bool], *, keep: bool = False) -> None:
    """Delete the files under `target` that `test` names (`keep`: those it does not), then the
    directories left empty."""
    if not target.exists():
        return
    for f in sorted(target.rglob("*"), reverse=True):
        if f.is_file() and test(f) != keep:
            f.unlink()
        elif f.is_dir() and not any(f.iterdir()):
            f.rmdir()
    if not any(target.iterdir()):
        target.rmdir()


def _watermark(con: duckdb.DuckDBPyConnection) -> tuple[int, int | None]:
    row = con.execute(
        "SELECT exported_seq, exporting_seq FROM export_state WHERE target = ?", [EVENTS]
    ).fetchone()
    if row is None:
        con.execute("INSERT INTO export_state VALUES (?, 0, NULL)", [EVENTS])
        return 0, None
    return int(row[0]), None if row[1] is None else int(row[1])


def export_new_events(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[int, int]:
    """Append the silver_events rows past the watermark to the Parquet copy as new files
    (event_date=D/event_type=T/part-<hi>-<i>.parquet), then advance it; (files, rows).

    The range (lo, hi] is committed before any file is written: a rerun after a crash finds it
    and writes exactly that range again, under the same names (os.replace overwrites), so no row
    is ever missing or twice once it completes. Older files are never touched. Called outside any
    transaction (each statement its own commit), by the one process holding the write lock.
    """
    lo, hi = _watermark(con)
    if hi is None:
        (last,) = con.execute("SELECT last_seq FROM silver_events_seq").fetchone()  # type: ignore[misc]
        if last <= lo:
            return 0, 0
        hi = int(last)
        con.execute("UPDATE export_state SET exporting_seq = ? WHERE target = ?", [hi, EVENTS])
    plan = con.execute(_fill(load_sql("ingest/export_events_plan"), lo, hi, *ANY_DATE)).fetchall()
    select = load_sql("ingest/export_events")
    out = settings.silver_events_dir
    fresh: set[Path] = set()
    for first, last in _chunks([(r[0], r[1]) for r in plan], max_open_files(con), contiguous=False):
        with _staging(staging_root(settings)) as staged:
            copy = staged / "copy"
            _copy(con, _fill(select, lo, hi, first, last), copy, _EVENT_PARTS, f"part-{hi}-{{i}}")
            fresh |= _move_in(copy, out)
    # A first attempt that DuckDB split into more files than this one: its extra files of the
    # same range would repeat rows.
    for part in {f.parent for f in fresh}:
        for f in part.glob(f"part-{hi}-*.parquet"):
            if f not in fresh:
                f.unlink()
    con.execute(
        "UPDATE export_state SET exported_seq = ?, exporting_seq = NULL WHERE target = ?",
        [hi, EVENTS],
    )
    return len(fresh), sum(int(r[2]) for r in plan)


_EVENT_PARTS = ("event_date", "event_type")


def _covered(upto: int, fresh: set[Path]) -> Callable[[Path], bool]:
    """The files a compaction of every row up to ingest_seq `upto` replaces: older parts and
    compactions, and files of older pipers (data_<i>.parquet); never a newer part."""

    def drop(f: Path) -> bool:
        if f in fresh:
            return False
        m = _SEQ_FILE.fullmatch(f.name)
        return m is None or int(m.group(2)) <= upto

    return drop


def compact_events(con: duckdb.DuckDBPyConnection, settings: Settings, dates: list[date]) -> int:
    """Rewrite each date's Parquet as one file per event type from the table (every row the
    watermark covers), then delete the files it covers; files written.

    Rerun after a crash (the dates stay in export_pending until the end), it writes the same
    files again and finishes the deletions. Between a file's move and the deletion a reader
    may see a row twice (the old small file and the new one): the same short window as the
    per-file replace of a whole-day rewrite; after the step, never.
    """
    export_new_events(con, settings)  # the watermark then covers every row of the table
    upto, _ = _watermark(con)
    days = sorted(set(dates))
    if not days:
        return 0
    plan = con.execute(
        _fill(load_sql("ingest/export_events_plan"), -1, upto, days[0], days[-1])
    ).fetchall()
    counts = {r[0]: int(r[1]) for r in plan}
    per_date = [(d, counts.get(d, 1)) for d in days]
    select = load_sql("ingest/export_events")
    out = settings.silver_events_dir
    written = 0
    for first, last in _chunks(per_date, max_open_files(con), contiguous=True):
        with _staging(staging_root(settings)) as staged:
            copy = staged / "copy"
            _copy(
                con,
                _fill(select, -1, upto, first, last),
                copy,
                _EVENT_PARTS,
                f"compact-{upto}-{{i}}",
            )
            for d in days:
                if first <= d <= last:
                    name = f"event_date={d.isoformat()}"
                    fresh = _move_in(copy / name, out / name)
                    written += len(fresh)
                    _sweep(out / name, _covered(upto, fresh))
    return written


def to_compact(settings: Settings, first: date, last: date) -> list[date]:
    """Event dates in first..last whose Parquet copy has an event type with at least
    `ingest.parquet_compact_min_files` files (the incremental export adds one per ingest)."""
    root = settings.silver_events_dir
    limit = settings.ingest.parquet_compact_min_files
    found: list[date] = []
    for day in sorted(root.glob("event_date=*")) if root.is_dir() else []:
        try:
            d = date.fromisoformat(day.name.removeprefix("event_date="))
        except ValueError:
            continue
        if first <= d <= last and any(
            len(list(t.glob("*.parquet"))) >= limit for t in day.iterdir() if t.is_dir()
        ):
            found.append(d)
    return found


_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
SORT_MEMORY_FLOOR = 64 << 20  # below it, half a limit is too little for one 1 MiB line's row


@contextmanager
def _sort_memory(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Half the connection's memory limit (not under SORT_MEMORY_FLOOR) around a large sort:
    DuckDB's sort of a day of millions of quarantined lines overshoots its limit by about as much
    again (10 M lines: 729 MiB at 512 MiB, 425 MiB at 256 MiB, measured). The sort is what makes
    the file the same whatever crash came before it."""
    (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone()  # type: ignore[misc]
    number, unit = str(limit).split()
    total = float(number) * _UNITS[unit]
    sort = max(total / 2, min(total, SORT_MEMORY_FLOOR))
    con.execute(f"SET memory_limit = '{sort / (1 << 20):.1f} MiB'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{limit}'")


def export_quarantine(
    con: duckdb.DuckDBPyConnection, out_dir: Path, dates: list[date], settings: Settings
) -> int:
    """Rewrite quarantine/invalid_jsonl/D/quarantine.jsonl for each spool date D."""
    with _staging(staging_root(settings)) as staging:
        for d in dates:
            day = out_dir / d.isoformat()
            day.mkdir(parents=True, exist_ok=True)
            tmp = staging / f"{d.isoformat()}.jsonl"
            query = load_sql("ingest/export_quarantine").replace("$spool_date", f"DATE '{d}'")
            with _sort_memory(con):
                con.execute(f"COPY ({query}) TO {_sql_literal(tmp)} (FORMAT json)")
            os.replace(tmp, day / "quarantine.jsonl")
    return len(dates)


def model_dir(settings: Settings, model: str) -> Path:
    """Where a silver domain model's Parquet copy lives: silver/<name without silver_>."""
    return settings.data_root / "silver" / model.removeprefix("silver_")


def export_target(con: duckdb.DuckDBPyConnection, settings: Settings, target: str) -> int:
    """Rewrite the pending partitions of one target and clear them; files written."""
    dates = _pending(con, target)
    if not dates:
        return 0
    if target == "quarantine":
        files = export_quarantine(con, settings.quarantine_dir, dates, settings)
    elif target == EVENTS:  # compactions (or repairs), after the new events
        files = compact_events(con, settings, dates)
    elif _MODEL_TARGET.fullmatch(target):
        select = load_sql("ingest/export_model").replace("$model", target)
        out = model_dir(settings, target)
        files = write_date_partitions(con, select, out, dates, staging=staging_root(settings))
    else:  # not ours (a newer piper's?): left for it
        return 0
    _clear(con, target, dates)
    return files


def export_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Bring every derived file up to date with the tables, whatever run left it behind, and
    remove dead exports' staging; a short summary, '' if nothing was pending."""
    remove_leftovers(settings)
    done = []
    new_files, new_rows = export_new_events(con, settings)
    if new_files or new_rows:
        done.append(f"{new_files} Parquet files for {new_rows} new events")
    rows = con.execute("SELECT DISTINCT target FROM export_pending ORDER BY 1").fetchall()
    targets = [r[0] for r in rows]
    for target in targets:
        ndates = len(_pending(con, target))
        files = export_target(con, settings, target)
        if target == "quarantine":
            done.append(f"quarantine files for {ndates} spool dates")
        elif target == EVENTS:
            done.append(f"{files} Parquet files compacting {ndates} event dates")
        else:
            done.append(f"{target}: {files} Parquet files for {ndates} event dates")
    return "; ".join(done)
