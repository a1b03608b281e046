"""Soak benchmark (issue #15 item 5): a year of ticks, simulated.

    uv run python benchmarks/bench_soak.py                 # 3 simulated days (a quick run)
    uv run python benchmarks/bench_soak.py --days 60       # the issue's soak (a quiet machine)

Runs `--days` simulated days of steady operation on the real code path, on a real local Dagster
instance (SQLite, piper's dagster.yaml, a fresh DAGSTER_HOME made by ensure_dagster_home), with a
clock moved by time-machine. Each simulated day is a studio day from piper's generator
(generate_spool: `--artists` artists, the farm poller, the storage auditor) appended to the
spool in `--slices` slices: at the end of each slice's interval the lines written by then are
appended (file mtimes set to the simulated time), the clock moves past the settle window, and
every sensor of the code location that targets jobs is evaluated (build_sensor_context on the
instance, with its cursor) and every run it requests is executed (its job, its tags,
execute_in_process on the instance), as the daemon would, again 30 s later while they request
runs (the refresh sensor sees the ledger a spool run left); then the sensors that target no job
(runless: the freshness sensor, its check evaluations reported to the instance as the daemon
reports them) and every schedule whose cron ticks passed (`--schedule-ticks latest`: the latest
passed tick only, a daemon catching up; `all`: each one), their runs executed.

Why not the real daemon: the daemon ticks on the wall clock (every 30 s) and launches each run
in a new process; a simulated day would take a real day. Evaluating the same sensor and
schedule definitions and executing the same jobs in-process keeps every piece of piper's code
and Dagster's storage (runs, event log, asset and check records) on the path. The daemon's own
bookkeeping is imitated: each evaluated tick is written to the tick storage (create_tick), the
SKIPPED ticks it would have made every 30 s in between are written in bulk, and the instance's
tick retention is applied after each tick. Left out: the run queue, the run launcher's process
per run, the code server (a fixed cost per run: benchmarks/bench_latency.py).

The scenario (days counted from 1):
- `--bad-emitter-days`: a host (ws666) writes invalid lines, `--bad-rate` of each slice's lines
  (default 3 %: between invalid_rate's WARN 1 % and FAIL 5 %), expected: invalid_rate WARN.
- `--silent-days`: the farm poller (tractor01) writes nothing from 09:30 to 14:30; expected:
  freshness FAIL for scope farm (farm fail threshold 2 h), then PASS once it resumes (resolved).
- every day from the third on, `--late-files` files of a laptop for the day before yesterday
  appear in the middle of the day (one extra spool run and refresh of that date).

What follows the simulated clock: Python's time.time / datetime.now (Dagster's event and run
timestamps, tick evaluation times, piper's settle window, partition bounds, check `now`), the
spool files' mtimes (os.utime), the serving versions' mtimes (set by the harness after each run,
so that serving's prune ages them on the simulated clock). What cannot: DuckDB's SQL now() (the
warehouse's ingested_at, spool_files first/last seen, refresh_pending created_at, ingest
batches): they carry the wall clock, which is after the simulated one, so the refresh-backlog
check's ages are negative (it cannot WARN here); and Dagster's SQLite column defaults
(CURRENT_TIMESTAMP) of the run storage.

Per simulated day, a JSON line in `<workdir>/soak.jsonl` and a printed row: sensor tick and run
durations (mean, max), DAGSTER_HOME size, warehouse size, Parquet files under the data root
(silver_events and the silver domains; the serving layer counted apart), serving versions, rows
of Dagster's run storage (runs) and event log storage (event_logs of the index and every run
shard), runs created, peak RSS, and the pipeline check state changes of the day from the
warehouse's pipeline_check_results, and the messages piper sent to a loopback webhook (alert_log;
the webhook's posts counted too). At the end:
day-5 (or the first day) against the last day, storage growth per day (mean of the last week's
daily deltas), a linear projection to 365 days, and the scenario's expected alerts, each raised
exactly once and resolved.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import threading
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import time_machine

REPO = Path(__file__).resolve().parent.parent
BAD_HOST, BAD_USER = "ws666", "brokenplugin"
LATE_HOST = "laptop07"
SILENT_FROM, SILENT_TO = timedelta(hours=9, minutes=30), timedelta(hours=14, minutes=30)
# The sensors' wait after an append: past the settle window, up to the next 30 s tick.
AFTER_SETTLE = timedelta(seconds=30)
# The runs' console logger (Dagster's default) at WARNING: the daemon's runs print nothing either;
# their events go to the event log all the same.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Tables the notifications work (issue #15 item 1) may add for what was sent.


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=3, help="simulated days (the issue's soak: 60)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2))
    p.add_argument("--slices", type=int, default=12, help="appends per simulated day")
    p.add_argument("--artists", type=int, default=12)
    p.add_argument("--events-per-artist", type=int, default=60)
    p.add_argument("--bad-emitter-days", default="2", help="comma list of days (1-based)")
    p.add_argument("--bad-rate", type=float, default=0.03)
    p.add_argument("--silent-days", default="2", help="comma list of days (1-based)")
    p.add_argument("--late-files", type=int, default=1)
    p.add_argument("--schedule-ticks", choices=("latest", "all"), default="latest")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/piper-bench-soak"))
    p.add_argument("--results", type=Path, default=None, help="default <workdir>/soak.jsonl")
    args = p.parse_args(argv)
    args.bad_days = {int(d) for d in args.bad_emitter_days.split(",") if d}
    args.silent = {int(d) for d in args.silent_days.split(",") if d}
    args.results = args.results or args.workdir / "soak.jsonl"
    return args


# --- the alert webhook: where piper's notifications go during the soak ------------------------


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = body.decode(errors="replace")
        _Hook.received.append({"at": time.time(), "payload": payload})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def start_webhook() -> ThreadingHTTPServer:
    """A loopback webhook, piper's alert channel for the soak (PIPER_ALERTS__WEBHOOK_URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["PIPER_ALERTS__WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_port}/hook"
    return server


