"""Retention: what `piper prune` deletes from the warehouse, the Parquet and quarantine files and
the serving layer, per `[retention]` (0 keeps forever), and what it never deletes.

Never: an event date whose export, refresh or health aggregation is pending; a quarantined line
that was neither replayed nor expired by `retention.quarantine_expire_days` (nor one of a spool
date that holds gold back); the checkpoint of a file still in the spool; the latest outcome of
a check; the current serving version or one younger than `serving.keep_seconds`. Whether another
run is active is the caller's question (the Dagster adapter, defs/retention.py), asked while the
caller holds the warehouse's write connection, so no run can start reading in between.

Crash safety: every table deletion of one prune is one transaction, and the quarantine files of
the spool dates it touched are marked for rewriting (export_pending) in it. Files go after the
commit: the Parquet directories of event dates older than the cutoff that have no row left, a
sweep that a rerun repeats (idempotent); the quarantine files by the export, which any later
export finishes too. A kill -9 at any point leaves the previous state or the new one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from piper_dagster.ingest.export import export_target, model_dir
from piper_dagster.models import SILVER_MODELS
from piper_dagster.serving import VERSIONS, prunable
from piper_dagster.serving import prune as prune_serving
from piper_dagster.settings import ConfigError, Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction


@dataclass
class StoreResult:
    """What a prune deleted (or would delete) from one store."""

    store: str
    rows: int = 0
    files: int = 0
    bytes: int = 0
    note: str = ""  # what was looked at, what was kept and why
    off: bool = False  # not pruned at all (kept forever, skipped): the note alone says why

    def line(self, dry_run: bool) -> str:
        verb = "would delete" if dry_run else "deleted"
        if self.off:
            return f"{self.store:<28} {self.note}"
        parts = []
        if not (self.rows or self.files):
            parts.append("nothing")
        if self.rows:
            parts.append(f"{self.rows} rows")
        if self.files:
            parts.append(f"{self.files} files ({_size(self.bytes)})")
        tail = f"; {self.note}" if self.note else ""
        return f"{self.store:<28} {verb} {', '.join(parts)}{tail}"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


KEPT = "kept forever (0)"


def check_settings(settings: Settings) -> None:
    """Refuse a retention that would delete what the running pipeline still uses."""
    r = settings.retention
    if 0 < r.silver_days < 2:
        raise ConfigError(
            "retention.silver_days must be 0 (keep forever) or at least 2: today's and"
            " yesterday's events are still arriving"
        )


def _tree_size(path: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                size += (Path(root) / name).stat().st_size
                files += 1
            except FileNotFoundError:
                continue
    return files, size


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _parquet_roots(settings: Settings) -> list[Path]:
    return [settings.silver_events_dir, *(model_dir(settings, m.name) for m in SILVER_MODELS)]


def _dated_dirs(root: Path, before: date) -> list[tuple[date, Path]]:
    found = []
    for d in sorted(root.glob("event_date=*")) if root.is_dir() else []:
        try:
            day = date.fromisoformat(d.name.removeprefix("event_date="))
        except ValueError:
            continue
        if day < before:
            found.append((day, d))
    return found


def _silver_orphans(
    con: duckdb.DuckDBPyConnection, settings: Settings, cutoff: date, also: set[date]
) -> list[Path]:
    """Parquet directories of event dates before the cutoff with no silver_events row left and
    nothing pending (or in `also`: a dry run's dates, whose rows are still there)."""
    kept = {
        r[0]
        for r in con.execute(load_sql("retention/kept_event_dates"), {"cutoff": cutoff}).fetchall()
    }
    return [
        path
        for root in _parquet_roots(settings)
        for day, path in _dated_dirs(root, cutoff)
        if day in also or day not in kept
    ]


def prune_stores(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> list[StoreResult]:
    """Prune the warehouse, its files and the serving layer on an open read-write connection
    held by the caller (no other run active: the caller checked)."""
    check_settings(settings)
    r = settings.retention
    now = now or datetime.now(UTC)

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    tables = _existing_tables(con)
    silver = StoreResult("silver (tables)")
    quarantine = StoreResult("quarantine")
    replayed = StoreResult("quarantine_replayed")
    bookkeeping = {
        t: StoreResult(t)
        for t in ("ingest_batches", "spool_anomalies", "alert_log", "pipeline_check_results")
    }
    checkpoints = StoreResult("spool_files (checkpoints)")
    parquet = StoreResult("silver Parquet")
    quarantine_files = StoreResult("quarantine files")
    cutoff = (now - timedelta(days=r.silver_days)).date()
    silver_dates: list[date] = []
    quarantine_dates: list[date] = []

    with transaction(con, commit=not dry_run):
        if r.silver_days:
            silver_dates = [
                row[0]
                for row in con.execute(
                    load_sql("retention/silver_dates"), {"cutoff": cutoff}
                ).fetchall()
            ]
            if silver_dates:
                for table in ("silver_events", *(m.name for m in SILVER_MODELS)):
                    if table not in tables:
                        continue
                    deleted = con.execute(
                        load_sql("retention/delete_silver_dates").replace("$table", table),
                        {"dates": silver_dates},
                    ).fetchall()
                    silver.rows += len(deleted)
            silver.note = f"{len(silver_dates)} event dates before {cutoff}"
        else:
            silver.note, silver.off = KEPT, True

        if r.quarantine_expire_days:
            rows = con.execute(
                load_sql("retention/quarantine_expire"),
                {"before": before(r.quarantine_expire_days)},
            ).fetchall()
            quarantine.rows = len(rows)
            quarantine_dates = sorted({row[0] for row in rows})
            # Rewritten after the commit (or by any later export, should this process die).
            if quarantine_dates:
                con.executemany(
                    "INSERT OR IGNORE INTO export_pending VALUES ('quarantine', ?)",
                    [[d] for d in quarantine_dates],
                )
        else:
            quarantine.note = "only replayed lines leave it (quarantine_expire_days = 0)"
            quarantine.off = True

        if r.quarantine_replayed_days:
            replayed.rows = len(
                con.execute(
                    load_sql("retention/delete_replayed"),
                    {"before": before(r.quarantine_replayed_days)},
                ).fetchall()
            )
        else:
            replayed.note, replayed.off = KEPT, True

        if r.bookkeeping_days:
            bound = {"before": before(r.bookkeeping_days)}
            for table, column in (
                ("ingest_batches", "committed_at"),
                ("spool_anomalies", "detected_at"),
                ("alert_log", "sent_at"),  # what was sent; alert_state keeps each check's state
            ):
                sql = load_sql("retention/delete_bookkeeping")
                sql = sql.replace("$table", table).replace("$column", column)
                bookkeeping[table].rows = len(con.execute(sql, bound).fetchall())
            bookkeeping["pipeline_check_results"].rows = len(
                con.execute(load_sql("retention/check_results"), bound).fetchall()
            )
        else:
            for result in bookkeeping.values():
                result.note, result.off = KEPT, True

        if not r.spool_checkpoint_days:
            checkpoints.note, checkpoints.off = KEPT, True
        elif not settings.raw_root.is_dir():
            # An unmounted spool would make every file look gone.
            checkpoints.note = f"skipped: the spool {settings.raw_root} is not reachable"
            checkpoints.off = True
        else:
            old = con.execute(
                load_sql("retention/old_checkpoints"),
                {"before": before(r.spool_checkpoint_days)},
            ).fetchall()
            gone = [f for (f,) in old if not (settings.raw_root / f).exists()]
            if gone:
                con.execute(load_sql("retention/delete_checkpoints"), {"files": gone})
            checkpoints.rows = len(gone)
            if len(old) > len(gone):
                checkpoints.note = (
                    f"{len(old) - len(gone)} old ones kept: their files are in the spool"
                )

    # Files, after the commit that forgot them (a dry run: what they would be).
    if r.silver_days:
        for path in _silver_orphans(con, settings, cutoff, set(silver_dates) if dry_run else set()):
            files, size = _tree_size(path)
            parquet.files += files
            parquet.bytes += size
            if not dry_run:
                _remove_tree(path)
    else:
        parquet.note, parquet.off = KEPT, True
    for d in quarantine_dates:
        f = settings.quarantine_dir / d.isoformat() / "quarantine.jsonl"
        if f.exists():
            quarantine_files.files += 1
            quarantine_files.bytes += f.stat().st_size
    quarantine_files.off = True  # rewritten, not deleted
    quarantine_files.note = (
        f"{'would rewrite' if dry_run else 'rewrote'} {quarantine_files.files} files"
        f" ({_size(quarantine_files.bytes)}) without the expired lines"
        if quarantine_dates
        else "nothing to rewrite"
    )
    if not dry_run:
        # This prune's spool dates, and those of a prune killed after its commit.
        export_target(con, settings, "quarantine")

    serving = StoreResult("serving versions")
    versions = prunable(
        settings.serving_dir, settings.serving.keep_versions, settings.serving.keep_seconds
    )
    for name in versions:
        files, size = _tree_size(settings.serving_dir / VERSIONS / name)
        serving.files += files
        serving.bytes += size
    if versions and not dry_run:
        # With the warehouse's write connection held, no publication runs meanwhile.
        prune_serving(
            settings.serving_dir, settings.serving.keep_versions, settings.serving.keep_seconds
        )
    serving.note = (
        f"{len(versions)} versions, oldest {versions[0]}"
        if versions
        else f"keeps the current one, the {settings.serving.keep_versions} newest and"
        f" those superseded less than {settings.serving.keep_seconds} s ago"
    )
    return [
        silver,
        parquet,
        quarantine,
        quarantine_files,
        replayed,
        *bookkeeping.values(),
        checkpoints,
        serving,
    ]
