"""Pipeline checks benchmark: the four checks over a year of spool partitions.

    uv run python benchmarks/bench_checks.py [--events 1000000] [--days 365]

Generates a clean bulk spool over `days` spool dates, ingests it, then times each check over
every partition (what a year's backfill evaluates in its spool step), all four over one
partition (an ordinary ingest), and all four over the year with their recording into
pipeline_check_results.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

from harness import bench_options, use_fresh_workdir


def main() -> None:
    args = bench_options("piper-bench-checks", events=1_000_000, days=365)
    use_fresh_workdir(args.workdir, dagster_home=False)

    from piper_dagster.checks import CHECKS, evaluate, record
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.ingest.run import ingest
    from piper_dagster.settings import load_settings
    from piper_dagster.warehouse import connect

    settings = load_settings()
    first = date(2026, 1, 1)
    last = first + timedelta(days=args.days - 1)
    generate_bulk(
        settings.raw_root, events=args.events, files=10 * args.days, start=first, days=args.days
    )
    started = time.perf_counter()
    events = ingest(settings).events
    out: dict[str, object] = {"events": events, "ingest_s": round(time.perf_counter() - started, 1)}
    with connect(settings.warehouse_path) as con:
        for name in CHECKS:
            started = time.perf_counter()
            outcomes = evaluate(con, settings.checks, first, last, checks=(name,))
            out[f"{name}_year_s"] = round(time.perf_counter() - started, 3)
            out[f"{name}_outcomes"] = len(outcomes)
        started = time.perf_counter()
        evaluate(con, settings.checks, last, last)
        out["all_one_partition_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        outcomes = evaluate(con, settings.checks, first, last)
        record(con, outcomes, asset="spool_events", evaluated_at=datetime.now(UTC), run_id="b")
        out["all_year_recorded_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