# --- the spool: a generated day, appended slice by slice -------------------------------------


def _ts(line: bytes) -> datetime | None:
    """The event's time (the generator writes RFC 3339 variants: `t`/`z` in lower case too)."""
    try:
        return datetime.fromisoformat(json.loads(line)["ts"].upper().replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class DayFeed:
    """A generated studio day, written into the spool in time order: each file's lines up to T."""

    def __init__(self, stage: Path, day: date, args: argparse.Namespace, silent: bool) -> None:
        from piper_dagster.generate.options import GenerateOptions
        from piper_dagster.generate.sample_spool import generate_spool
        from piper_dagster.generate.studio import FARM_HOST

        shutil.rmtree(stage, ignore_errors=True)
        generate_spool(
            stage,
            GenerateOptions(
                start=day,
                days=1,
                artists=args.artists,
                events_per_artist_day=args.events_per_artist,
                seed=day.toordinal(),
            ),
        )
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        self.files: dict[str, list[tuple[datetime, bytes]]] = {}
        for path in sorted(stage.rglob("*.jsonl")):
            rel = path.relative_to(stage).as_posix()
            lines: list[tuple[datetime, bytes]] = []
            for line in path.read_bytes().splitlines(keepends=True):
                ts = _ts(line) or (lines[-1][0] if lines else start)  # written with the one before
                down = start + SILENT_FROM <= ts < start + SILENT_TO
                if silent and down and rel.startswith(FARM_HOST + "/"):
                    continue  # the poller is down
                lines.append((ts, line))
            self.files[rel] = lines
        self.pos = dict.fromkeys(self.files, 0)

    def append_until(self, raw: Path, until: datetime, *, last: bool) -> int:
        """Append every file's lines stamped up to `until` (all of them on the last slice)."""
        written = 0
        for rel, lines in self.files.items():
            i = start = self.pos[rel]
            while i < len(lines) and (last or lines[i][0] <= until):
                i += 1
            if i == start:
                continue
            write(raw / rel, b"".join(line for _, line in lines[start:i]), until)
            written += i - start
            self.pos[rel] = i
        return written


def write(path: Path, data: bytes, mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def bad_lines(n: int, seq: int) -> bytes:
    """`n` lines the contract rejects (unparsable JSON), as a broken plug-in writes them."""
    return b"".join(
        b'{"schema_version": "1.0", "event_id": "bad-%d-%d", "event_type": \n' % (seq, i)
        for i in range(n)
    )


def late_file(stage: Path, raw: Path, day: date, now: datetime, seed: int) -> int:
    """A laptop's file for `day`, synced late: one artist's day, written at `now`."""
    from piper_dagster.generate.options import GenerateOptions
    from piper_dagster.generate.sample_spool import generate_spool

    shutil.rmtree(stage, ignore_errors=True)
    generate_spool(
        stage,
        GenerateOptions(start=day, days=1, artists=1, farm=False, storage=False, seed=seed),
    )
    n = 0
    for path in stage.rglob("*.jsonl"):
        rel = path.relative_to(stage)
        data = path.read_bytes()
        n += data.count(b"\n")
        write(raw / LATE_HOST / Path(*rel.parts[1:]), data, now)
    return n


# --- Dagster: the sensors, schedules and the runs they request -------------------------------


class Operator:
    """What the daemon does for piper's code location, on the simulated clock, timed."""

    def __init__(self, defs: Any, instance: Any, settings: Any, since: float) -> None:
        self.defs, self.instance, self.settings = defs, instance, settings
        self.since = since  # when the simulated daemon started: schedules' ticks count from it
        self.cursors: dict[str, str | None] = {}
        self.run_keys: dict[str, set[str]] = defaultdict(set)
        self.last_schedule_tick: dict[str, float] = {}
        self.ticks: list[tuple[str, float]] = []
        self.runs: list[tuple[str, float, bool]] = []
        self.touched_versions: set[str] = set()
        self.last_sensor_tick: dict[str, float] = {}

    def record_tick(self, kind: Any, name: str, started: float, runs: list[str], skip: str) -> None:
        """The tick row the daemon writes for this evaluation (job_ticks), through the instance;
        the ticks the daemon would have made since the previous one, every
        minimum_interval_seconds, finding nothing (SKIPPED), in bulk; then the instance's tick
        retention (dagster.yaml `retention`), as the daemon applies it after each tick."""
        from dagster._core.definitions.run_request import InstigatorType
        from dagster._core.scheduler.instigation import TickData, TickStatus

        origin = f"soak:{name}"
        status = TickStatus.SUCCESS if runs else TickStatus.SKIPPED
        self.instance.create_tick(
            TickData(origin, name, kind, status, started, run_ids=runs, selector_id=origin,
                     skip_reason=None if runs else (skip or "nothing requested"),
                     end_timestamp=time.time())
        )  # fmt: skip
        if kind == InstigatorType.SENSOR:
            sensor = self.defs.resolve_sensor_def(name)
            step = float(sensor.minimum_interval_seconds or 30)
            previous = self.last_sensor_tick.get(name, started)
            self.last_sensor_tick[name] = started
            self.filler_ticks(origin, name, kind, previous + step, started - step / 2, step)
        for status, days in self.instance.get_tick_retention_settings(kind).items():
            if days > 0:
                self.instance.purge_ticks(
                    origin, origin, before=started - days * 86400, tick_statuses=[status]
                )

    def filler_ticks(
        self, origin: str, name: str, kind: Any, first: float, last: float, step: float
    ) -> None:
        """SKIPPED ticks at first, first + step, ... <= last: the rows create_tick writes (same
        columns, same serialized body), in one transaction instead of one per tick."""
        from dagster._core.scheduler.instigation import TickData, TickStatus
        from dagster._core.storage.schedules.schema import JobTickTable
        from dagster._serdes import serialize_value
        from dagster._time import datetime_from_timestamp

        rows = []
        at = first
        while at <= last:
            tick = TickData(origin, name, kind, TickStatus.SKIPPED, at, selector_id=origin,
                            skip_reason="nothing to read", end_timestamp=at + 0.05)  # fmt: skip
            rows.append(
                {
                    "job_origin_id": origin,
                    "selector_id": origin,
                    "status": tick.status.value,
                    "type": kind.value,
                    "timestamp": datetime_from_timestamp(at),
                    "tick_body": serialize_value(tick),
                }
            )
            at += step
        if rows:
            with self.instance.schedule_storage.connect() as conn:
                conn.execute(JobTickTable.insert(), rows)

    def sensors(self, *, runless: bool) -> int:
        """Tick every sensor that targets jobs once (the spool sensor first), executing what each
        requests, or (`runless`) every sensor that targets none (the freshness sensor: check
        results without a run); the number of runs executed."""
        import dagster as dg
        from dagster._core.definitions.run_request import InstigatorType

        launched = 0
        for sensor in self.defs.sensors or []:
            if sensor.has_jobs == runless:
                continue
            context = dg.build_sensor_context(
                instance=self.instance, definitions=self.defs, cursor=self.cursors.get(sensor.name)
            )
            started, t = time.time(), time.perf_counter()
            data = sensor.evaluate_tick(context)
            self.ticks.append((sensor.name, time.perf_counter() - t))
            run_ids: list[str] = []
            self.cursors[sensor.name] = data.cursor
            for event in data.asset_events:  # a runless sensor's check results (as the daemon)
                self.instance.report_runless_asset_event(event)
            for request in data.run_requests or []:
                if request.run_key and request.run_key in self.run_keys[sensor.name]:
                    continue  # the daemon drops a run key it already launched
                if request.run_key:
                    self.run_keys[sensor.name].add(request.run_key)
                job = request.job_name or sensor.job_name
                tags = {**request.tags, "dagster/sensor_name": sensor.name}
                run_ids.append(self.execute(job, tags))
            self.record_tick(
                InstigatorType.SENSOR, sensor.name, started, run_ids, data.skip_message or ""
            )
            launched += len(run_ids)
        return launched

    def schedules(self, catch_up: str) -> None:
        """Evaluate every schedule's cron ticks passed since the last call; execute the runs."""
        import dagster as dg
        from dagster._core.definitions.run_request import InstigatorType
        from dagster._utils.schedules import cron_string_iterator

        now = time.time()
        for schedule in self.defs.schedules or []:
            since = self.last_schedule_tick.get(schedule.name, self.since)
            due = []
            for tick in cron_string_iterator(
                since + 1, schedule.cron_schedule, schedule.execution_timezone
            ):
                if tick.timestamp() > now:
                    break
                due.append(tick)
            self.last_schedule_tick[schedule.name] = now
            for tick in due[-1:] if catch_up == "latest" else due:
                context = dg.build_schedule_context(
                    instance=self.instance, scheduled_execution_time=tick
                )
                started, t = time.time(), time.perf_counter()
                data = schedule.evaluate_tick(context)
                self.ticks.append((schedule.name, time.perf_counter() - t))
                run_ids = []
                for request in data.run_requests or []:
                    job = request.job_name or schedule.job_name
                    tags = {**request.tags, "dagster/schedule_name": schedule.name}
                    run_ids.append(self.execute(job, tags))
                self.record_tick(
                    InstigatorType.SCHEDULE,
                    schedule.name,
                    started,
                    run_ids,
                    data.skip_message or "",
                )

    def execute(self, job_name: str, tags: dict[str, str]) -> str:
        job = self.defs.resolve_job_def(job_name)
        t = time.perf_counter()
        result = job.execute_in_process(
            run_config=QUIET, instance=self.instance, tags=tags, raise_on_error=False
        )
        self.runs.append((job_name, time.perf_counter() - t, result.success))
        self.age_serving_versions()
        return result.run_id

    def age_serving_versions(self) -> None:
        """New serving versions get the simulated time as mtime: serving's prune ages them by
        their directory's mtime against time.time(), which is simulated."""
        versions = self.settings.serving_dir / "versions"
        if not versions.is_dir():
            return
        now = time.time()
        for p in versions.iterdir():
            if not p.name.startswith(".") and p.name not in self.touched_versions:
                os.utime(p, (now, now))
                self.touched_versions.add(p.name)


# --- what is recorded ---------------------------------------------------------------------


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(FileNotFoundError):  # a version pruned meanwhile
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def home_parts(home: Path) -> dict[str, int]:
    """DAGSTER_HOME's bytes by store: run storage, event log (run shards, index), ticks, logs."""
    runs = home / "history" / "runs"
    shards = sum(
        p.stat().st_size for p in runs.glob("*.db*") if not p.name.startswith("index.db")
    ) if runs.is_dir() else 0  # fmt: skip
    index = sum(p.stat().st_size for p in runs.glob("index.db*")) if runs.is_dir() else 0
    return {
        "run_storage": sum(p.stat().st_size for p in (home / "history").glob("runs.db*")),
        "event_log_run_shards": shards,
        "event_log_index": index,
        "schedules_ticks": du(home / "schedules"),
        "compute_logs": du(home / "storage"),
    }


def sqlite_count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the table is not there (yet)
    finally:
        con.close()


def dagster_rows(home: Path) -> dict[str, int]:
    """Rows of Dagster's SQLite storages: runs, the event log (index + run shards), ticks."""
    history = home / "history"
    shards = list((history / "runs").glob("*.db")) if (history / "runs").is_dir() else []
    index = history / "runs" / "index.db"
    return {
        "runs_rows": sqlite_count(history / "runs.db", "runs"),
        # Every run's events are in its shard; the index holds the asset and check events again.
        "event_log_rows": sum(sqlite_count(p, "event_logs") for p in shards if p != index),
        "event_log_index_rows": sqlite_count(index, "event_logs"),
        "event_log_shards": len(shards),
        "tick_rows": sqlite_count(home / "schedules" / "schedules.db", "job_ticks"),
    }


def rss_mib() -> tuple[int, int]:
    """(current, peak) resident set of this process, MiB."""
    current = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) // 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def check_rows(
    settings: Any, after: datetime | None, sent_after: datetime | None
) -> tuple[list[tuple], list[dict[str, Any]]]:
    """pipeline_check_results evaluated after `after`, in order; the messages piper sent
    (alert_log, delivered) after `sent_after`."""
    from piper_dagster.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute(
            "SELECT check_name, scope, partition_date, status, evaluated_at"
            " FROM pipeline_check_results WHERE evaluated_at > coalesce(?, '-infinity'::TIMESTAMPTZ)"
            " ORDER BY evaluated_at, check_name, scope, partition_date",
            [after],
        ).fetchall()
        cur = con.execute(
            "SELECT sent_at, kind, check_name, scope, partition_date, status, previous_status"
            " FROM alert_log WHERE ok AND sent_at > coalesce(?, '-infinity'::TIMESTAMPTZ)"
            " ORDER BY sent_at, message_id",
            [sent_after],
        )
        names = [d[0] for d in cur.description]
        sent = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return rows, sent


