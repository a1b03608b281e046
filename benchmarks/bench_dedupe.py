"""Dedupe probe benchmark (issue #14): a batch's probe of the warehouse's history, old vs new.

    uv run python benchmarks/bench_dedupe.py [--sizes 1000000,10000000,50000000]
        [--batch 57000] [--tick 20] [--reps 3] [--workdir /tmp/piper-bench-dedupe]

For each size N, a warehouse with piper's schema holds N synthetic events (uuid-like ids, built
in SQL from range(), not ingested) and their dedupe index, built by the upgrade path
(warehouse.upgrade). Then, each in a fresh process with the ingest's memory_limit, a batch of
`--batch` valid events (a year backfill: 2 M events in 35 batches; 10 % re-sent) and a tick of
`--tick` events go through new_events.sql as it was before the index (commit c983b65: probe of
silver_events.event_id) and as it is (probe of event_ids): seconds per batch (median of
`--reps`, after a first cold one), the rows found new (must agree), and the process's peak RSS
before the probe (the batch's tables) and after the first probe (RSS only grows: the later
repetitions' freed memory stays in the allocator, so they are not what the probe needs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OLD = "c983b65"  # the last commit whose new_events.sql probes silver_events' strings

# A version-4-like uuid from md5(i): ids as random as piper's, reproducible.
UUID = "format('{}-{}-4{}-a{}-{}', h[1:8], h[9:12], h[14:16], h[18:20], h[21:32])"

BUILD = f"""
INSERT INTO silver_events
SELECT {UUID}, 'dcc.launch', '1.0', TIMESTAMPTZ '2026-01-01' + to_seconds(i % 31536000),
       DATE '2026-01-01' + (i % 365)::INTEGER, 'ws001', 'alice', 'sandwich', NULL, '{{}}', NULL,
       false, DATE '2026-01-01' + (i % 365)::INTEGER, 'ws001/alice/x.jsonl', i, now(), 'bench'
FROM (SELECT i, md5(i::VARCHAR) AS h FROM range($n) AS t(i));
"""

PROBE = """
import duckdb, json, statistics, sys, time
from piper_dagster.warehouse import prepare
path, n, size, reps, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sql = open(sys.argv[6]).read()
con = duckdb.connect(path)
prepare(con)
con.execute("SET memory_limit = ?", [limit])
# The batch: `size` valid events, 10 % of them re-sent from the history, the rest new.
uuid = sys.argv[7]
con.execute(
    f"CREATE TEMP TABLE classified AS SELECT row_number() OVER () - 1 AS idx, {uuid} AS event_id,"
    " TIMESTAMPTZ '2026-06-01 10:00:00' AS ts, 'event' AS status, 0 AS file_idx FROM ("
    f" SELECT md5((hash(j) % {n})::VARCHAR) AS h FROM range({size // 10}) AS t(j)"
    f" UNION ALL SELECT md5(({n} + 1000000000 + j)::VARCHAR) FROM range({size - size // 10}) AS t(j))"
)
con.execute("CREATE TEMP TABLE batch_files AS SELECT 0 AS file_idx, DATE '2026-06-01' AS spool_date,"
            " TIMESTAMPTZ '2026-06-02' AS mtime")
def peak():  # VmHWM: ru_maxrss would start at the parent's RSS (kept across fork and exec)
    status = open("/proc/self/status").read()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024)
setup = peak()
seconds, new = [], None
for _ in range(reps + 1):  # the first (cold cache) sets the peak RSS; the others are timed
    t = time.perf_counter()
    con.execute(sql, {"skew_seconds": 300})
    seconds.append(time.perf_counter() - t)
    new = con.execute("SELECT count(*) FROM new_events").fetchone()[0]
    if len(seconds) == 1:
        probe = peak()
print(json.dumps({"seconds": round(statistics.median(seconds[1:]), 3), "cold": round(seconds[0], 3),
                  "new": new, "rss_setup_mib": setup, "rss_probe_mib": probe}))
"""


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000,50000000")
    parser.add_argument("--batch", type=int, default=57_000)
    parser.add_argument("--tick", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/piper-bench-dedupe"))
    return parser.parse_args()


def _build(path: Path, n: int) -> dict[str, float]:
    """A warehouse of n events; its index built by the upgrade of an older warehouse."""
    import duckdb

    from piper_dagster.warehouse import prepare

    con = duckdb.connect(str(path))
    prepare(con)
    con.execute(BUILD, {"n": n})
    con.execute("DELETE FROM event_ids")  # as an older warehouse: no index yet
    con.execute("CHECKPOINT")
    before = path.stat().st_size
    t = time.perf_counter()
    prepare(con)  # the upgrade builds event_ids
    upgrade = time.perf_counter() - t
    con.execute("CHECKPOINT")
    (rows,) = con.execute("SELECT count(*) FROM event_ids").fetchone()  # type: ignore[misc]
    assert rows == n
    con.close()
    return {
        "upgrade_seconds": round(upgrade, 1),
        "file_mib": round(before / 2**20),
        "index_mib": round((path.stat().st_size - before) / 2**20),
    }


def _probe(path: Path, n: int, size: int, reps: int, sql: Path) -> dict[str, object]:
    from piper_dagster.settings import load_settings

    limit = load_settings().ingest.memory_limit
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(path),
            str(n),
            str(size),
            str(reps),
            limit,
            str(sql),
            UUID,
        ],
        cwd=REPO,
        env=os.environ,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    opts = _options()
    shutil.rmtree(opts.workdir, ignore_errors=True)
    opts.workdir.mkdir(parents=True)
    old_sql = opts.workdir / "new_events_old.sql"
    old_sql.write_text(
        subprocess.run(
            ["git", "show", f"{OLD}:piper_dagster/sql/ingest/new_events.sql"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    new_sql = REPO / "piper_dagster/sql/ingest/new_events.sql"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit}; batch {opts.batch} events (10 % re-sent), tick {opts.tick}")
    for n in (int(s) for s in opts.sizes.split(",")):
        path = opts.workdir / f"w{n}.duckdb"
        built = _build(path, n)
        print(f"N={n:,}: {json.dumps(built)}", flush=True)
        for label, size in (("batch", opts.batch), ("tick", opts.tick)):
            runs = {}
            for variant, sql in (("old", old_sql), ("new", new_sql)):
                runs[variant] = _probe(path, n, size, opts.reps, sql)
            assert runs["old"]["new"] == runs["new"]["new"], runs
            ratio = float(runs["old"]["seconds"]) / max(float(runs["new"]["seconds"]), 1e-3)  # type: ignore[arg-type]
            print(
                f"  {label} of {size}: old {json.dumps(runs['old'])}  new {json.dumps(runs['new'])}"
                f"  old/new {ratio:.1f}x",
                flush=True,
            )
        path.unlink()


if __name__ == "__main__":
    main()
