"""Latency benchmark: a file written into the spool to its gold materialization, under `dagster dev`.

    uv run python benchmarks/bench_latency.py [--samples 3] [--settle 5] [--baseline REF]

Real `dagster dev` (webserver + daemon, queued run coordinator, default run launcher: one
process per run) on a fresh SQLite instance, at the DEFAULT sensor interval, with a short settle
window (PIPER_INGEST__SETTLE_SECONDS). Two variants in the same run, one after the other: the
`--baseline` commit (default: where this branch left main), checked out with `git archive` and
served from there (PYTHONPATH, cwd), and this working tree. Per variant: one warm-up sample,
then `--samples` samples, each a new spool date written just after a spool sensor tick at a
fixed phase (1 s, then interval/N, 2·interval/N … later), identical for both variants, so that
the sensor's wait does not favour either. A sample's latency runs from the write to the
moment the instance records the last gold model's materialization of that date; it is reported
as settle + X, X split into the sensor's wait (settled -> first run created), launch (run
created -> its process executes: the run queue, process start, code-location load), execution
(run start -> end) and the wait between two runs (the refresh sensor's hop), summed over the
runs of that date.

Every run is a new process that imports Dagster and loads the code location: the environment's
bytecode is compiled first (`compileall`, as the Docker image's UV_COMPILE_BYTECODE=1 does),
else each run compiles Dagster from source again under PYTHONDONTWRITEBYTECODE (~10 s more).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType

from piper_dagster.defs.keys import RANGE_START_TAG, SPOOL_SENSOR
from piper_dagster.models import GOLD_MODELS
from piper_dagster_tests.factories import REPO_ROOT, DagsterDev, ev, write_spool_file

GOLD_LAST = GOLD_MODELS[-1].name  # the gold step yields every model's result at its end
INTERVAL = 30.0  # the default dagster.sensor_interval_seconds (conf/settings.toml)


def poll(what: str, probe, timeout: float, every: float = 0.5):  # type: ignore[no-untyped-def]
    """The first truthy value of probe(), polled every `every` s; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def last_spool_tick(instance: dg.DagsterInstance) -> float | None:
    """When the daemon last evaluated the spool sensor (epoch seconds), None before its first."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == SPOOL_SENSOR:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
            return ticks[0].timestamp if ticks else None
    return None


def gold_recorded(instance: dg.DagsterInstance, day: date) -> float | None:
    """When the instance recorded GOLD_LAST's materialization of `day` (epoch s), or None."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(GOLD_LAST), asset_partitions=[str(day)]),
        limit=1,
    )
    return result.records[0].timestamp if result.records else None


def breakdown(
    instance: dg.DagsterInstance, day: date, settled: float, recorded: float
) -> dict[str, object]:
    """The runs of spool/event date `day`: sensor wait, launch, execution (up to `recorded`, gold
    recorded, for a run still finishing), wait between runs."""
    records = sorted(
        instance.get_run_records(filters=dg.RunsFilter(tags={RANGE_START_TAG: str(day)})),
        key=lambda r: r.create_timestamp,
    )
    launch = execution = between = 0.0
    previous_end: float | None = None
    for r in records:
        created = r.create_timestamp.timestamp()
        start, end = r.start_time or created, min(r.end_time or recorded, recorded)
        launch += start - created
        execution += end - start
        if previous_end is not None:
            between += created - previous_end
        previous_end = end
    first = records[0].create_timestamp.timestamp() if records else settled
    return {
        "runs": [r.dagster_run.job_name for r in records],
        "sensor_wait": first - settled,
        "launch": launch,
        "execution": execution,
        "between_runs": between,
    }


