"""Test helpers shared by the test modules (no test module imports another; fixtures live in
conftest.py): spool lines and files, warehouse snapshots, the Dagster definitions and sensors as
the code location builds them from the current settings, and a `dagster dev` subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from piper_dagster.dagster_home import WORKSPACE_YAML
from piper_dagster.definitions import build_definitions
from piper_dagster.defs.keys import (
    FRESHNESS_SENSOR,
    INGEST_SPOOL_JOB,
    REFRESH_SENSOR,
    SPOOL_SENSOR,
)
from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project's own copies of the upstream contract (docs/design.md: "The contract's copy").
CONTRACT_TEXT = REPO_ROOT / "docs" / "upstream" / "telemetry-v1.md"
EXAMPLES = REPO_ROOT / "piper_dagster_tests" / "data" / "contract" / "examples"

# The end of the examples' day: settled, and after every example event (so none is skewed).
SETTLED_MTIME = datetime(2026, 3, 5, tzinfo=UTC).timestamp()


def write_spool_file(
    raw_root: Path,
    rel: str,
    data: bytes,
    *,
    mtime: float | None = SETTLED_MTIME,
    append: bool = False,
) -> Path:
    """Write (or append to) a spool file and give it a settled mtime."""
    path = raw_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab" if append else "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def ev(n: int, ts: str = "2026-03-04T10:00:00Z", **extra: object) -> bytes:
    """One valid spool line (a dcc.launch event), `n` making it unique."""
    event = {
        "schema_version": "1.0",
        "event_id": f"evt-{n}",
        "event_type": "dcc.launch",
        "ts": ts,
        "host": "ws001",
        "user": "alice",
        "payload": {"status": "success", "duration_ms": n, "dcc": "maya"},
        **extra,
    }
    return json.dumps(event).encode() + b"\n"


# The hostile entries of issue #13 item 3, as hostile_spool() makes them (printable names).
HOSTILE_SKIPPED = {
    "ws001/alice/loop.jsonl": "unreadable",  # `ln -s loop.jsonl loop.jsonl`
    "ws001/alice/\\xff\\xfe.jsonl": "unreadable_name",
    "h\\xffst": "unreadable_name",  # a host folder
    "ws001/b\\xe9b": "unreadable_name",  # a user folder (latin-1 'bob' with an accent)
}


def hostile_spool(raw_root: Path) -> None:
    """A symlink loop named *.jsonl, a file, a host folder and a user folder whose names are
    not UTF-8 (each holding a valid event that must not be read), next to nothing else."""
    user = raw_root / "ws001" / "alice"
    user.mkdir(parents=True, exist_ok=True)
    os.symlink("loop.jsonl", user / "loop.jsonl")
    raw = os.fsencode(raw_root)
    names = (b"ws001/alice/\xff\xfe.jsonl", b"h\xffst/bob/x.jsonl", b"ws001/b\xe9b/y.jsonl")
    for n, name in enumerate(names, 901):
        path = raw + b"/" + name
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(ev(n))
        os.utime(path, (SETTLED_MTIME, SETTLED_MTIME))


@cache
def _built(
    start_date: date, interval: int, freshness_minutes: int, prune_cron: str, runbook_url: str
) -> dg.Definitions:
    return build_definitions(load_settings())


def defs() -> dg.Definitions:
    """The definitions for the settings of now (the environment the test set), built once per
    distinct value of the settings they depend on; the rest is read by the resource at use."""
    s = load_settings()
    return _built(
        s.ingest.start_date,
        s.dagster.sensor_interval_seconds,
        s.checks.freshness_interval_minutes,
        s.retention.prune_cron,
        s.checks.runbook_url,
    )


def spool_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """One tick of the code location's spool sensor."""
    return defs().resolve_sensor_def(SPOOL_SENSOR)(context)


def run_requested(instance: dg.DagsterInstance, request: dg.RunRequest) -> bool:
    """Execute a run the spool sensor requested, as the daemon would (its job, same tags);
    succeeded?"""
    job = defs().resolve_job_def(request.job_name or INGEST_SPOOL_JOB)
    result = job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
    return result.success


def freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """One tick of the code location's freshness sensor (what the daemon reports: see
    report_sensor_events)."""
    return defs().resolve_sensor_def(FRESHNESS_SENSOR)(context)


def report_sensor_events(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with a tick's asset events (dagster/_daemon/sensor.py: one
    `instance.report_runless_asset_event` each): stored without a run."""
    for event in result.asset_events:
        instance.report_runless_asset_event(event)


def touched_event_dates_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """One tick of the code location's refresh sensor."""
    return defs().resolve_sensor_def(REFRESH_SENSOR)(context)


def mixed_spool(raw: Path) -> None:
    """~6 MB over 30 files: many 1 MiB batches, with invalid lines and re-sent events."""
    rng = random.Random(7)
    n = 0
    for f in range(30):
        lines = []
        for _ in range(800):
            n += 1
            roll = rng.random()
            if roll < 0.03:
                lines.append(b'{"broken": ' + str(n).encode() + b"\n")
            elif roll < 0.06:
                lines.append(ev(rng.randrange(1, n + 1)))  # a re-sent event
            else:
                lines.append(ev(n, pad="x" * rng.randrange(0, 200)))
        day = 2 + f % 3
        write_spool_file(raw, f"ws{f % 7:03d}/u{f % 5}/2026-03-0{day}_s{f}.jsonl", b"".join(lines))


