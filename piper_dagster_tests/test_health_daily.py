"""The pipeline-health tables are kept in the warehouse: a publish re-aggregates only the dates
that changed, and what it serves equals the aggregate of every row (issue #14: a tick's work
must not grow with the history)."""

from __future__ import annotations

import duckdb

from piper_dagster.contract.families import family_rows
from piper_dagster.health_daily import HEALTH_TABLES
from piper_dagster.ingest.run import ingest
from piper_dagster.serving import publish
from piper_dagster.settings import Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import ev, mixed_spool, write_spool_file

# Where the marks, the families parameter and the temp table come from: the tables' own SQL over
# every date, the reference the incremental tables must equal.
EVERY_DATE = {
    "event_date": "SELECT DISTINCT event_date AS day FROM silver_events",
    "spool_date": "SELECT spool_date AS day FROM spool_files UNION SELECT spool_date FROM quarantine",
}


def _from_scratch(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    out = {}
    for table in HEALTH_TABLES:
        con.execute(f"CREATE OR REPLACE TEMP TABLE health_days AS {EVERY_DATE[table.kind]}")
        sql = load_sql(f"health/{table.name}")
        params = {"families": family_rows()} if "$families" in sql else {}
        out[table.name] = sorted(con.execute(sql, params).fetchall(), key=repr)
    return out


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        t.name: sorted(con.execute(f"SELECT * FROM {t.name}").fetchall(), key=repr)
        for t in HEALTH_TABLES
    }


def test_a_publish_reaggregates_the_changed_dates_only(piper_env: Settings) -> None:
    mixed_spool(piper_env.raw_root)  # three spool dates, invalid lines, re-sent events
    ingest(piper_env)
    publish(piper_env)
    with connect(piper_env.warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM health_pending").fetchone() == (0,)
        first = _tables(con)
        assert first == _from_scratch(con)
        assert first["health_ingest_daily"] and first["health_spool_daily"]
        # A row of a date no later ingest touches: a publish that re-aggregated every date
        # would put it back.
        (files,) = con.execute(
            "SELECT files FROM health_spool_daily WHERE spool_date = '2026-03-02'"
        ).fetchone()  # type: ignore[misc]
        con.execute("UPDATE health_spool_daily SET files = -1 WHERE spool_date = '2026-03-02'")
    write_spool_file(
        piper_env.raw_root,
        "ws009/late/2026-03-04_new.jsonl",
        b"".join(ev(90_000 + i, "2026-03-04T11:00:00Z") for i in range(5)) + b"not json\n",
    )
    ingest(piper_env)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        assert sorted(con.execute("SELECT kind, day::VARCHAR FROM health_pending").fetchall()) == [
            ("event_date", "2026-03-04"),
            ("spool_date", "2026-03-04"),
        ]
    publish(piper_env)
    with connect(piper_env.warehouse_path) as con:
        assert con.execute(
            "SELECT files FROM health_spool_daily WHERE spool_date = '2026-03-02'"
        ).fetchone() == (-1,)
        con.execute(
            "UPDATE health_spool_daily SET files = ? WHERE spool_date = '2026-03-02'", [files]
        )
        now, scratch = _tables(con), _from_scratch(con)
    # Everything else, 2026-03-04 included, equals the aggregate of every row.
    assert now == scratch != first


def test_a_warehouse_without_the_tables_gets_them_whole(piper_env: Settings) -> None:
    mixed_spool(piper_env.raw_root)
    ingest(piper_env)
    publish(piper_env)
    with connect(piper_env.warehouse_path) as con:
        expected = _tables(con)
        for table in HEALTH_TABLES:  # as a warehouse of an older piper
            con.execute(f"DROP TABLE {table.name}")
    publish(piper_env)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        assert _tables(con) == expected
        assert con.execute("SELECT count(*) FROM health_pending").fetchone() == (0,)
