"""silver_events' Parquet export (issue #14): the incremental export against the whole-day rewrite
it replaced, measured in the same run on the same table.

    uv run python benchmarks/bench_export.py --from /tmp/bi-b/data [--tick 2000] [--workdir ...]

--from: the data root of an ingested warehouse (benchmarks/bench_ingest.py leaves one). Its
silver_events is copied into a scratch warehouse twice:
(year) its rows spread over 365 event dates (a year backfill's shape): the whole-day rewrite of
       every date (8 dates per COPY, `event_date IN (SELECT ...)`, as before #14) against one
       incremental export of the same rows (range predicates, COPYs cut by open files);
(tick) as ingested, then `--tick` new events on its biggest day (a steady-state tick): the
       whole-day rewrite of that day against the incremental export of the new rows alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import duckdb

from piper_dagster.ingest.export import export_new_events
from piper_dagster.settings import load_settings
from piper_dagster.warehouse import connect, use_privacy

# The export before #14 (piper_dagster/ingest/export.py at c983b65), the baseline.
OLD_SELECT = (
    'SELECT * EXCLUDE (ingest_seq) REPLACE (piper_user("user") AS "user",'
    " piper_source_file(source_file) AS source_file) FROM silver_events"
    " WHERE event_date IN (SELECT partition_date FROM pending_dates)"
)
OLD_DATES_PER_COPY = 8


def old_export(con: duckdb.DuckDBPyConnection, out: Path, dates: list) -> None:
    for i in range(0, len(dates), OLD_DATES_PER_COPY):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE pending_dates AS "
            "SELECT unnest(?::DATE[]) AS partition_date",
            [dates[i : i + OLD_DATES_PER_COPY]],
        )
        con.execute(
            f"COPY ({OLD_SELECT}) TO '{out}/c{i}' (FORMAT parquet,"
            " PARTITION_BY (event_date, event_type), COMPRESSION snappy,"
            " FILENAME_PATTERN 'data_{i}')"
        )


def scratch(work: Path, source: Path, spread_days: int | None) -> None:
    """A warehouse under work/data with source's silver_events (optionally spread over days)."""
    import os

    shutil.rmtree(work, ignore_errors=True)
    (work / "spool").mkdir(parents=True)
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(work / "spool")
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(work / "data")
    settings = load_settings()
    with connect(settings.warehouse_path) as con:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        columns = [r[0] for r in con.execute("DESCRIBE src.silver_events").fetchall()]
        skip = "EXCLUDE (ingest_seq)" if "ingest_seq" in columns else ""  # an older warehouse
        date = (
            f"DATE '2026-01-01' + CAST(hash(event_id) % {spread_days} AS INTEGER)"
            if spread_days
            else "event_date"
        )
        con.execute(
            f"INSERT INTO silver_events SELECT * {skip} REPLACE ({date} AS event_date), 1"
            " FROM src.silver_events ORDER BY event_date"
        )
        con.execute("DETACH src")
        con.execute("UPDATE silver_events_seq SET last_seq = 1")


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument("--tick", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-export"))
    args = parser.parse_args()
    source = args.source / "warehouse" / "telemetry.duckdb"
    out: dict[str, object] = {}

    # (year) a backfill's export: every row, 365 dates.
    scratch(args.workdir, source, 365)
    settings = load_settings()
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        dates = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT event_date FROM silver_events ORDER BY 1"
            ).fetchall()
        ]
        rows = con.execute("SELECT count(*) FROM silver_events").fetchone()[0]
        old_dir = args.workdir / "old"
        old_dir.mkdir()
        out["year_rows"], out["year_dates"] = rows, len(dates)
        out["year_old_seconds"] = timed(lambda: old_export(con, old_dir, dates))
        out["year_new_seconds"] = timed(lambda: export_new_events(con, settings))
    out["year_ratio_new_to_old"] = out["year_new_seconds"] / out["year_old_seconds"]  # type: ignore[operator]

    # (tick) a steady-state tick on the biggest day.
    scratch(args.workdir, source, None)
    settings = load_settings()
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        export_new_events(con, settings)  # the day as exported before the tick
        day, n = con.execute(
            "SELECT event_date, count(*) FROM silver_events GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        con.execute(
            "INSERT INTO silver_events SELECT * REPLACE ('tick-' || event_id AS event_id, 2 AS"
            f" ingest_seq) FROM silver_events WHERE event_date = ? LIMIT {int(args.tick)}",
            [day],
        )
        con.execute("UPDATE silver_events_seq SET last_seq = 2")
        old_dir = args.workdir / "old"
        old_dir.mkdir()
        out["tick_day_rows"], out["tick_new_rows"] = n, args.tick
        out["tick_old_seconds"] = timed(lambda: old_export(con, old_dir, [day]))
        out["tick_new_seconds"] = timed(lambda: export_new_events(con, settings))
    out["tick_ratio_new_to_old"] = out["tick_new_seconds"] / out["tick_old_seconds"]  # type: ignore[operator]
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=2
        )
    )


if __name__ == "__main__":
    main()
