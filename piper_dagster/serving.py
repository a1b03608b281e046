"""The serving layer: what Grafana reads, published as Parquet and replaced atomically.

Grafana must never open the warehouse: DuckDB allows one read-write process or several
read-only ones, never both, so a dashboard holding the file would make the next run fail (and a
run would lock Grafana out). After each gold (or checks) write, `publish` exports the served
tables into a new directory and flips a symlink:

    <data_root>/serving/versions/<version>/<table>.parquet   one complete snapshot per version
    <data_root>/serving/current -> versions/<version>         relative, flipped with os.replace

Grafana's DuckDB datasource (in memory) defines one view per table over
`<root>/current/<table>.parquet` on each of its connections (`init_sql`): every query opens the
files again, so it sees the newest complete snapshot, never a half-written one. Older versions
are kept a while (`serving.keep_versions`, `serving.keep_seconds`) for readers that resolved
`current` just before a flip.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from piper_dagster.health_daily import HEALTH_TABLES, refresh_health
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS, ensure_tables
from piper_dagster.settings import Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect, use_privacy

HEALTH = {t.name: t for t in HEALTH_TABLES}


@dataclass(frozen=True)
class ServedTable:
    name: str  # the Parquet file's stem and the view's name in Grafana
    time_column: str  # what panels filter with $__timeFilter
    description: str
    # The SELECT that produces it from the warehouse (parameters: see `publish_from`).
    select: str = field(repr=False)


def _health(name: str, time_column: str, description: str) -> ServedTable:
    return ServedTable(name, time_column, description, load_sql(f"serving/{name}"))


def _daily(name: str, description: str, *order: str) -> ServedTable:
    """A health table kept in the warehouse (piper_dagster/health_daily.py): its last days."""
    key = HEALTH[name].key
    return ServedTable(
        name,
        key,
        description,
        f"SELECT * FROM {name} WHERE {key} >= $first ORDER BY {', '.join((key, *order))}",
    )


SERVED_TABLES: tuple[ServedTable, ...] = (
    *(
        ServedTable(m.name, m.key, m.description, f"SELECT * FROM {m.name} ORDER BY {m.key}")
        for m in GOLD_MODELS
    ),
    ServedTable(
        "pipeline_check_results",
        "evaluated_at",
        "Outcomes of the pipeline's checks (freshness, volume, invalid rate, clock skew)",
        # detail is JSON: served as text, which every client reads.
        "SELECT * REPLACE (detail::VARCHAR AS detail) FROM pipeline_check_results"
        " WHERE evaluated_at >= (SELECT max(evaluated_at) FROM pipeline_check_results)"
        " - to_days($days) ORDER BY evaluated_at",
    ),
    _daily(
        "health_ingest_daily", "Ingest volume per event date and source family", "source_family"
    ),
    _health("health_quarantine_daily", "spool_date", "Quarantined lines per spool date and reason"),
    _daily("health_skewed_hosts_daily", "Hosts sending clock-skewed events", "host"),
    _daily(
        "health_spool_daily",
        "Lines read and quarantined, events and skewed events per spool date (the checks' measures)",
    ),
    _health(
        "health_spool_anomalies_daily",
        "detected_date",
        "Spool files rewritten, gone, skipped (unreadable, no partition) or with a future mtime",
    ),
    ServedTable(
        "health_refresh_backlog",
        "first_dirtied_at",
        "Event dates waiting in the refresh ledger for their silver and gold, held back or not",
        # The ledger's own query (sql/refresh/backlog.sql); lists as text, which every client reads.
        "SELECT event_date, first_dirtied_at, entries, held_back,"
        " array_to_string(why, ',') AS why,"
        " array_to_string(blocked_spool_dates::VARCHAR[], ',') AS blocked_spool_dates"
        f" FROM ({load_sql('refresh/backlog').rstrip().rstrip(';')}) ORDER BY event_date",
    ),
    _health(
        "health_alerts",
        "sent_at",
        "Notifications (piper_dagster/alerts): sent, failed, dropped, or pending in the outbox",
    ),
    ServedTable(
        "serving_publication",
        "published_at",
        "The publication Grafana reads: when, and how fresh the warehouse was",
        "SELECT $version AS version, $published_at::TIMESTAMPTZ AS published_at,"
        " (SELECT max(event_date) FROM silver_events) AS newest_event_date,"
        " (SELECT max(ingested_at) FROM silver_events) AS newest_ingested_at",
    ),
)
SERVED: dict[str, ServedTable] = {t.name: t for t in SERVED_TABLES}

CURRENT = "current"
VERSIONS = "versions"


@dataclass(frozen=True)
class Publication:
    version: str
    path: Path  # the version's directory
    rows: dict[str, int]  # table -> rows published
    seconds: float
    removed: list[str]  # versions deleted by this publication

    def as_metadata(self) -> dict[str, object]:
        return {
            "serving_version": self.version,
            "serving_path": str(self.path),
            "serving_seconds": round(self.seconds, 3),
        }


def init_sql(root: str | Path) -> str:
    """The datasource's initSql: one TEMP view per served table over `<root>/current/<table>.parquet`.

    The plugin (v0.4.5) runs initSql in go-duckdb's connector hook: on *every* connection its
    database/sql pool opens to its one in-memory database, and each query runs on one of those
    connections. Plain views are entries of the database's shared catalog: connections opening at
    once (a dashboard's panels load together) would each replace the same views and fail with a
    "Catalog write-write conflict" (`CREATE VIEW IF NOT EXISTS` conflicts too, on the first
    concurrent creations). A TEMP view belongs to its connection alone: no two inits touch the
    same entry, and every connection a query can run on has its views.

    A view binds its file when created: before the first publication initSql fails ("No files
    found"), the connection is not pooled, and the next query's new connection tries again.
    DuckDB's external file cache is off: it is keyed by path and validated by modification time
    (seconds), and `current/<table>.parquet` names a different file after each flip.
    """
    lines = ["SET enable_external_file_cache = false;"]
    lines += [
        f"CREATE OR REPLACE TEMP VIEW {t.name} AS"
        f" SELECT * FROM read_parquet('{root}/{CURRENT}/{t.name}.parquet');"
        for t in SERVED_TABLES
    ]
    return "\n".join(lines) + "\n"


def current_version(serving_dir: Path) -> str | None:
    """The version `current` points at, None before the first publication."""
    try:
        return Path(os.readlink(serving_dir / CURRENT)).name
    except FileNotFoundError:
        return None


@contextmanager
def _publish_lock(serving_dir: Path) -> Iterator[None]:
    # Two publishers (a gold run and a checks schedule) must not flip in the wrong order.
    serving_dir.mkdir(parents=True, exist_ok=True)
    with open(serving_dir / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_version() -> str:
    # Sortable by name: a UTC timestamp to the microsecond, then the pid (two processes).
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{os.getpid()}"


def publish_from(con: duckdb.DuckDBPyConnection, settings: Settings) -> Publication:
    """Publish the served tables from an open read-write warehouse connection."""
    started = time.monotonic()
    serving = settings.serving_dir
    use_privacy(con, settings.privacy)
    # A model never refreshed still has a (empty) file, so every view binds from day one.
    ensure_tables(con, (*SILVER_MODELS, *GOLD_MODELS))
    refresh_health(con)  # the health tables' dates that changed since the last publish
    newest = con.execute("SELECT max(event_date) FROM silver_events").fetchone()
    newest_day: date = newest[0] if newest and newest[0] else settings.ingest.start_date
    days = settings.serving.health_days
    params = {
        "first": newest_day - timedelta(days=days - 1),
        "days": days,
        "version": "",
        "published_at": datetime.now(UTC),
    }
    with _publish_lock(serving):
        version = _new_version()
        params["version"] = version
        versions = serving / VERSIONS
        versions.mkdir(parents=True, exist_ok=True)
        staging = versions / f".{version}.tmp"
        staging.mkdir()
        rows: dict[str, int] = {}
        try:
            for table in SERVED_TABLES:
                used = {k: v for k, v in params.items() if f"${k}" in table.select}
                target = staging / f"{table.name}.parquet"
                con.execute(
                    f"COPY ({table.select}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)",
                    used,
                )
                count = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
                rows[table.name] = int(count[0]) if count else 0
            (staging / "manifest.json").write_text(
                json.dumps({"version": version, "rows": rows}, indent=2, sort_keys=True)
            )
            for child in staging.iterdir():
                fd = os.open(child, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            final = versions / version
            staging.rename(final)
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # The flip: a new relative symlink renamed over `current` (atomic on POSIX). Relative,
        # so that it resolves wherever the data root is mounted (Grafana's container).
        link = serving / f".{CURRENT}-{version}"
        os.symlink(f"{VERSIONS}/{version}", link)
        os.replace(link, serving / CURRENT)
        _fsync_dir(serving)
        removed = prune(serving, settings.serving.keep_versions, settings.serving.keep_seconds)
    return Publication(version, final, rows, time.monotonic() - started, removed)


def publish(settings: Settings) -> Publication:
    """Publish the serving layer from the warehouse (opened read-write: it may create the empty
    model tables). Call it after anything Grafana shows has been written: gold, check results."""
    settings.require_data_root()
    with connect(settings.warehouse_path) as con:
        return publish_from(con, settings)


def prunable(serving_dir: Path, keep_versions: int, keep_seconds: float) -> list[str]:
    """The versions beyond the newest `keep_versions` that were superseded more than
    `keep_seconds` ago, oldest first; never the current one."""
    versions_dir = serving_dir / VERSIONS
    if not versions_dir.is_dir():
        return []
    now = time.time()
    current = current_version(serving_dir)
    names = sorted(p.name for p in versions_dir.iterdir() if not p.name.startswith("."))
    found: list[str] = []
    for i, name in enumerate(names[: max(0, len(names) - keep_versions)]):
        # A version stopped being current when the next one was published.
        superseded_at = (versions_dir / names[i + 1]).stat().st_mtime
        if name != current and now - superseded_at > keep_seconds:
            found.append(name)
    return found


def prune(serving_dir: Path, keep_versions: int, keep_seconds: float) -> list[str]:
    """Delete the `prunable` versions (and staging directories of crashed publications as old);
    the versions deleted, oldest first."""
    versions_dir = serving_dir / VERSIONS
    removed = prunable(serving_dir, keep_versions, keep_seconds)
    for name in removed:
        shutil.rmtree(versions_dir / name, ignore_errors=True)
    now = time.time()
    for stale in versions_dir.glob(".*.tmp") if versions_dir.is_dir() else []:
        if now - stale.stat().st_mtime > keep_seconds:
            shutil.rmtree(stale, ignore_errors=True)
    return removed
