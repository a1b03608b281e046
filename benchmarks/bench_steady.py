"""Steady state at a year's scale (issue #14 target 3): the same small tick on warehouses of
growing history.

    uv run python benchmarks/bench_steady.py                          # 0, 1 M, 10 M events
    uv run python benchmarks/bench_steady.py --sizes 0,1000000,10000000,50000000

For each size, in its own process (peak RSS of its own), a warehouse holds `size` events of
history over the 365 days before the tick's date D, and D's day so far (the same for every
size: `--day-events`); then `--ticks` times, a new spool file of `--tick-events` events for D
is ingested, the spool run's checks evaluated, and silver and gold of D refreshed, each with its
publish, as the run the sensor requests would: `ingest()` of D's spool partition, `run_checks()`
of the spool run's checks for D, then `refresh_models()` of every model for D. Size 0 is the one-day warehouse, the
baseline of the ratios.

The history is built fast but as piper would hold it: one real day is generated, ingested and
refreshed, then copied to the other 364 days in SQL (silver_events, the silver domains, gold,
spool_files; new event ids), and the spool gets those days' files (sparse files of the same size
and mtime, which the planner stat()s and finds unchanged, as a year of real spool files).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import bench_options, use_fresh_workdir

REPO = Path(__file__).resolve().parent.parent
DAYS = 365
FILES_PER_DAY = 30


def copy_history(settings, template: date) -> None:  # type: ignore[no-untyped-def]
    """Copy the template day's rows to the 364 days after it (new ids, shifted dates)."""
    from piper_dagster.warehouse import connect

    k = f"range(1, {DAYS})"
    shift = "INTERVAL (k) DAY"
    with connect(settings.warehouse_path) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'silver_%'"
                " OR table_name LIKE 'gold_%' AND table_name NOT LIKE '%weekly'"
            ).fetchall()
        ]
        for table in tables:
            cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            if "event_date" not in cols:
                continue
            replace = ["event_date + k AS event_date"]
            if "event_id" in cols:
                replace.append("event_id || '-' || k AS event_id")
            if "ts" in cols:
                replace.append(f"ts + {shift} AS ts")
            if "spool_date" in cols:
                replace.append("spool_date + k AS spool_date")
            if "source_file" in cols:
                replace.append(
                    f"replace(source_file, '{template}', (DATE '{template}' + k)::VARCHAR)"
                    " AS source_file"
                )
            con.execute(
                f"INSERT INTO {table} SELECT * EXCLUDE (k) REPLACE ({', '.join(replace)})"
                f" FROM {table}, (SELECT unnest({k})::INTEGER AS k)"
                f" WHERE event_date = DATE '{template}'"
            )
        if con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'event_ids'"
        ).fetchone()[0]:  # the dedupe index, when the warehouse has one
            con.execute(
                "INSERT INTO event_ids SELECT md5_number(event_id) FROM silver_events"
                " WHERE event_date > ?",
                [template],
            )
        con.execute(
            "INSERT INTO spool_files SELECT * EXCLUDE (k) REPLACE ("
            f" replace(source_file, '{template}', (DATE '{template}' + k)::VARCHAR) AS source_file,"
            " spool_date + k AS spool_date, mtime_ns + k * 86400000000000 AS mtime_ns)"
            f" FROM spool_files, (SELECT unnest({k})::INTEGER AS k) WHERE spool_date = DATE '{template}'"
        )
        rows = con.execute(
            "SELECT source_file, size_seen, mtime_ns FROM spool_files WHERE spool_date > ?",
            [template],
        ).fetchall()
    for source_file, size, mtime_ns in rows:
        path = settings.raw_root / source_file
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(size)
        os.utime(path, ns=(mtime_ns, mtime_ns))


