"""Silver and gold benchmark (issue: silver domains and gold models).

    uv run python benchmarks/bench_models.py [--events 5000000] [--days 90]

Generates `--events` clean events over `--days` days, ingests them, then times, in the same run:
the 7 silver and 6 gold models built for all days in ONE Dagster run, and a one-day refresh
(the last day) of the same models. Target: the one-day refresh is <= 1/20 of the full build.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import date, timedelta

from harness import bench_options, dagster_run, use_fresh_workdir


def main() -> None:
    args = bench_options("piper-bench-models", events=5_000_000, days=90, files=900)

    work = args.workdir
    use_fresh_workdir(work)

    import dagster as dg

    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.definitions import defs
    from piper_dagster.defs.models import refresh_models
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.ingest.run import ingest
    from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
    from piper_dagster.settings import load_settings

    start = date(2026, 3, 2)
    last = start + timedelta(days=args.days - 1)
    t = time.perf_counter()
    gen = generate_bulk(
        work / "spool", events=args.events, files=args.files, start=start, days=args.days
    )
    print(
        f"generated {gen.valid_events} events over {args.days} days"
        f" ({time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    settings = load_settings()
    ensure_dagster_home(settings)
    r = ingest(settings, on_progress=lambda s: None)
    print(f"ingested {r.events} events in {r.seconds:.0f} s", flush=True)

    models = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
    built = defs()  # the code location, loaded once before anything is timed
    # The 90-day build and a one-day refresh through Dagster, one run each, as operators
    # launch them.
    # The one-day refresh is the median of three (the first one after a big build also pays
    # DuckDB's clean-up of that build); all three are reported.
    samples: dict[str, list[float]] = {}

    def timed(label: str, fn) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fn()
        samples.setdefault(label, []).append(time.perf_counter() - t)
        print(f"{label}: {samples[label][-1]:.2f} s", flush=True)

    with dg.DagsterInstance.get() as instance:
        timed("full_build", lambda: dagster_run(built, instance, models, start, last))
        for _ in range(3):
            timed("one_day_refresh", lambda: dagster_run(built, instance, models, last, last))
    # Then the models' own work again (a rebuild: the tables are full), without a Dagster run.
    every = [*SILVER_MODELS, *GOLD_MODELS]
    timed("full_build_models_only", lambda: refresh_models(load_settings(), every, start, last))
    for _ in range(3):
        timed(
            "one_day_refresh_models_only",
            lambda: refresh_models(load_settings(), every, last, last),
        )
    timings = {label: statistics.median(values) for label, values in samples.items()}
    results = {
        "events": r.events,
        "days": args.days,
        "full_build_seconds": round(timings["full_build"], 2),
        "one_day_refresh_seconds": round(timings["one_day_refresh"], 2),
        "ratio": round(timings["one_day_refresh"] / timings["full_build"], 4),
        "full_build_models_only_seconds": round(timings["full_build_models_only"], 2),
        "one_day_refresh_models_only_seconds": round(timings["one_day_refresh_models_only"], 2),
        "ratio_models_only": round(
            timings["one_day_refresh_models_only"] / timings["full_build_models_only"], 4
        ),
    }
    results["samples"] = {k: [round(v, 2) for v in vs] for k, vs in samples.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
