"""Spool sensor benchmark: one tick over a spool of 10,000 files (target: <= 2 s).

    uv run python benchmarks/bench_sensor.py [--files 10000]

Times, in the same run, a bare os.scandir + stat() walk of the same tree (the floor), the
sensor's tick on a fresh spool (every date new), then, the spool ingested, a tick with nothing
to read and a tick after one file was appended (each tick also reads the files' state from
the warehouse).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from harness import bench_options


def bare_walk(root: Path) -> int:
    n = 0
    for host in os.scandir(root):
        for user in os.scandir(host.path):
            for f in os.scandir(user.path):
                f.stat()
                n += 1
    return n


def main() -> None:
    args = bench_options("piper-bench-sensor", files=10_000)
    shutil.rmtree(args.workdir, ignore_errors=True)
    raw = args.workdir / "spool"
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(raw)
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(args.workdir / "data")
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="dagster-home-")

    import dagster as dg

    from piper_dagster.definitions import defs
    from piper_dagster.defs.keys import SPOOL_SENSOR
    from piper_dagster.generate.bulk import generate_bulk
    from piper_dagster.ingest.run import ingest
    from piper_dagster.settings import load_settings

    generate_bulk(raw, events=args.files * 2, files=args.files, start=date(2026, 3, 2), days=90)
    t = time.perf_counter()
    files = bare_walk(raw)
    walk = time.perf_counter() - t
    ticks: dict[str, float] = {}
    built = defs()  # once: a tick is what is measured
    spool_sensor = built.get_sensor_def(SPOOL_SENSOR)
    with dg.DagsterInstance.ephemeral() as instance:

        def tick(label: str) -> None:
            t = time.perf_counter()
            result = spool_sensor(dg.build_sensor_context(instance=instance, definitions=built))
            ticks[label] = time.perf_counter() - t
            requested = len(result.run_requests or [])
            print(f"{label}: {ticks[label]:.3f} s, {requested} run requests", flush=True)

        tick("fresh_spool_tick_seconds")
        os.environ["PIPER_INGEST__SETTLE_SECONDS"] = "0"
        ingest(load_settings(), on_progress=lambda s: None)
        tick("ingested_unchanged_tick_seconds")
        one = next(raw.rglob("*.jsonl"))
        with open(one, "ab") as f:
            f.write(one.read_bytes().splitlines(keepends=True)[0])
        os.utime(one, (time.time() - 3600, time.time() - 3600))
        tick("one_file_grown_tick_seconds")
    print(
        json.dumps(
            {"files": files, "bare_stat_walk_seconds": round(walk, 3)}
            | {k: round(v, 3) for k, v in ticks.items()},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