class StateChanges:
    """Pipeline check state changes per (check, scope), as an alerting layer would see them.

    SKIP (could not judge) changes nothing. A partition check's state is that of the newest
    partition evaluated: a late file's run re-evaluating an older partition does not resolve, nor
    raise, today's state (counted apart as a late re-evaluation). The state starts at PASS."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], str] = {}
        self.newest: dict[tuple[str, str], date] = {}
        self.changes: list[dict[str, Any]] = []
        self.late_reevaluations = 0

    def feed(self, rows: list[tuple], day: int) -> list[dict[str, Any]]:
        out = []
        for check, scope, partition, status, evaluated_at in rows:
            key = (check, scope)
            if partition is not None:
                if key in self.newest and partition < self.newest[key]:
                    self.late_reevaluations += 1
                    continue
                self.newest[key] = partition
            if status == "SKIP":
                continue
            before = self.state.get(key, "PASS")
            if status != before:
                change = {
                    "day": day,
                    "check": check,
                    "scope": scope,
                    "partition": str(partition) if partition else None,
                    "from": before,
                    "to": status,
                    "at": evaluated_at.astimezone(UTC).isoformat(timespec="seconds"),
                }
                out.append(change)
                self.changes.append(change)
            self.state[key] = status
        return out


def expected_alerts(
    args: argparse.Namespace, changes: list[dict[str, Any]], sent: list[dict[str, Any]]
) -> list[dict]:
    """Each incident of the scenario: raised (into its severities) and resolved, that day or the
    next; by the checks' state changes, and by the messages piper sent (one webhook: one row
    per message)."""
    out = []
    incidents = [("invalid_rate", "all", d, ("WARN", "FAIL")) for d in sorted(args.bad_days)]
    incidents += [("freshness", "farm", d, ("FAIL",)) for d in sorted(args.silent)]
    for check, scope, day, severities in incidents:
        if day > args.days:
            continue
        mine = [
            c
            for c in changes
            if c["check"] == check and c["scope"] == scope and c["day"] in (day, day + 1)
        ]
        # Raised: into one of the expected severities from outside them (PASS -> WARN -> FAIL
        # raises FAIL once; WARN is the warning before it).
        raised = [c for c in mine if c["to"] in severities and c["from"] not in severities]
        resolved = [c for c in mine if c["to"] == "PASS"]
        messages = [
            m
            for m in sent
            if m["check_name"] == check and m["scope"] == scope and m["day"] in (day, day + 1)
        ]
        out.append(
            {
                "check": check,
                "scope": scope,
                "day": day,
                "expected": "/".join(severities),
                "raised": len(raised),
                "resolved": len(resolved),
                # What reached the webhook: problem messages (a WARN then a FAIL is two: each
                # state change is news), and the resolved notice.
                "messages": [
                    f"{m['kind']} {m['previous_status'] or '-'}->{m['status']}" for m in messages
                ],
                "resolved_sent": sum(m["kind"] == "resolved" for m in messages),
            }
        )
    return out


# --- the run ------------------------------------------------------------------------------


def simulate(args: argparse.Namespace) -> list[dict[str, Any]]:
    shutil.rmtree(args.workdir, ignore_errors=True)
    raw, data, home = args.workdir / "spool", args.workdir / "data", args.workdir / "dagster_home"
    raw.mkdir(parents=True)
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(raw)
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(data)
    os.environ["PIPER_INGEST__START_DATE"] = (args.start - timedelta(days=7)).isoformat()
    os.environ["DAGSTER_HOME"] = str(home)
    for name in ("PIPER_INGEST__SETTLE_SECONDS", "PIPER_DAGSTER__SENSOR_INTERVAL_SECONDS"):
        os.environ.pop(name, None)  # piper's defaults
    webhook = start_webhook()

    import dagster as dg

    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.definitions import build_definitions
    from piper_dagster.settings import load_settings
    from piper_dagster.warehouse import connect

    settings = load_settings()
    settings.data_root.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(settings)
    settle = timedelta(seconds=settings.ingest.settle_seconds)
    interval = timedelta(seconds=settings.dagster.sensor_interval_seconds)
    midnight = datetime(args.start.year, args.start.month, args.start.day, tzinfo=UTC)
    results: list[dict[str, Any]] = []
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    with time_machine.travel(midnight, tick=True) as clock:
        defs = build_definitions(settings)
        with dg.DagsterInstance.get() as instance:
            op = Operator(defs, instance, settings, since=midnight.timestamp())
            changes = StateChanges()
            sent: list[dict[str, Any]] = []  # the messages piper delivered (alert_log), by day
            sent_at: datetime | None = None
            seen_at: datetime | None = None
            previous: dict[str, Any] | None = None
            for n in range(1, args.days + 1):
                day = args.start + timedelta(days=n - 1)
                day_start = midnight + timedelta(days=n - 1)
                op.ticks, op.runs = [], []
                runs_before = instance.get_runs_count()
                t_day = time.perf_counter()
                feed = DayFeed(args.workdir / "stage", day, args, silent=n in args.silent)
                lines = bad = late = 0
                for k in range(1, args.slices + 1):
                    until = day_start + timedelta(days=1) * k / args.slices
                    clock.move_to(until)
                    written = feed.append_until(raw, until, last=k == args.slices)
                    lines += written
                    if n in args.bad_days and written:
                        nbad = math.ceil(written * args.bad_rate)
                        write(
                            raw / BAD_HOST / BAD_USER / f"{day}_maya-plugin.jsonl",
                            bad_lines(nbad, k),
                            until,
                        )
                        bad += nbad
                    if n >= 3 and k == args.slices // 2:
                        for i in range(args.late_files):
                            late += late_file(
                                args.workdir / "stage-late",
                                raw,
                                day - timedelta(days=2),
                                until,
                                seed=10_000 + n * 10 + i,
                            )
                    at = until + settle + AFTER_SETTLE
                    clock.move_to(at)
                    # After runs, the next ticks (the refresh sensor sees the ledger a spool run
                    # left), until a tick requests nothing; a bound, in case one never settles.
                    for _ in range(5):
                        if not op.sensors(runless=False):
                            break
                        at += interval
                        clock.move_to(at)
                    # Then the sensors without runs and the schedules, on what was ingested: the
                    # slice's data stands for a spool ingested every tick, and a freshness
                    # evaluated before its ingest would see the emitters a slice (2 h) behind.
                    op.sensors(runless=True)
                    op.schedules(args.schedule_ticks)
                rows, day_sent = check_rows(settings, seen_at, sent_at)
                if rows:
                    seen_at = rows[-1][4]
                if day_sent:
                    sent_at = day_sent[-1]["sent_at"]
                sent += [{**m, "day": n} for m in day_sent]
                day_changes = changes.feed(rows, n)
                with connect(settings.warehouse_path, read_only=True) as con:
                    events = con.execute("SELECT count(*) FROM silver_events").fetchone()[0]
                    # Which clocks followed the simulated one (docstring): DuckDB's does not.
                    duckdb_now = con.execute("SELECT now()").fetchone()[0]
                newest_run = instance.get_run_records(limit=1)
                ticks = [s for _, s in op.ticks]
                run_s = [s for _, s, _ in op.runs]
                by_job: dict[str, list[float]] = defaultdict(list)
                for job, s, _ in op.runs:
                    by_job[job].append(s)
                by_tick: dict[str, list[float]] = defaultdict(list)
                for name, s in op.ticks:
                    by_tick[name].append(s)
                current, peak = rss_mib()
                parquet = list(data.rglob("*.parquet"))
                serving = settings.serving_dir
                record = {
                    "day": n,
                    "date": day.isoformat(),
                    "commit": head,
                    "wall_s": round(time.perf_counter() - t_day, 1),
                    "lines_appended": lines,
                    "bad_lines": bad,
                    "late_lines": late,
                    "silver_events": events,
                    "clock": {
                        "simulated": datetime.now(UTC).isoformat(timespec="seconds"),
                        "dagster_newest_run_created": newest_run[0]
                        .create_timestamp.astimezone(UTC)
                        .isoformat(timespec="seconds")
                        if newest_run
                        else None,
                        "duckdb_now": duckdb_now.astimezone(UTC).isoformat(timespec="seconds"),
                    },
                    "ticks": len(ticks),
                    "tick_mean_s": round(statistics.mean(ticks), 4) if ticks else None,
                    "tick_max_s": round(max(ticks), 4) if ticks else None,
                    "tick_mean_s_by_instigator": {
                        k: round(statistics.mean(v), 4) for k, v in sorted(by_tick.items())
                    },
                    "runs": len(run_s),
                    "runs_failed": sum(not ok for _, _, ok in op.runs),
                    "run_mean_s": round(statistics.mean(run_s), 3) if run_s else None,
                    "run_max_s": round(max(run_s), 3) if run_s else None,
                    "runs_by_job": {j: len(v) for j, v in sorted(by_job.items())},
                    "run_mean_s_by_job": {
                        j: round(statistics.mean(v), 3) for j, v in sorted(by_job.items())
                    },
                    "runs_created": instance.get_runs_count() - runs_before,
                    "dagster_home_bytes": du(home),
                    "dagster_home_parts": home_parts(home),
                    "warehouse_bytes": sum(  # the DuckDB file and its WAL
                        p.stat().st_size
                        for p in settings.warehouse_path.parent.glob(
                            settings.warehouse_path.name + "*"
                        )
                    ),
                    "data_root_bytes": du(data),
                    "parquet_files": sum(serving not in p.parents for p in parquet),
                    "silver_events_parquet_files": sum(
                        data / "silver" / "events" in p.parents for p in parquet
                    ),
                    "serving_parquet_files": sum(serving in p.parents for p in parquet),
                    "serving_versions": sum(
                        1 for p in (serving / "versions").iterdir() if not p.name.startswith(".")
                    )
                    if (serving / "versions").is_dir()
                    else 0,
                    **dagster_rows(home),
                    "rss_mib": current,
                    "peak_rss_mib": peak,
                    "check_rows": len(rows),
                    "state_changes": day_changes,
                    "alerts_sent": [
                        f"{m['kind']} {m['check_name'] or 'run'}/{m['scope'] or '-'}"
                        f" {m['previous_status'] or '-'}->{m['status']}"
                        for m in day_sent
                    ],
                    "webhook_posts": len(_Hook.received),
                }
                results.append(record)
                with open(args.results, "a") as f:
                    f.write(json.dumps(record) + "\n")
                print_row(record, previous)
                previous = record
    webhook.shutdown()
    summary = summarise(args, results, changes, sent)
    with open(args.results, "a") as f:
        f.write(json.dumps({"summary": summary}) + "\n")
    print(json.dumps(summary, indent=2))
    return results


COLUMNS = (
    ("day", "day", "{}"),
    ("wall s", "wall_s", "{:.0f}"),
    ("tick ms mean/max", None, None),
    ("runs", "runs", "{}"),
    ("run s mean/max", None, None),
    ("DAGSTER_HOME MiB", "dagster_home_bytes", None),
    ("warehouse MiB", "warehouse_bytes", None),
    ("parquet", "parquet_files", "{}"),
    ("versions", "serving_versions", "{}"),
    ("run rows", "runs_rows", "{}"),
    ("event rows", "event_log_rows", "{}"),
    ("tick rows", "tick_rows", "{}"),
    ("RSS peak MiB", "peak_rss_mib", "{}"),
    ("state changes", None, None),
)


def print_row(r: dict[str, Any], previous: dict[str, Any] | None) -> None:
    if previous is None:
        print("| " + " | ".join(c[0] for c in COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
    mib = lambda b: f"{b / 2**20:.1f}"  # noqa: E731
    cells = [
        str(r["day"]),
        f"{r['wall_s']:.0f}",
        f"{(r['tick_mean_s'] or 0) * 1000:.0f}/{(r['tick_max_s'] or 0) * 1000:.0f}",
        f"{r['runs']}" + (f" ({r['runs_failed']} failed)" if r["runs_failed"] else ""),
        f"{r['run_mean_s'] or 0:.2f}/{r['run_max_s'] or 0:.2f}",
        mib(r["dagster_home_bytes"]),
        mib(r["warehouse_bytes"]),
        str(r["parquet_files"]),
        str(r["serving_versions"]),
        str(r["runs_rows"]),
        str(r["event_log_rows"]),
        str(r["tick_rows"]),
        str(r["peak_rss_mib"]),
        ", ".join(f"{c['check']}/{c['scope']} {c['from']}->{c['to']}" for c in r["state_changes"])
        or "-",
    ]
    print("| " + " | ".join(cells) + " |", flush=True)


STORES = (
    "dagster_home_bytes",
    "warehouse_bytes",
    "data_root_bytes",
    "parquet_files",
    "serving_versions",
    "runs_rows",
    "event_log_rows",
    "event_log_index_rows",
    "tick_rows",
)


def summarise(
    args: argparse.Namespace,
    results: list[dict[str, Any]],
    changes: StateChanges,
    sent: list[dict[str, Any]],
) -> dict[str, Any]:
    """Day 5 (or the first) against the last day; growth per day; a linear year."""
    # Day 5 (day 1 builds the instance and the warehouse); a shorter run: the day before the last.
    base = results[4] if len(results) >= 6 else results[max(0, len(results) - 2)]
    last = results[-1]
    ratio = lambda k: round(last[k] / base[k], 2) if base.get(k) and last.get(k) else None  # noqa: E731
    week = results[-8:] if len(results) > 1 else results
    growth = {
        k: (week[-1][k] - week[0][k]) / max(1, week[-1]["day"] - week[0]["day"]) for k in STORES
    }
    return {
        "days": len(results),
        "base_day": base["day"],
        "last_day": last["day"],
        "tick_mean_ratio": ratio("tick_mean_s"),
        "run_mean_ratio": ratio("run_mean_s"),
        "growth_per_day": {k: round(v, 1) for k, v in growth.items()},
        "projected_365": {k: round(last[k] + growth[k] * (365 - last["day"])) for k in STORES},
        "expected_alerts": expected_alerts(args, changes.changes, sent),
        "late_reevaluations": changes.late_reevaluations,
        "state_changes_total": len(changes.changes),
        # Changes no incident explains (day 1: the empty warehouse has no artists' event before
        # the first workstation writes, a freshness FAIL until then).
        "unexplained_state_changes": [
            f"day {c['day']} {c['check']}/{c['scope']} {c['from']}->{c['to']}"
            for c in changes.changes
            if not any(
                c["check"] == check and c["scope"] == scope and c["day"] in (day, day + 1)
                for check, scope, days in (
                    ("invalid_rate", "all", args.bad_days),
                    ("freshness", "farm", args.silent),
                )
                for day in days
            )
        ],
        "state_changes": [
            f"day {c['day']} {c['check']}/{c['scope']} {c['from']}->{c['to']}"
            for c in changes.changes
        ],
    }


def main(argv: list[str] | None = None) -> None:
    simulate(options(argv))


if __name__ == "__main__":
    main()
