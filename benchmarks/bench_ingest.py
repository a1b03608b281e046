"""Ingest benchmark (issue: the ingest core). Ratios against a baseline measured in the same run.

    uv run python benchmarks/bench_ingest.py [--events 1000000] [--workdir /tmp/piper-bench]

(a) DuckDB's bare read_json(format='newline_delimited') into a table of a fresh database file,
(b) piper's full ingest (validation, dedupe, quarantine, silver_events, Parquet) on the same files,
each in its own process (peak RSS per process); then one new file among 10,000 already ingested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from harness import bench_options

REPO = Path(__file__).resolve().parent.parent

BASELINE = """
import duckdb, json, resource, sys, time
root, db = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
t = time.perf_counter()
con.execute(
    f"CREATE TABLE raw AS SELECT * FROM read_json('{root}/*/*/*.jsonl', format='newline_delimited')"
)
con.execute("CHECKPOINT")
seconds = time.perf_counter() - t
rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss": ru.ru_maxrss * 1024,
                  "cpu_seconds": ru.ru_utime + ru.ru_stime}))
"""

PIPER = """
import json, os, resource, sys, time
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import load_settings
t = time.perf_counter()
r = ingest(load_settings(), on_progress=lambda s: None)
seconds = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "events": r.events, "lines": r.lines,
                  "bytes": r.bytes_read, "batches": r.batches, "peak_rss": ru.ru_maxrss * 1024,
                  "cpu_seconds": ru.ru_utime + ru.ru_stime,
                  "plan": r.plan_summary, "phases": r.metadata()["phase_seconds"]}))
"""

# The floor of (b)'s writes alone: the events piper ingested, already validated, written once more
# to a table of a fresh database (then CHECKPOINT) and to Parquet by piper's own writer. The
# table is written twice: in one INSERT, and in as many transactions as (b) had batches (bounded
# memory means bounded batches).
WRITE_FLOOR = """
import duckdb, json, resource, sys, time
from pathlib import Path
from piper_dagster.ingest.export import write_date_partitions
warehouse, db, parquet, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect(db)
con.execute(f"ATTACH '{warehouse}' AS w (READ_ONLY)")
con.execute("CREATE TEMP TABLE ev AS SELECT row_number() OVER () - 1 AS rn, * EXCLUDE (ingest_seq) FROM w.silver_events")
con.execute("CREATE TABLE silver_events AS SELECT * EXCLUDE rn FROM ev LIMIT 0")
con.execute("CREATE TABLE batched AS SELECT * EXCLUDE rn FROM ev LIMIT 0")
rows = con.execute("SELECT count(*) FROM ev").fetchone()[0]
def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
t, c = time.perf_counter(), cpu()
con.execute("INSERT INTO silver_events SELECT * EXCLUDE rn FROM ev")
con.execute("CHECKPOINT")
table, table_cpu = time.perf_counter() - t, cpu() - c
step = -(-rows // batches)
t = time.perf_counter()
for lo in range(0, rows, step):
    con.execute("BEGIN")
    con.execute(f"INSERT INTO batched SELECT * EXCLUDE rn FROM ev WHERE rn >= {lo} AND rn < {lo + step}")
    con.execute("COMMIT")
con.execute("CHECKPOINT")
batched = time.perf_counter() - t
t, c = time.perf_counter(), cpu()
dates = [r[0] for r in con.execute("SELECT DISTINCT event_date FROM ev ORDER BY 1").fetchall()]
write_date_partitions(
    con,
    "SELECT * EXCLUDE rn FROM ev WHERE event_date >= $date_first AND event_date <= $date_last",
    Path(parquet),
    dates,
    ("event_date", "event_type"),
)
pq, pq_cpu = time.perf_counter() - t, cpu() - c
print(json.dumps({"table_seconds": table, "table_cpu": table_cpu, "table_batched_seconds": batched,
                  "parquet_seconds": pq, "parquet_cpu": pq_cpu}))
"""


def run(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def piper_env(raw: Path, data: Path) -> dict[str, str]:
    return {
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
    }


def main() -> None:
    args = bench_options("piper-bench", events=1_000_000, files=200, small_files=10_000)

    from piper_dagster.generate.bulk import generate_bulk

    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "spool"
    t = time.perf_counter()
    gen = generate_bulk(raw, events=args.events, files=args.files, start=date(2026, 3, 1))
    print(
        f"generated {gen.valid_events} events, {gen.bytes / 1e6:.0f} MB in {args.files} files"
        f" ({time.perf_counter() - t:.1f} s)",
        flush=True,
    )

    base = run(BASELINE, str(raw), str(work / "baseline.duckdb"))
    print(f"(a) read_json -> table: {base['seconds']:.2f} s", flush=True)
    full = run(PIPER, env=piper_env(raw, work / "data"))
    print(f"(b) piper ingest:       {full['seconds']:.2f} s", flush=True)
    floor = run(
        WRITE_FLOOR,
        str(work / "data" / "warehouse" / "telemetry.duckdb"),
        str(work / "floor.duckdb"),
        str(work / "floor-parquet"),
        str(full["batches"]),
    )
    floor_seconds = floor["table_seconds"] + floor["parquet_seconds"]
    batched_seconds = floor["table_batched_seconds"] + floor["parquet_seconds"]
    print(
        f"    of which the writes alone could not go below {floor_seconds:.2f} s"
        f" ({batched_seconds:.2f} s in {full['batches']} transactions)",
        flush=True,
    )

    # One new file among many already ingested.
    small = work / "spool-small"
    generate_bulk(
        small, events=args.small_files * 20, files=args.small_files, start=date(2026, 3, 1), seed=1
    )
    env = piper_env(small, work / "data-small")
    first = run(PIPER, env=env)
    generate_bulk(work / "one", events=100, files=1, start=date(2026, 4, 1), seed=2)
    for p in (work / "one").rglob("*.jsonl"):
        dest = small / "ws999" / "late" / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(p, dest)
    one = run(PIPER, env=env)

    results = {
        "events": full["events"],
        "bytes": full["bytes"],
        "baseline_seconds": round(base["seconds"], 3),
        "baseline_lines_per_s": round(base["rows"] / base["seconds"]),
        "piper_seconds": round(full["seconds"], 3),
        "piper_lines_per_s": round(full["lines"] / full["seconds"]),
        "throughput_ratio": round(base["seconds"] / full["seconds"], 3),
        # CPU of the whole process (imports included): where a 2-core machine's time goes.
        "baseline_cpu_seconds": round(base["cpu_seconds"], 2),
        "piper_cpu_seconds": round(full["cpu_seconds"], 2),
        "piper_phase_seconds": full["phases"],
        # What (b) must write, timed alone: the table + Parquet part of its budget.
        "write_floor_table_seconds": round(floor["table_seconds"], 3),
        "write_floor_table_batched_seconds": round(floor["table_batched_seconds"], 3),
        "write_floor_parquet_seconds": round(floor["parquet_seconds"], 3),
        "write_floor_cpu_seconds": round(floor["table_cpu"] + floor["parquet_cpu"], 2),
        "budget_seconds_at_0_6": round(base["seconds"] / 0.6, 3),
        "piper_peak_rss_mib": round(full["peak_rss"] / 2**20),
        "baseline_peak_rss_mib": round(base["peak_rss"] / 2**20),
        "small_files_initial_seconds": round(first["seconds"], 3),
        "one_new_file_seconds": round(one["seconds"], 3),
        "one_new_file_plan": one["plan"],
        "one_new_file_phase_seconds": one["phases"],
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
