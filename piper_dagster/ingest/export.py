"""Files derived from the warehouse tables: silver_events Parquet and per-day quarantine JSONL.

Partitions named in export_pending (committed with the data that dirtied them) are rewritten
from the tables, each file replaced atomically, then cleared: rerunning after a crash redoes the
export and yields the same files.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import duckdb

from piper_dagster.settings import Settings
from piper_dagster.sql import load_sql


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
) -> int:
    """Rewrite out_dir/event_date=D/... for each D in `dates` from `select`; files written.

    `select` reads the dates from the temp table `pending_dates(partition_date)`. Each file is
    replaced atomically; files the new export did not produce (stale) are removed.
    """
    return sum(
        _write_dates(con, select, out_dir, dates[i : i + DATES_PER_COPY], partition_by)
        for i in range(0, len(dates), DATES_PER_COPY)
    )


def _write_dates(
    con: duckdb.DuckDBPyConnection,
    select: str,
    out_dir: Path,
    dates: list[date],
    partition_by: tuple[str, ...],
) -> int:
    staging = out_dir / f".staging-{uuid.uuid4().hex}"
    out_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pending_dates AS SELECT unnest(?::DATE[]) AS partition_date",
        [dates],
    )
    try:
        con.execute(
            f"COPY ({select}) TO {_sql_literal(staging)} (FORMAT parquet, "
            f"PARTITION_BY ({', '.join(partition_by)}), COMPRESSION snappy, "
            "FILENAME_PATTERN 'data_{i}')"
        )
        written = 0
        for d in dates:
            name = f"event_date={d.isoformat()}"
            target, staged = out_dir / name, staging / name
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        con.execute("DROP TABLE IF EXISTS pending_dates")


def export_quarantine(con: duckdb.DuckDBPyConnection, out_dir: Path, dates: list[date]) -> int:
    """Rewrite quarantine/invalid_jsonl/D/quarantine.jsonl for each spool date D."""
    for d in dates:
        day = out_dir / d.isoformat()
        day.mkdir(parents=True, exist_ok=True)
        tmp = day / f".quarantine.jsonl.{uuid.uuid4().hex}.tmp"
        query = load_sql("ingest/export_quarantine").replace("$spool_date", f"DATE '{d}'")
        con.execute(f"COPY ({query}) TO {_sql_literal(tmp)} (FORMAT json)")
        os.replace(tmp, day / "quarantine.jsonl")
    return len(dates)


def export_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Bring the derived files up to date with the tables; a short summary, '' if nothing."""
    done = []
    dates = _pending(con, "silver_events")
    if dates:
        files = write_date_partitions(
            con,
            load_sql("ingest/export_events"),
            settings.silver_events_dir,
            dates,
            partition_by=("event_date", "event_type"),
        )
        _clear(con, "silver_events", dates)
        done.append(f"{files} Parquet files for {len(dates)} event dates")
    qdates = _pending(con, "quarantine")
    if qdates:
        export_quarantine(con, settings.quarantine_dir, qdates)
        _clear(con, "quarantine", qdates)
        done.append(f"quarantine files for {len(qdates)} spool dates")
    return "; ".join(done)