def sample(
    instance: dg.DagsterInstance, raw: Path, day: date, offset: float, settle: float, n: int
) -> dict[str, object]:
    """Write a file of spool date `day` `offset` s after a fresh spool sensor tick; time it."""
    before = last_spool_tick(instance) or 0.0
    tick = poll(
        "a new spool sensor tick",
        lambda: (t := last_spool_tick(instance)) and t > before and t,
        120,
    )
    time.sleep(max(0.0, tick + offset - time.time()))
    written = time.time()
    write_spool_file(raw, f"ws001/bench/{day}_s.jsonl", ev(n, f"{day}T10:00:00Z"), mtime=written)
    recorded = poll(
        f"{GOLD_LAST}'s materialization of {day}", lambda: gold_recorded(instance, day), 300
    )
    return {
        "day": str(day),
        "x": recorded - written - settle,
        **breakdown(instance, day, written + settle, recorded),
    }


def variant(name: str, root: Path, work: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    """`dagster dev` serving the checkout at `root`: a warm-up sample, then args.samples."""
    raw, data, home = work / "spool", work / "data", work / "dagster_home"
    raw.mkdir(parents=True)
    env = {
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "PIPER_INGEST__SETTLE_SECONDS": str(args.settle),
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(root),  # this checkout's piper, not the installed one
    }
    os.environ.pop("PIPER_DAGSTER__SENSOR_INTERVAL_SECONDS", None)  # the default interval
    setup = "from piper_dagster.dagster_home import ensure_dagster_home as e; from piper_dagster.settings import load_settings as s; e(s())"
    subprocess.run([sys.executable, "-c", setup], cwd=root, env={**os.environ, **env}, check=True)
    server = DagsterDev(work, env, root=root)
    server.start()
    results = []
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            today = datetime.now(UTC).date()
            warm = sample(instance, raw, today - timedelta(days=30), 1.0, args.settle, 1)
            print(f"{name} warm-up: settle + {warm['x']:.1f} s", flush=True)
            for i in range(args.samples):
                offset = 1.0 + INTERVAL * i / args.samples
                s = sample(instance, raw, today - timedelta(days=i + 1), offset, args.settle, i + 2)
                print(
                    f"{name} sample {i + 1} (written {offset:.0f} s after a tick): settle +"
                    f" {s['x']:.1f} s = sensor wait {s['sensor_wait']:.1f} + launch"
                    f" {s['launch']:.1f} + execution {s['execution']:.1f} + between runs"
                    f" {s['between_runs']:.1f} (+ recording); runs {s['runs']}",
                    flush=True,
                )
                results.append(s)
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--baseline", default=None, help="git ref (default: merge-base with main)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/piper-bench-latency"))
    args = parser.parse_args()
    git = ["git", "-C", str(REPO_ROOT)]
    ref = (
        args.baseline
        or subprocess.check_output([*git, "merge-base", "HEAD", "main"], text=True).strip()
    )
    head = subprocess.check_output([*git, "rev-parse", "--short", "HEAD"], text=True).strip()
    shutil.rmtree(args.workdir, ignore_errors=True)
    src = args.workdir / "baseline-src"
    src.mkdir(parents=True)
    archive = subprocess.run([*git, "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    trees = [*sysconfig.get_paths()["purelib"].split(os.pathsep), str(src), str(REPO_ROOT)]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *trees],
        check=True,
        capture_output=True,
    )
    summary = {}
    for name, root in ((f"baseline {ref[:7]}", src), (f"this tree ({head}+)", REPO_ROOT)):
        results = variant(name, root, args.workdir / name.split()[0], args)
        summary[name] = results
    print(
        f"\nsettle {args.settle:.0f} s, sensor interval {INTERVAL:.0f} s (default), {args.samples} samples"
    )
    print(
        "| variant | settle + X (mean) | samples | sensor wait | launch | execution | between runs |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, results in summary.items():
        mean = {
            k: statistics.mean(float(r[k]) for r in results)
            for k in ("x", "sensor_wait", "launch", "execution", "between_runs")
        }  # type: ignore[arg-type]
        xs = ", ".join(f"{float(r['x']):.1f}" for r in results)  # type: ignore[arg-type]
        print(
            f"| {name} | settle + {mean['x']:.1f} s | {xs} | {mean['sensor_wait']:.1f} |"
            f" {mean['launch']:.1f} | {mean['execution']:.1f} | {mean['between_runs']:.1f} |"
        )


if __name__ == "__main__":
    main()