def one_size(size: int, work: Path, day_events: int, tick_events: int, ticks: int) -> dict:
    """Build the warehouse of `size` events of history, then time the ticks."""
    import resource

    use_fresh_workdir(work, dagster_home=False)
    tick_day = datetime.now(UTC).date() - timedelta(days=1)
    template = tick_day - timedelta(days=DAYS)
    os.environ["PIPER_INGEST__START_DATE"] = template.isoformat()

    from piper_dagster.defs.checks import SPOOL_RUN_CHECKS, run_checks
    from piper_dagster.defs.models import refresh_models
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.ingest.run import ingest
    from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
    from piper_dagster.settings import load_settings

    settings = load_settings()
    models = [*SILVER_MODELS, *GOLD_MODELS]
    quiet = {"on_progress": lambda _: None}
    t = time.perf_counter()
    if size:
        per_day = max(FILES_PER_DAY, size // DAYS)
        generate_bulk(
            settings.raw_root, events=per_day, files=FILES_PER_DAY, start=template, days=1, seed=1
        )
        ingest(settings, **quiet)
        refresh_models(settings, models, template, template)
        copy_history(settings, template)
    generate_bulk(
        settings.raw_root, events=day_events, files=FILES_PER_DAY, start=tick_day, days=1, seed=2
    )
    ingest(settings, **quiet)
    refresh_models(settings, models, tick_day, tick_day)
    built = time.perf_counter() - t

    samples: dict[str, list[float]] = {"ingest": [], "checks": [], "refresh": [], "tick": []}
    phases: list[dict[str, float]] = []
    for i in range(ticks):
        spool = work / f"tick-{i}"
        generate_bulk(spool, events=tick_events, files=1, start=tick_day, days=1, seed=10 + i)
        for p in spool.rglob("*.jsonl"):
            dest = settings.raw_root / "ws900" / f"tick{i}" / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            p.rename(dest)
        t = time.perf_counter()
        r = ingest(settings, dates=(tick_day, tick_day), **quiet)  # the spool asset's call
        t_ingest = time.perf_counter() - t
        t = time.perf_counter()
        run_checks(settings, SPOOL_RUN_CHECKS, tick_day, tick_day, run_id=None)  # with a publish
        t_checks = time.perf_counter() - t
        t = time.perf_counter()
        refresh_models(settings, models, tick_day, tick_day)
        t_refresh = time.perf_counter() - t
        assert r.events == tick_events, r.events
        samples["ingest"].append(t_ingest)
        samples["checks"].append(t_checks)
        samples["refresh"].append(t_refresh)
        samples["tick"].append(t_ingest + t_checks + t_refresh)
        phases.append({k: round(v, 3) for k, v in r.phase_seconds.items()})
    from piper_dagster.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        (events,) = con.execute("SELECT count(*) FROM silver_events").fetchone()  # type: ignore[misc]
    return {
        "history_events": size,
        "warehouse_events": events,
        "warehouse_mib": round(settings.warehouse_path.stat().st_size / 2**20),
        "build_s": round(built, 1),
        **{f"{k}_s": round(statistics.median(v), 3) for k, v in samples.items()},
        "samples": {k: [round(x, 3) for x in v] for k, v in samples.items()},
        "ingest_phases": phases,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        size, work, day, tick, ticks = sys.argv[2:7]
        print(json.dumps(one_size(int(size), Path(work), int(day), int(tick), int(ticks))))
        return
    args = bench_options(
        "piper-bench-steady",
        sizes="0,1000000,10000000",
        day_events=13_700,
        tick_events=3_000,
        ticks=3,
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), str(args.workdir),
             str(args.day_events), str(args.tick_events), str(args.ticks)],
            cwd=REPO, check=True, capture_output=True, text=True,
        )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        base = results[0]
        r = results[-1]
        print(
            f"history {size:>10,}: tick {r['tick_s']:.2f} s (ingest {r['ingest_s']:.2f},"
            f" checks {r['checks_s']:.2f}, refresh {r['refresh_s']:.2f}) = {r['tick_s'] / base['tick_s']:.2f}x the one-day"
            f" warehouse; peak {r['peak_rss_mib']} MiB; built in {r['build_s']:.0f} s",
            flush=True,
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
