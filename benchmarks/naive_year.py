"""The baseline of bench_year.py: what a user would write instead of piper.

    python benchmarks/naive_year.py SPOOL_DIR OUT.duckdb

One process, DuckDB only: `read_json` of every spool file with explicit columns, one row per
event_id (`DISTINCT ON`), the six gold aggregations of contract §7 straight from that table,
`CHECKPOINT`. It validates nothing, keeps no offsets, quarantines nothing and writes no Parquet.
"""

from __future__ import annotations

import sys

import duckdb

COLUMNS = (
    "{schema_version: 'VARCHAR', event_id: 'VARCHAR', event_type: 'VARCHAR', ts: 'TIMESTAMPTZ',"
    " host: 'VARCHAR', \"user\": 'VARCHAR', \"show\": 'VARCHAR', session_id: 'VARCHAR',"
    " payload: 'JSON'}"
)
OUTCOME_TYPES = (
    "'publish.asset.usd', 'publish.anim.usd', 'publish.camera.usd', 'publish.customanim.usd',"
    " 'publish.previs_asset.usd', 'dcc.launch', 'file.open', 'file.create', 'shot.setup',"
    " 'playblast.create', 'build.houdini.component', 'texture.export.substance',"
    " 'texture.convert.tex', 'render.stats.summary'"
)
GOLD = {
    "gold_publish_health_daily": """
        SELECT event_date, event_type, count(*) AS publish_count,
            count_if(payload->>'$.status' = 'success') / count(*) AS publish_success_rate,
            quantile_cont((payload->>'$.duration_ms')::BIGINT, 0.95) AS publish_duration_p95_ms,
            sum((payload->>'$.output_bytes')::BIGINT)
                FILTER (payload->>'$.status' = 'success') AS publish_output_bytes
        FROM events WHERE event_type LIKE 'publish.%' GROUP BY ALL""",
    "gold_render_health_daily": """
        SELECT event_date, count(*) AS render_job_count,
            count_if(payload->>'$.status' = 'success') / count(*) AS render_success_rate,
            sum((payload->>'$.cpu_seconds')::DOUBLE) / 3600 AS render_cpu_hours,
            sum((payload->>'$.frames_failed')::BIGINT) AS render_failed_frames
        FROM events WHERE event_type = 'render.stats.summary' GROUP BY ALL""",
    "gold_farm_pressure_daily": """
        SELECT event_date,
            max((payload->>'$.active_blades')::BIGINT)
                FILTER (event_type = 'tractor.farm.snapshot') AS farm_peak_active_blades,
            max((payload->>'$.errored_jobs')::BIGINT)
                FILTER (event_type = 'tractor.farm.snapshot') AS farm_peak_errored_jobs,
            count_if(event_type = 'tractor.job.spool' AND (payload->>'$.status') = 'spooled')
                AS farm_jobs_spooled
        FROM events WHERE event_type IN ('tractor.farm.snapshot', 'tractor.job.spool')
        GROUP BY ALL""",
    "gold_tool_reliability_daily": f"""
        SELECT event_date, event_type, count(*) AS tool_invocations,
            count_if(payload->>'$.status' = 'success') / count(*) AS tool_success_rate,
            quantile_cont((payload->>'$.duration_ms')::BIGINT, 0.95) AS tool_duration_p95_ms
        FROM events
        WHERE event_type IN ({OUTCOME_TYPES}) AND event_type NOT LIKE 'publish.%'
            AND event_type <> 'render.stats.summary'
        GROUP BY ALL""",
    "gold_storage_growth_weekly": """
        SELECT date_trunc('week', event_date)::DATE AS week, (payload->>'$.root') AS root,
            (payload->>'$.bucket') AS bucket, (payload->>'$.bytes')::BIGINT AS storage_bytes,
            (payload->>'$.file_count')::BIGINT AS storage_file_count
        FROM events WHERE event_type = 'storage.scan.bucket'
        QUALIFY row_number() OVER (PARTITION BY week, root, bucket
                                   ORDER BY ts DESC, event_id DESC) = 1""",
    "gold_data_quality_daily": f"""
        SELECT event_date, count(*) AS dq_events,
            count_if(event_type IN ({OUTCOME_TYPES}) AND (payload->>'$.status') = 'failure')
                / nullif(count_if(event_type IN ({OUTCOME_TYPES})), 0) AS dq_error_rate,
            count(DISTINCT "user") FILTER (NOT starts_with("user", 'svc_')) AS dq_active_users
        FROM events GROUP BY ALL""",
}


def main() -> None:
    spool, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect(out)
    glob = f"{spool}/*/*/*.jsonl"
    con.execute(
        "CREATE TABLE events AS SELECT DISTINCT ON (event_id) *, CAST(ts AS DATE) AS event_date"
        f" FROM read_json('{glob}', format = 'newline_delimited', columns = {COLUMNS})"
    )
    for name, sql in GOLD.items():
        con.execute(f"CREATE TABLE {name} AS {sql}")
    con.execute("CHECKPOINT")
    (n,) = con.execute("SELECT count(*) FROM events").fetchone()  # type: ignore[misc]
    print(f"naive: {n} events")
    con.close()


if __name__ == "__main__":
    main()
