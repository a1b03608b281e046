"""Serving-layer benchmark: what a publication adds to each gold run.

    uv run python benchmarks/bench_serving.py [--events 2000000] [--days 90]

Generates `--events` clean events over `--days` days, ingests them and builds silver and gold in
one Dagster run (which publishes), then times, in the same run: `publish()` alone (median of
three), and a one-day refresh of the gold models through Dagster (which includes a publication).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import date, timedelta

from harness import bench_options, dagster_run, use_fresh_workdir


def main() -> None:
    args = bench_options("piper-bench-serving", events=2_000_000, days=90, files=900)

    work = args.workdir
    use_fresh_workdir(work)

    import dagster as dg

    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.definitions import defs
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
    from piper_dagster.serving import publish
    from piper_dagster.settings import load_settings

    settings = load_settings()
    ensure_dagster_home(settings)
    first = date(2026, 3, 1)
    last = first + timedelta(days=args.days - 1)
    generate_bulk(
        settings.raw_root, events=args.events, files=args.files, start=first, days=args.days
    )
    models = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
    gold = [m.name for m in GOLD_MODELS]
    built = defs()  # the code location, loaded once before anything is timed
    with dg.DagsterInstance.get() as instance:
        started = time.monotonic()
        dagster_run(built, instance, ["spool_events", *models], first, last)
        build_s = time.monotonic() - started
        publish_s = []
        for _ in range(3):
            publication = publish(settings)
            publish_s.append(publication.seconds)
        refresh_s = []
        for _ in range(3):
            started = time.monotonic()
            dagster_run(built, instance, gold, last, last)
            refresh_s.append(time.monotonic() - started)
    size = sum(p.stat().st_size for p in publication.path.glob("*.parquet"))
    print(
        json.dumps(
            {
                "events": args.events,
                "days": args.days,
                "build_all_seconds": round(build_s, 2),
                "publish_seconds_median": round(statistics.median(publish_s), 3),
                "gold_one_day_run_seconds_median": round(statistics.median(refresh_s), 3),
                "served_rows": publication.rows,
                "served_bytes": size,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
