"""The pipeline-health aggregates per day, kept in the warehouse and updated where they changed.

health_ingest_daily and health_skewed_hosts_daily (per event date) and health_spool_daily (per
spool date) are aggregates of silver_events, spool_files and quarantine. Recomputed at every
publish over `serving.health_days` days, they cost each sensor tick a scan of three months of
events (the tick's work then grew with the history); kept as tables, a publish re-aggregates only
the dates marked in `health_pending` (sql/health/dirty_*.sql, marked in the transaction that
changed their rows) and copies the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from piper_dagster.contract.families import family_rows
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction


@dataclass(frozen=True)
class HealthTable:
    name: str  # the warehouse table, and the served table of the same name
    key: str  # its date column
    kind: str  # which dates of health_pending it is refreshed for


HEALTH_TABLES: tuple[HealthTable, ...] = (
    HealthTable("health_ingest_daily", "event_date", "event_date"),
    HealthTable("health_skewed_hosts_daily", "event_date", "event_date"),
    HealthTable("health_spool_daily", "spool_date", "spool_date"),
)


def _params(sql: str) -> dict[str, object]:
    return {"families": family_rows()} if "$families" in sql else {}


def _create_missing(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables a warehouse lacks (older piper, new warehouse), with every date of
    their sources marked: the first publish aggregates them all, once."""
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for table in HEALTH_TABLES:
        if table.name in existing:
            continue
        sql = load_sql(f"health/{table.name}")
        con.execute("CREATE OR REPLACE TEMP TABLE health_days (day DATE)")
        con.execute(f"CREATE TABLE {table.name} AS {sql}", _params(sql))
        source = (
            "SELECT event_date FROM silver_events"
            if table.kind == "event_date"
            else "SELECT spool_date FROM spool_files UNION SELECT spool_date FROM quarantine"
            " UNION SELECT spool_date FROM silver_events"
        )
        con.execute(
            f"INSERT OR IGNORE INTO health_pending SELECT DISTINCT '{table.kind}', d"
            f" FROM ({source}) AS t(d)"
        )


def refresh_health(con: duckdb.DuckDBPyConnection) -> int:
    """Re-aggregate the marked dates of every health table and clear the marks, in one
    transaction (a crash leaves the marks for the next publish); dates re-aggregated."""
    with transaction(con):
        _create_missing(con)
        done = 0
        for kind in ("event_date", "spool_date"):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE health_days AS"
                " SELECT day FROM health_pending WHERE kind = ?",
                [kind],
            )
            (n,) = con.execute("SELECT count(*) FROM health_days").fetchone()  # type: ignore[misc]
            if not n:
                continue
            for table in (t for t in HEALTH_TABLES if t.kind == kind):
                sql = load_sql(f"health/{table.name}")
                con.execute(
                    f"DELETE FROM {table.name} WHERE {table.key} IN (SELECT day FROM health_days)"
                )
                con.execute(f"INSERT INTO {table.name} BY NAME {sql}", _params(sql))
            con.execute("DELETE FROM health_pending WHERE kind = ?", [kind])
            done += n
        con.execute("DROP TABLE IF EXISTS health_days")
    return done
