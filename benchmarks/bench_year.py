"""A year at studio scale, end to end (issue #14): piper's one Dagster run against a naive script.

    uv run python benchmarks/bench_year.py                       # 1,000,000 events (CI-sized)
    uv run python benchmarks/bench_year.py --events 10009000     # the year of the issue (3 GB)

Generates `--events` clean events over `--days` days ending yesterday (`--files-per-day` files a
day, `piper spool generate --bulk-events`; reused when the same spool is already there), then,
each in its own process, timed with its CPU seconds and peak RSS:

- the baseline: benchmarks/naive_year.py (read_json, DISTINCT ON, the six gold aggregations);
- piper: `dagster asset materialize --select '*' --partition-range FIRST...LAST`, one run over
  every day: spool -> silver -> gold, on a fresh warehouse and DAGSTER_HOME;
- piper's fixed cost: the same command over a range of days without any spool file.

The run's split comes from Dagster's step stats (spool, silver, gold) and piper's own phase
seconds; what is neither is Dagster's (process start, code location, event log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import bench_options

REPO = Path(__file__).resolve().parent.parent


def measured(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `cmd` to its end; its wall seconds, CPU seconds and peak RSS (its largest process)."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    tail = proc.stdout.read().decode(errors="replace")[-4000:]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        sys.exit(f"{cmd[0]}... failed ({status}):\n{tail}")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
    }


def piper_env(work: Path, home: Path, first: date) -> dict[str, str]:
    """The environment of piper's run, as piper's commands and deployment set it."""
    from piper_dagster.cli.root import PLANNED_EVENTS_ENV

    return {
        **os.environ,
        **PLANNED_EVENTS_ENV,
        "PIPER_PATHS__RAW_ROOT": str(work / "spool"),
        "PIPER_PATHS__DATA_ROOT": str(work / "data"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
        "PIPER_INGEST__START_DATE": first.isoformat(),
        "DAGSTER_HOME": str(home),
    }


def materialize(env: dict[str, str], first: date, last: date) -> list[str]:
    return [
        "dagster", "asset", "materialize", "-m", "piper_dagster.definitions", "--select", "*",
        "--partition-range", f"{first}...{last}",
    ]  # fmt: skip


def dagster_home() -> Path:
    """A new DAGSTER_HOME with piper's dagster.yaml (the instance piper's commands create)."""
    home = Path(tempfile.mkdtemp(prefix="dagster-home-"))
    (home / "dagster.yaml").write_text(
        (REPO / "piper_dagster" / "deploy" / "dagster.yaml").read_text()
    )
    return home


def step_split(home: Path) -> dict[str, float]:
    """Seconds per step of the newest run of the instance at `home`."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        stats = instance.get_run_step_stats(run.run_id)
        steps = {s.step_key: round((s.end_time or 0) - (s.start_time or 0), 1) for s in stats}
        record = instance.get_run_record_by_id(run.run_id)
        assert record is not None and record.start_time and record.end_time
        steps["run"] = round(record.end_time - record.start_time, 1)
    return steps


def main() -> None:
    args = bench_options("piper-bench-year", events=1_000_000, days=365, files_per_day=30)
    work: Path = args.workdir
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    spool = work / "spool"
    key = f"{args.events}-{args.days}-{args.files_per_day}-{first}"
    marker = work / "spool.key"
    if not (marker.exists() and marker.read_text() == key):
        import shutil

        from piper_dagster.generate.bulk import generate_bulk

        shutil.rmtree(work, ignore_errors=True)
        t = time.perf_counter()
        gen = generate_bulk(
            spool,
            events=args.events,
            files=args.files_per_day * args.days,
            start=first,
            days=args.days,
        )
        marker.write_text(key)
        print(f"generated {gen.valid_events} events, {gen.bytes / 1e9:.2f} GB"
              f" ({time.perf_counter() - t:.0f} s)", flush=True)  # fmt: skip
    spool_bytes = sum(p.stat().st_size for p in spool.rglob("*.jsonl"))
    for stale in ("naive.duckdb", "data", "empty-data"):
        subprocess.run(["rm", "-rf", str(work / stale)], check=True)

    naive = measured(
        [sys.executable, str(REPO / "benchmarks" / "naive_year.py"), str(spool),
         str(work / "naive.duckdb")], dict(os.environ),
    )  # fmt: skip
    print(f"naive script: {naive}", flush=True)

    home = dagster_home()
    env = piper_env(work, home, first)
    piper = measured(materialize(env, first, last), env)
    piper["steps"] = step_split(home)  # type: ignore[assignment]
    print(f"piper: {piper}", flush=True)

    # The fixed cost: the same run over an empty spool, for 1 day and for the whole range.
    empty: dict[str, dict] = {}
    for label, lo in (("1_day", last), ("range", first)):
        ehome = dagster_home()
        eenv = piper_env(work / "empty", ehome, first)
        (work / "empty" / "spool").mkdir(parents=True, exist_ok=True)
        subprocess.run(["rm", "-rf", str(work / "empty" / "data")], check=True)
        empty[label] = measured(materialize(eenv, lo, last), eenv)
        empty[label]["steps"] = step_split(ehome)
    print(f"empty: {empty}", flush=True)

    print(json.dumps({
        "events": args.events, "days": args.days, "spool_gb": round(spool_bytes / 1e9, 2),
        "naive": naive, "piper": piper, "empty": empty,
        "ratio_wall": round(piper["wall_s"] / naive["wall_s"], 2),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
