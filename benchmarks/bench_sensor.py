"""Spool sensor benchmark: one tick over a spool of 10,000 files (target: <= 2 s).

    uv run python benchmarks/bench_sensor.py [--files 10000]

Times, in the same run, a bare os.scandir + stat() walk of the same tree (the floor), the
sensor's first tick (every date new) and a second tick (nothing changed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path


def bare_walk(root: Path) -> int:
    n = 0
    for host in os.scandir(root):
        for user in os.scandir(host.path):
            for f in os.scandir(user.path):
                f.stat()
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/piper-bench-sensor"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    raw = args.workdir / "spool"
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(raw)
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(args.workdir / "data")
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="dagster-home-")

    import dagster as dg

    from piper_dagster.definitions import defs
    from piper_dagster.defs.sensors import spool_sensor
    from piper_dagster.spool.generate import generate_bulk

    generate_bulk(raw, events=args.files * 2, files=args.files, start=date(2026, 3, 2), days=90)
    t = time.perf_counter()
    files = bare_walk(raw)
    walk = time.perf_counter() - t
    with dg.DagsterInstance.ephemeral() as instance:
        ticks = []
        cursor = None
        for _ in range(2):
            t = time.perf_counter()
            result = spool_sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
            )
            ticks.append(time.perf_counter() - t)
            cursor = result.cursor
            requested = len(result.run_requests or [])
            print(f"tick: {ticks[-1]:.3f} s, {requested} run requests", flush=True)
    print(
        json.dumps(
            {
                "files": files,
                "bare_stat_walk_seconds": round(walk, 3),
                "first_tick_seconds": round(ticks[0], 3),
                "unchanged_tick_seconds": round(ticks[1], 3),
                "cursor_bytes": len(cursor or ""),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