def mixed_spool_env(raw: Path) -> dict[str, str]:
    """mixed_spool() under `raw`, and the environment of a piper process reading it in 1 MiB
    batches with nothing waiting to settle (the data root and DAGSTER_HOME are the caller's)."""
    mixed_spool(raw)
    return {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
        "PIPER_INGEST__BATCH_BYTES": str(1 << 20),
    }


def warehouse_snapshot(data_root: Path) -> dict[str, object]:
    """Everything a (re)run must reproduce: the tables, the Parquet and the quarantine files."""
    con = duckdb.connect(str(data_root / "warehouse" / "telemetry.duckdb"), read_only=True)
    try:
        events = con.execute(
            "SELECT * EXCLUDE (ingested_at, ingest_run_id, ingest_seq) FROM silver_events"
            " ORDER BY event_id"
        ).fetchall()
        quarantine = con.execute(
            "SELECT * EXCLUDE (quarantined_at, ingest_run_id) FROM quarantine"
            " ORDER BY source_file, source_line"
        ).fetchall()
        files = con.execute(
            "SELECT source_file, offset_bytes, lines_read, generation FROM spool_files ORDER BY 1"
        ).fetchall()
        pending = con.execute("SELECT count(*) FROM export_pending").fetchone()
        parquet = con.execute(
            f"SELECT event_id, event_date, event_type, source_file, source_line FROM read_parquet("
            f"'{data_root}/silver/events/**/*.parquet', hive_partitioning = true) ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    qfiles = {
        str(p.relative_to(data_root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted((data_root / "quarantine").rglob("*.jsonl"))
    }
    return {
        "events": events,
        "quarantine": quarantine,
        "files": files,
        "pending": pending,
        "parquet": parquet,
        "quarantine_files": qfiles,
    }


# The quarantine's columns before the occurrence key (tests writing rows as an old piper did).
QUARANTINE_COLUMNS_V1 = (
    "(reason, source_file, source_line, spool_date, raw_line, raw_bytes, raw_length, raw_md5,"
    " quarantined_at, ingest_run_id)"
)


def quarantined_by_an_old_contract(
    settings: Settings, lines: list[bytes], reason: str, day: str = "2026-03-03"
) -> None:
    """Quarantine rows as an older contract (e.g. one without an event type) left them."""
    with connect(settings.warehouse_path) as con:
        for i, line in enumerate(lines, 1):
            # The columns of that time (the next connection's schema upgrade numbers the rows).
            con.execute(
                f"INSERT INTO quarantine {QUARANTINE_COLUMNS_V1}"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), 'old-run')",
                [
                    reason,
                    f"lt007/bob/{day}_old.jsonl",
                    i,
                    day,
                    line.decode(),
                    line,
                    len(line),
                    hashlib.md5(line).hexdigest(),
                ],
            )


END_OF_MARCH_4 = datetime(2026, 3, 4, 23, 0, tzinfo=UTC).timestamp()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 240) -> Any:
    """The first truthy value of probe(), polled every 2 s (errors: not there yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (duckdb.Error, OSError):
            value = None  # not there yet (no table, the writer holds the file, no server)
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


class DagsterDev:
    """`dagster dev` (webserver + daemon) as a subprocess in its own process group."""

    def __init__(self, tmp_path: Path, env: dict[str, str], root: Path = REPO_ROOT) -> None:
        self.env = env
        self.root = root  # the checkout whose code location it serves (a benchmark's baseline)
        self.port = free_port()
        self.log_path = tmp_path / "dagster_dev.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "dev",
                    "-w",
                    str(self.root / WORKSPACE_YAML.relative_to(REPO_ROOT)),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                cwd=self.root,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # webserver, daemon, code servers, runs: one group
            )
        wait_for("the webserver", lambda: socket.create_connection(("127.0.0.1", self.port), 1))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


def gold_tool_invocations(data: Path, day: str) -> int | None:
    """gold_tool_reliability_daily's invocations of `day` (None: not built yet)."""
    con = duckdb.connect(str(data / "warehouse" / "telemetry.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT sum(tool_invocations) FROM gold_tool_reliability_daily WHERE event_date = ?",
            [day],
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else None


@contextlib.contextmanager
def warehouse_locked(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process (a run, someone's shell) holds the warehouse's write lock meanwhile."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True);"
            " time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def blocked_spool(raw_root: Path, start: date) -> None:
    """One day of spool whose invalid rate (10 % wrong_type) fails the blocking check."""
    from piper_dagster.generate.options import GenerateOptions
    from piper_dagster.generate.sample_spool import generate_spool

    generate_spool(
        raw_root,
        GenerateOptions(
            start=start, days=1, artists=6, damage=frozenset({"wrong_type"}), damage_rate=0.1
        ),
    )


def run_piper(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A real `piper` process (through the test probe's entry point), run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "piper_dagster_tests.piper_child", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def piper_paused(
    env: dict[str, str], pause: str, paused: Path, *args: str, timeout: float = 180
) -> subprocess.Popen[bytes]:
    """A real `piper` process stopped at the probe point `pause` (piper_child.py): returned
    once it is there, for the caller to kill."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "piper_dagster_tests.piper_child", *args],
        cwd=REPO_ROOT,
        env={**env, "PIPERTEST_PAUSE": pause, "PIPERTEST_PAUSED": str(paused)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while not paused.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"piper {args} never reached {pause} (exit {proc.returncode})")
        time.sleep(0.1)
    return proc


def parquet_rows(tree: Path) -> int:
    """Rows of every Parquet file under `tree`, read as a reader of the published copy does."""
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT count(*) FROM read_parquet('{tree}/**/*.parquet', hive_partitioning = true)"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0
