"""Files derived from the warehouse tables: silver_events Parquet, the silver domains' Parquet and
per-day quarantine JSONL.

Partitions named in export_pending (committed with the data that dirtied them) are rewritten
from the tables, each file replaced atomically, then cleared: rerunning after a crash redoes the
export and yields the same files.

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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
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


# Dates exported per COPY: a partitioned COPY keeps a writer open per partition (date x event
# type), so a long range at once would exceed the ingest's memory limit.
DATES_PER_COPY = 8


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

    `select` reads the dates from the temp table `pending_dates(partition_date)`. Each file is
    written under `staging` (default: a `.staging` next to out_dir, outside it), then moved into
    place atomically; files the new export did not produce (stale) are removed.
    """
    root = staging if staging is not None else out_dir.parent / STAGING
    return sum(
        _write_dates(con, select, out_dir, dates[i : i + DATES_PER_COPY], root, partition_by)
        for i in range(0, len(dates), DATES_PER_COPY)
    )


def _write_dates(
    con: duckdb.DuckDBPyConnection,
    select: str,
    out_dir: Path,
    dates: list[date],
    staging_dir: Path,
    partition_by: tuple[str, ...],
) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pending_dates AS SELECT unnest(?::DATE[]) AS partition_date",
        [dates],
    )
    try:
        with _staging(staging_dir) as staging:
            copy = staging / "copy"
            con.execute(
                f"COPY ({select}) TO {_sql_literal(copy)} (FORMAT parquet, "
                f"PARTITION_BY ({', '.join(partition_by)}), COMPRESSION snappy, "
                "FILENAME_PATTERN 'data_{i}')"
            )
            return _publish(copy, out_dir, dates)
    finally:
        con.execute("DROP TABLE IF EXISTS pending_dates")


def _publish(staged_root: Path, out_dir: Path, dates: list[date]) -> int:
    """Move the complete staged files into place, one os.replace each, then drop stale ones."""
    written = 0
    for d in dates:
        name = f"event_date={d.isoformat()}"
        target, staged = out_dir / name, staged_root / name
        fresh: set[Path] = set()
        for f in sorted(staged.rglob("*.parquet")) if staged.exists() else []:
            rel = f.relative_to(staged)
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, target / rel)  # atomic per file
            fresh.add(rel)
            written += 1
        if target.exists():
            for f in sorted(target.rglob("*"), reverse=True):
                if f.is_file() and f.relative_to(target) not in fresh:
                    f.unlink()  # stale: the tables no longer produce it
                elif f.is_dir() and not any(f.iterdir()):
                    f.rmdir()
            if not any(target.iterdir()):
                target.rmdir()
    return written


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
    elif target == "silver_events":
        files = write_date_partitions(
            con,
            load_sql("ingest/export_events"),
            settings.silver_events_dir,
            dates,
            partition_by=("event_date", "event_type"),
            staging=staging_root(settings),
        )
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
    rows = con.execute("SELECT DISTINCT target FROM export_pending ORDER BY 1").fetchall()
    targets = [r[0] for r in rows]
    for target in targets:
        ndates = len(_pending(con, target))
        files = export_target(con, settings, target)
        if target == "quarantine":
            done.append(f"quarantine files for {ndates} spool dates")
        elif target == "silver_events":
            done.append(f"{files} Parquet files for {ndates} event dates")
        else:
            done.append(f"{target}: {files} Parquet files for {ndates} event dates")
    return "; ".join(done)
