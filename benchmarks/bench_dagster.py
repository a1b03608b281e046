"""Dagster's bookkeeping (issue #14): Dagster's stock SQLite instance against piper's, same run.

    uv run python benchmarks/bench_dagster.py             # --events 300 --days 365
    DAGSTER_PG_HOST=... python benchmarks/bench_dagster.py --days 2   # per event on Postgres too

- per event: `--events` asset materializations through DagsterInstance.handle_new_event, each
  instance in its own process, stock then piper then stock then piper (the best of two);
- a Dagster run over an empty spool (`dagster asset materialize --select '*'`, as bench_year's
  fixed cost), 1 day and `--days` days, with the stock instance (Dagster's event log, one planned
  event per partition) and piper's (deploy/dagster.yaml's event log and
  DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS): the fixed cost is the 1-day run, the cost
  of a partition (run(days) - run(1 day)) / (days - 1);
- the events each `--days` run recorded, by type, and the connections the SQLite run storage
  (Dagster's, not replaced) opened during it, with their time: is it worth replacing too?
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from bench_year import materialize, measured, piper_env
from harness import bench_options

REPO = Path(__file__).resolve().parent.parent
PLANNED_SUBSET = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
CONFIGS = ("stock", "piper")


def instance_yaml(config: str) -> str:
    """piper's dagster.yaml, or (stock) the same without piper's event log storage, or
    (postgres) deploy/dagster.postgres.yaml."""
    if config == "postgres":
        return (REPO / "piper_dagster" / "deploy" / "dagster.postgres.yaml").read_text()
    text = (REPO / "piper_dagster" / "deploy" / "dagster.yaml").read_text()
    if config == "piper":
        return text
    cfg = yaml.safe_load(text)
    del cfg["event_log_storage"]
    return yaml.safe_dump(cfg)


def new_home(config: str) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"dagster-home-{config}-"))
    (home / "dagster.yaml").write_text(instance_yaml(config))
    return home


def config_env(config: str, env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in env.items() if k != PLANNED_SUBSET}
    return {**env, PLANNED_SUBSET: "true"} if config == "piper" else env


def per_event_child(n: int) -> None:
    """In a process of its own (DAGSTER_HOME set): ms per asset materialization event."""
    import dagster as dg
    from dagster._core.events import DagsterEvent, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    with dg.DagsterInstance.get() as instance:

        def one(i: int) -> None:
            day = (date(2026, 1, 1) + timedelta(days=i % 365)).isoformat()
            data = StepMaterializationData(dg.AssetMaterialization("gold_x", partition=day))
            event = DagsterEvent(
                event_type_value="ASSET_MATERIALIZATION",
                job_name="bench",
                step_key="gold_x",
                event_specific_data=data,
            )
            instance.handle_new_event(
                EventLogEntry(
                    error_info=None,
                    level=20,
                    user_message="",
                    run_id="bench-run",
                    timestamp=time.time(),
                    dagster_event=event,
                )
            )

        one(0)  # the shards exist: creating them is not per-event cost
        t, c = time.perf_counter(), time.process_time()
        for i in range(1, n + 1):
            one(i)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        storage = type(instance.event_log_storage).__name__
    print(json.dumps({"storage": storage, "ms_wall": wall / n * 1e3, "ms_cpu": cpu / n * 1e3}))


def per_event(n: int) -> dict[str, dict[str, float]]:
    best: dict[str, dict[str, float]] = {}
    # With DAGSTER_PG_HOST (and the other DAGSTER_PG_*) set: also the production instance.
    configs = (*CONFIGS, "postgres") if os.environ.get("DAGSTER_PG_HOST") else CONFIGS
    for config in configs * 2:
        env = {**config_env(config, dict(os.environ)), "DAGSTER_HOME": str(new_home(config))}
        out = subprocess.run(
            [sys.executable, __file__, "_per_event", str(n)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        got = json.loads(out.strip().splitlines()[-1])
        if config not in best or got["ms_wall"] < best[config]["ms_wall"]:
            best[config] = got
        print(f"  per event, {config}: {got}", flush=True)
    return best


def run_events(home: Path) -> dict[str, int]:
    """The events, by type, of the newest run of the instance at `home`."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.get_records_for_run(run.run_id, limit=1_000_000).records
        kinds = Counter(r.event_log_entry.dagster_event_type for r in records)
    return {str(k.value if k else "log"): v for k, v in sorted(kinds.items(), key=str)}


def run_storage_connects(home: Path, first: date, last: date) -> dict[str, float]:
    """In a process of its own: one in-process run of every asset over first..last on the
    instance at `home`, counting the connections Dagster's SQLite run storage opens."""
    code = f"""
import json, time
from datetime import date
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from harness import dagster_run
opened, seconds, connect = [0], [0.0], SqliteRunStorage.connect
def counted(self, *a, **k):
    opened[0] += 1
    t = time.perf_counter()
    with connect(self, *a, **k) as conn:
        seconds[0] += time.perf_counter() - t  # opening, not the caller's work
        yield conn
import contextlib
SqliteRunStorage.connect = contextlib.contextmanager(counted)
import dagster as dg
from piper_dagster.definitions import defs
d = defs()
with dg.DagsterInstance.get() as instance:
    t = time.perf_counter()
    dagster_run(d, instance, [k.path[-1] for a in d.assets for k in a.keys], date.fromisoformat("{first}"),
                date.fromisoformat("{last}"))
    wall = time.perf_counter() - t
print(json.dumps({{"connects": opened[0], "open_s": round(seconds[0], 2), "run_s": round(wall, 1)}}))
"""
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO / "benchmarks")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = bench_options("piper-bench-dagster", events=300, days=365)
    work: Path = args.workdir
    subprocess.run(["rm", "-rf", str(work)], check=True)
    (work / "spool").mkdir(parents=True)
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)

    events = per_event(args.events)
    runs: dict[str, dict] = {}
    for label, lo in (("1_day", last), (f"{args.days}_days", first)):
        for config in CONFIGS:
            home = new_home(config)
            subprocess.run(["rm", "-rf", str(work / "data")], check=True)
            env = config_env(config, piper_env(work, home, first))
            got = measured(materialize(env, lo, last), env)
            if lo == first:
                got["events"] = run_events(home)  # type: ignore[assignment]
            runs.setdefault(label, {})[config] = got
            print(f"  empty run {label}, {config}: {got}", flush=True)
    per_partition = {
        config: round(
            (runs[f"{args.days}_days"][config]["wall_s"] - runs["1_day"][config]["wall_s"])
            / (args.days - 1)
            * 1e3
        )
        for config in CONFIGS
    }
    subprocess.run(["rm", "-rf", str(work / "data")], check=True)
    os.environ.update(config_env("piper", piper_env(work, Path("/nonexistent"), first)))
    run_storage = run_storage_connects(new_home("piper"), first, last)
    print(json.dumps({
        "per_event_ms": events,
        "per_event_ratio": round(events["stock"]["ms_wall"] / events["piper"]["ms_wall"], 1),
        "empty_runs": runs,
        "per_partition_ms": per_partition,
        "run_storage": run_storage,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["_per_event"]:
        per_event_child(int(sys.argv[2]))
    else:
        main()
