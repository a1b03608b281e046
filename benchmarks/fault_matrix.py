"""The fault-injection matrix of issue #13: every attack on the spool, the warehouse and the disk,
and random kill -9 / SIGTERM in each phase, each checked against an uninterrupted reference run.

    uv run python benchmarks/fault_matrix.py [--workdir /tmp/piper-fault-matrix] [--only NAME,...]
        [--seeds 1,2] [--ones-lines 500000] [--jobs 1] [--markdown] [--json FILE] [--keep]

Each row builds its own spool from one small generated base spool (piper's sample generator, two
spool dates, a little damage), applies its attack and runs the real `piper` command as a
subprocess (`python -m piper_dagster.cli`, settings from PIPER_* variables pointing at the row's
own spool, data root and DAGSTER_HOME). The outcome is compared with the reference: one
uninterrupted `piper ingest` of the base spool. Checked: the silver_events event_id set and
count, the quarantine count, the gold tables (equal to the reference's, or, where the attack adds
events, consistent with silver_events), Parquet rows == silver_events, no `.staging-*` anywhere,
nothing left in export_pending or the refresh ledger, exit codes, and one-line errors without a
"Traceback". Attacks act from outside the process, as the world does: files changed or deleted
while /proc shows the ingest holding them open, SIGSTOP/SIGCONT around a disk filling up, signals
timed on the run's own log lines. Rows are independent; a row that cannot run says why (FAIL).

Exit status: 0 when every row passed, 1 otherwise. Needs root for the tmpfs rows (mount -t tmpfs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parent.parent
START = date(2026, 3, 2)  # the base spool: two spool dates from here
DAYS = 2
# Files the attacks add are settled at the end of the base spool's last day, after their events.
ADDED_MTIME = datetime(2026, 3, 3, 23, 0, tzinfo=UTC).timestamp()
SMALL_BATCH = (
    1 << 20
)  # the smallest allowed: many batches, a file spans several, a kill finds an ingest to cut
MIB = 1 << 20


# --- running piper ----------------------------------------------------------------------------


@dataclass
class Done:
    """A finished piper process."""

    rc: int  # negative: killed by that signal
    out: str
    err: str
    seconds: float
    peak_rss: int  # bytes (ru_maxrss of the process)
    timed_out: bool = False
    cause: str = ""  # a failed run's exception, from its Dagster event log

    @property
    def text(self) -> str:
        return self.out + self.err

    def error_lines(self) -> list[str]:
        return [x for x in self.err.splitlines() if x.startswith("piper:")]

    def brief(self) -> str:
        """Exit code and the last line it printed on stderr (what an operator reads)."""
        lines = [x for x in self.text.splitlines() if x.strip()]
        said = [x for x in lines if x.startswith("piper:") or re.match(r"run \S+ failed", x)]
        last = (said or lines or [""])[-1]
        rc = f"killed by {signal.Signals(-self.rc).name}" if self.rc < 0 else f"exit {self.rc}"
        tb = ", Traceback" if "Traceback" in self.text else ""
        causes = re.findall(r"\b([A-Za-z_.]*(?:Error|Exception)): ([^\n]{0,60})", self.text)
        if self.cause:
            tb += f" ({self.cause})"
        elif causes and (self.rc != 0 or tb):  # the exception under a failed run's last line
            tb += f" ({causes[-1][0]}: {causes[-1][1]})"
        return f"{rc}{tb}{' (timed out)' if self.timed_out else ''}: {last[:160]!r}"


class Piper:
    """A `piper` subprocess; stderr lines are kept with the time they arrived."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.started = time.monotonic()
        self.home = Path(env["DAGSTER_HOME"])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "piper_dagster.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="backslashreplace",
        )
        self.pid = self.proc.pid
        self.out: list[str] = []
        self.err: list[tuple[float, str]] = []
        self.new_line = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for r in self._readers:
            r.start()
        self.alive = True

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.new_line:
                self.err.append((time.monotonic() - self.started, line))
                self.new_line.notify_all()
        with self.new_line:
            self.alive = False
            self.new_line.notify_all()

    def wait_line(self, needle: str, timeout: float = 120) -> float | None:
        """When a stderr line containing `needle` arrived (s after start); None if it never did."""
        deadline = time.monotonic() + timeout
        with self.new_line:
            while True:
                for t, line in self.err:
                    if needle in line:
                        return t
                left = deadline - time.monotonic()
                if not self.alive or left <= 0:
                    return None
                self.new_line.wait(min(left, 0.5))

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def finish(self, timeout: float = 300) -> Done:
        """Wait for the end (killed after `timeout`), with the process's own peak RSS."""
        timer = threading.Timer(timeout, self.signal, [signal.SIGKILL])
        timer.start()
        _, status, usage = os.wait4(self.pid, 0)
        timer.cancel()
        timed_out = time.monotonic() - self.started >= timeout
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for r in self._readers:
            r.join(timeout=10)
        done = Done(
            self.proc.returncode,
            "".join(self.out),
            "".join(line for _, line in self.err),
            time.monotonic() - self.started,
            usage.ru_maxrss * 1024,
            timed_out,
        )
        failed = re.findall(r"run ([0-9a-f-]{36}) failed", done.text)
        if failed:
            done.cause = failure_cause(self.home, failed[-1])
        return done


def failure_cause(home: Path, run_id: str) -> str:
    """The innermost exception of a failed run's failed step (the instance's SQLite event log):
    the CLI's line only points at the UI."""
    db = home / "history" / "runs" / f"{run_id}.db"
    if not db.exists():
        return ""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT event FROM event_logs WHERE dagster_event_type = 'STEP_FAILURE'"
        ).fetchall()
    except sqlite3.Error:
        return ""
    finally:
        con.close()
    for (event,) in rows:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            err = json.loads(event)["dagster_event"]["event_specific_data"]["error"]
            while err.get("cause"):
                err = err["cause"]
            message = err["message"].strip().splitlines()[0]
            if not message.startswith(err["cls_name"]):
                message = f"{err['cls_name']}: {message}"
            return message[:110]
    return ""


def run_piper(env: dict[str, str], *args: str, timeout: float = 300) -> Done:
    return Piper(env, *args).finish(timeout)


def open_files(pid: int) -> list[str]:
    """The paths `pid` holds open now (/proc)."""
    paths = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        with contextlib.suppress(OSError):
            paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return paths


def wait_open(p: Piper, match: Callable[[str], bool], timeout: float = 120) -> str | None:
    """The first path matching `match` that the process holds open; None if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.proc.poll() is None and p.alive:
        for path in open_files(p.pid):
            if match(path):
                return path
        time.sleep(0.001)
    return None


# --- spools, state, snapshots -----------------------------------------------------------------


def event_line(event_id: str, ts: str = "2026-03-03T10:00:00Z", **extra: object) -> bytes:
    """One valid spool line (a dcc.launch event)."""
    event = {
        "schema_version": "1.0",
        "event_id": event_id,
        "event_type": "dcc.launch",
        "ts": ts,
        "host": "ws090",
        "user": "fmuser",
        "payload": {"status": "success", "duration_ms": 1234, "dcc": "maya"},
        **extra,
    }
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def events_file(prefix: str, count: int) -> tuple[bytes, set[str]]:
    """`count` valid lines with ids prefix-000001...: ids of one prefix length, same file size."""
    ids = [f"{prefix}-{i:06d}" for i in range(1, count + 1)]
    return b"".join(event_line(i) for i in ids), set(ids)


def add_file(raw: Path | bytes, rel: str | bytes, data: bytes, mtime: float = ADDED_MTIME) -> None:
    path = os.path.join(os.fsencode(raw), os.fsencode(rel))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


@dataclass
class Workspace:
    """One row's spool, data root and Dagster instance."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "spool"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse" / "telemetry.duckdb"

    def env(self, batch_bytes: int | None = SMALL_BATCH) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPER")}
        env.update(
            {
                "PIPER_PATHS__RAW_ROOT": str(self.raw),
                "PIPER_PATHS__DATA_ROOT": str(self.data),
                "DAGSTER_HOME": str(self.home),
                "PIPER_INGEST__SETTLE_SECONDS": "0",
                # A damaged warehouse must not look locked for 10 minutes (issue item 9).
                "PIPER_DAGSTER__WAIT_SECONDS": "30",
                # Attacks that quarantine a lot (the file of `1` lines) must not hold gold back:
                # the matrix checks what reaches gold, the invalid-rate check is tested elsewhere.
                "PIPER_CHECKS__INVALID_RATE_WARN": "0.99",
                "PIPER_CHECKS__INVALID_RATE_FAIL": "1.0",
            }
        )
        if batch_bytes:
            env["PIPER_INGEST__BATCH_BYTES"] = str(batch_bytes)
        return env


@dataclass
class Snapshot:
    error: str = ""
    events: set[str] = field(default_factory=set)
    event_rows: int = 0
    quarantine: int = 0
    gold: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    gold_current: bool = False  # gold_data_quality_daily counts what silver_events holds
    silver_models: dict[str, int] = field(default_factory=dict)
    pending: int = 0  # export_pending + refresh ledger rows
    parquet_rows: int | str = 0  # or the error reading it
    staging: list[str] = field(default_factory=list)
    anomalies: list[tuple[str, str]] = field(default_factory=list)
    spool_files: dict[str, int] = field(default_factory=dict)
    quarantine_by_file: dict[str, int] = field(default_factory=dict)


def snapshot(ws: Workspace) -> Snapshot:
    s = Snapshot()
    s.staging = sorted(
        str(p.relative_to(ws.data)) for p in ws.data.rglob("*") if ".staging-" in p.name
    )
    if not ws.warehouse.exists():
        s.error = "no warehouse"
        return s
    try:
        con = duckdb.connect(str(ws.warehouse), read_only=True)
    except duckdb.Error as exc:
        s.error = f"warehouse unreadable: {str(exc).splitlines()[0][:120]}"
        return s
    try:
        s.events = {r[0] for r in con.execute("SELECT event_id FROM silver_events").fetchall()}
        s.event_rows = con.execute("SELECT count(*) FROM silver_events").fetchone()[0]  # type: ignore[index]
        s.quarantine = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]  # type: ignore[index]
        s.quarantine_by_file = dict(
            con.execute("SELECT source_file, count(*) FROM quarantine GROUP BY 1").fetchall()
        )
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY 1"
            ).fetchall()
        ]
        for t in tables:
            if t.startswith("gold_"):
                s.gold[t] = sorted(
                    con.execute(f"SELECT * FROM {t}").fetchall(), key=lambda r: repr(r)
                )
            elif t.startswith("silver_") and t != "silver_events":
                s.silver_models[t] = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
        per_day = set(
            con.execute("SELECT event_date, count(*) FROM silver_events GROUP BY 1").fetchall()
        )
        if "gold_data_quality_daily" in tables:  # created by the first gold refresh
            dq = con.execute("SELECT event_date, dq_events FROM gold_data_quality_daily")
            s.gold_current = per_day == set(dq.fetchall())
        s.pending = sum(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("export_pending", "refresh_pending")
        )
        s.anomalies = con.execute("SELECT source_file, kind FROM spool_anomalies").fetchall()
        s.spool_files = dict(
            con.execute("SELECT source_file, offset_bytes FROM spool_files").fetchall()
        )
        glob = str(ws.data / "silver" / "events" / "**" / "*.parquet").replace("'", "''")
        try:
            s.parquet_rows = con.execute(
                f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)"
            ).fetchone()[0]  # type: ignore[index]
        except duckdb.Error as exc:
            s.parquet_rows = f"unreadable ({str(exc).splitlines()[0][:100]})"
    except duckdb.Error as exc:
        s.error = f"warehouse query failed: {str(exc).splitlines()[0][:120]}"
    finally:
        con.close()
    return s


def differences(
    got: Snapshot,
    ref: Snapshot,
    *,
    events: set[str] | None = None,
    quarantine: int | None = None,
    exact_gold: bool = True,
) -> list[str]:
    """What `got` gets wrong, against the reference (or the expected `events` / `quarantine`:
    then gold is only required to be current with silver_events)."""
    if got.error:
        return [got.error]
    want = ref.events if events is None else events
    want_q = ref.quarantine if quarantine is None else quarantine
    bad = []
    if got.events != want:
        lost, extra = want - got.events, got.events - want
        bad.append(f"events: {len(lost)} lost, {len(extra)} unexpected")
    if got.event_rows != len(got.events):
        bad.append(f"silver_events has {got.event_rows - len(got.events)} duplicate rows")
    if got.quarantine != want_q:
        bad.append(f"quarantine {got.quarantine} rows, expected {want_q}")
    if exact_gold and events is None:
        differ = [t for t in ref.gold if got.gold.get(t) != ref.gold[t]]
        if differ:
            bad.append(f"gold differs: {', '.join(differ)}")
        if got.silver_models != ref.silver_models:
            bad.append("silver model row counts differ")
    elif not got.gold_current:
        bad.append("gold not current with silver_events")
    if got.parquet_rows != got.event_rows:
        bad.append(f"Parquet rows {got.parquet_rows} != silver_events {got.event_rows}")
    if got.staging:
        bad.append(f"staging left: {got.staging[0]}")
    if got.pending:
        bad.append(f"{got.pending} exports/refreshes still pending")
    return bad


# --- the matrix -------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    attack: str
    expected: str
    observed: str = ""
    ok: bool = False
    seconds: float = 0.0


@dataclass
class Reference:
    """The uninterrupted run on the base spool, and when its phases happened (its log lines)."""

    ws: Workspace
    snap: Snapshot
    done: Done
    batches: int
    # phase -> (the log line that starts it, the one that ends it, its seconds)
    phases: dict[str, tuple[str, str, float]]


PHASE_MARKS = {
    "silver": 'Started execution of step "silver_models"',
    "gold": 'Started execution of step "gold_models"',
    "gold_end": 'Finished execution of step "gold_models"',
}


class Matrix:
    def __init__(self, work: Path, ones_lines: int) -> None:
        self.work = work
        self.ones_lines = ones_lines
        self.base = work / "base-spool"
        self.ref: Reference | None = None

    # -- setup

    def build_base(self) -> None:
        from piper_dagster.generate.options import GenerateOptions
        from piper_dagster.generate.sample_spool import generate_spool

        generate_spool(
            self.base,
            GenerateOptions(
                start=START,
                days=DAYS,
                artists=12,
                events_per_artist_day=200,
                damage=frozenset({"invalid_json", "not_an_object"}),
                damage_rate=0.01,
            ),
        )

    def fresh(self, name: str) -> Workspace:
        """A workspace with a copy of the base spool (mtimes kept) and no data yet."""
        ws = Workspace(self.work / name)
        shutil.rmtree(ws.root, ignore_errors=True)
        ws.root.mkdir(parents=True)
        shutil.copytree(self.base, ws.raw, symlinks=True)
        return ws

    def ingested(self, name: str) -> Workspace:
        """A workspace in the reference's state: the base spool already ingested."""
        assert self.ref is not None
        ws = self.fresh(name)
        shutil.copytree(self.ref.ws.data, ws.data, symlinks=True)
        shutil.copytree(self.ref.ws.home, ws.home, symlinks=True)
        return ws

    def reference(self) -> Reference:
        ws = self.fresh("reference")
        p = Piper(ws.env(), "--verbose", "ingest")
        done = p.finish()
        if done.rc != 0:
            raise SystemExit(f"the reference run failed: {done.brief()}\n{done.err[-3000:]}")
        marks: dict[str, float] = {}
        batches = 0
        for t, line in p.err:
            m = re.search(r" - batch (\d+): ", line)
            if m:
                batches = int(m[1])
                marks.setdefault("batch 1", t)
                marks["last batch"] = t
            if " - exported " in line:
                marks["exported"] = t
            for key, needle in PHASE_MARKS.items():
                if needle in line:
                    marks[key] = t
        need = {"batch 1", "last batch", "exported", "silver", "gold", "gold_end"}
        if not need <= set(marks) or batches < 2:
            raise SystemExit(f"the reference run's log lacks phases {need - set(marks)}")
        last = f" - batch {batches}: "
        phases = {
            "ingest": (" - batch 1: ", last, marks["last batch"] - marks["batch 1"]),
            "export": (last, " - exported ", marks["exported"] - marks["last batch"]),
            "silver": (PHASE_MARKS["silver"], PHASE_MARKS["gold"], marks["gold"] - marks["silver"]),
            "gold": (
                PHASE_MARKS["gold"],
                PHASE_MARKS["gold_end"],
                marks["gold_end"] - marks["gold"],
            ),
        }
        snap = snapshot(ws)
        if snap.error or differences(snap, snap):
            raise SystemExit(
                f"the reference is not consistent: {snap.error or differences(snap, snap)}"
            )
        self.ref = Reference(ws, snap, done, batches, phases)
        return self.ref

    # -- helpers for rows

    def clean(self, done: Done, rc: int = 0) -> list[str]:
        bad = []
        if done.rc != rc:
            bad.append(f"exit code {done.rc}, expected {rc}")  # (the row shows its brief())
        elif "Traceback" in done.text:
            bad.append("a Traceback in the output")
        return bad

    def expect_ingested(
        self, ws: Workspace, done: Done, ids: set[str], *, named: str | None = None
    ) -> tuple[str, bool]:
        """After a run over the base spool + files whose events `ids` must all be in."""
        assert self.ref is not None
        got = snapshot(ws)
        bad = self.clean(done) + differences(got, self.ref.snap, events=self.ref.snap.events | ids)
        if named and not re.search(named, done.text):
            bad.append(f"not reported (no /{named}/ in the output)")
        observed = f"{done.brief()}; {len(ids & got.events)}/{len(ids)} events of the file in"
        return "; ".join([observed, *bad]), not bad

    # -- the rows: each returns (observed, passed)

    def wide_line(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.fresh("01-wide-line")
        extra = {f"x{i:04d}": "ab" for i in range(6000)}
        line = event_line("fm-wide-1", **extra)
        add_file(ws.raw, "aaa000/fmuser/2026-03-02_wide.jsonl", line)
        done = run_piper(ws.env(), "ingest")
        got = snapshot(ws)
        ref = self.ref.snap
        as_event = differences(got, ref, events=ref.events | {"fm-wide-1"})
        as_quarantine = differences(got, ref, events=ref.events, quarantine=ref.quarantine + 1)
        where = "silver_events" if "fm-wide-1" in got.events else "not in silver_events"
        bad = self.clean(done) + (as_event if as_event and as_quarantine else [])
        observed = f"{done.brief()}; {len(line) // 1024} KB line {where}"
        return "; ".join([observed, *bad]), not bad

    def ones_file(self) -> tuple[str, bool]:
        from piper_dagster.generate.bulk import generate_bulk

        n = self.ones_lines
        ws = Workspace(self.work / "02-ones")
        shutil.rmtree(ws.root, ignore_errors=True)
        add_file(ws.raw, "ws001/fmuser/2026-03-02_ones.jsonl", b"1\n" * n)
        ones = run_piper(ws.env(batch_bytes=None), "ingest", timeout=600)
        got = snapshot(ws)
        valid = Workspace(self.work / "02-valid")
        shutil.rmtree(valid.root, ignore_errors=True)
        generate_bulk(valid.raw, events=n // 10, files=20, start=START, days=DAYS)
        base = run_piper(valid.env(batch_bytes=None), "ingest", timeout=600)
        bad = self.clean(ones) + self.clean(base)
        if got.error or got.quarantine != n:
            bad.append(got.error or f"quarantine {got.quarantine} rows, expected {n}")
        # The bound (10 M lines <= 1 M valid events), scaled; 25 % margin for noise.
        if ones.peak_rss > 1.25 * base.peak_rss:
            bad.append("peak RSS above 1.25 x the valid events' ingest")
        observed = (
            f"{ones.brief()}; {n:,} lines: peak RSS {ones.peak_rss / MIB:.0f} MiB,"
            f" {ones.seconds:.1f} s; {n // 10:,} valid events: {base.peak_rss / MIB:.0f} MiB,"
            f" {base.seconds:.1f} s"
        )
        return "; ".join([observed, *bad]), not bad

    def _hostile(self, name: str, make: Callable[[Path], None], named: str) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.fresh(name)
        make(ws.raw)
        done = run_piper(ws.env(), "ingest")
        bad = self.clean(done) + differences(snapshot(ws), self.ref.snap)
        if not re.search(named, done.text):
            bad.append(f"not reported (no /{named}/ in the output)")
        return "; ".join([done.brief(), *bad]), not bad

    def symlink_loop(self) -> tuple[str, bool]:
        def make(raw: Path) -> None:
            (raw / "ws090" / "fmuser").mkdir(parents=True)
            os.symlink("2026-03-02_loop.jsonl", raw / "ws090" / "fmuser" / "2026-03-02_loop.jsonl")

        return self._hostile("03a-symlink-loop", make, "2026-03-02_loop")

    def non_utf8_name(self) -> tuple[str, bool]:
        data, _ = events_file("fm-3b", 20)
        return self._hostile(
            "03b-non-utf8-name",
            lambda raw: add_file(raw, b"ws090/fmuser/2026-03-02_bad\xff.jsonl", data),
            "2026-03-02_bad",
        )

    def non_utf8_host(self) -> tuple[str, bool]:
        data, _ = events_file("fm-3c", 20)
        return self._hostile(
            "03c-non-utf8-host",
            lambda raw: add_file(raw, b"ws\xfe77/fmuser/2026-03-02_inbadhost.jsonl", data),
            r"ws\S{1,8}77|inbadhost",
        )

    def deleted_while_read(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.fresh("03d-deleted-while-read")
        data, ids = events_file("fm-3d", 8000)  # 1.5 MB: read over two 1 MiB batches
        rel = "aaa001/fmuser/2026-03-02_cleanup.jsonl"  # the first file read
        add_file(ws.raw, rel, data)
        target = str(ws.raw / rel)
        p = Piper(ws.env(), "ingest")
        seen = wait_open(p, lambda path: path == target)
        if seen:
            os.unlink(target)  # the studio's cleanup, while the ingest reads it
        done = p.finish()
        got = snapshot(ws)
        ref = self.ref.snap
        bad = self.clean(done)
        if not seen:
            bad.append("the ingest was never seen reading the file (attack missed)")
        bad += differences(got, ref, events=ref.events | (got.events & ids))
        observed = (
            f"{done.brief()}; deleted while open; {len(got.events & ids)}/{len(ids)} of its"
            " events in"
        )
        return "; ".join([observed, *bad]), not bad

    def rewrite_middle(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.ingested("04-rewrite-middle")
        files = sorted(ws.raw.rglob("*.jsonl"), key=lambda p: p.stat().st_size)
        path = files[-1]
        rel = str(path.relative_to(ws.raw))
        data = path.read_bytes()
        offset, old_id = 0, ""
        for line in data.splitlines(keepends=True):
            if len(data) // 3 < offset < len(data) - 8192:
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    old_id = json.loads(line)["event_id"]
                    if old_id in self.ref.snap.events and len(old_id) >= 6:
                        break
            offset += len(line)
        new_id = old_id[:-5] + "fm4zz"
        start = data.index(old_id.encode(), offset)
        with open(path, "r+b") as f:  # same size, bytes changed in the middle, a new mtime
            f.seek(start)
            f.write(new_id.encode())
        done = run_piper(ws.env(), "ingest")
        got = snapshot(ws)
        bad = self.clean(done) + differences(
            got, self.ref.snap, events=self.ref.snap.events | {new_id}
        )
        reported = any(f == rel for f, _ in got.anomalies) or rel in done.text
        if not reported:
            bad.append("rewrite not reported (no anomaly for the file)")
        where = "in" if new_id in got.events else "lost"
        observed = f"{done.brief()}; changed event at byte {start} of {len(data)}: {where}"
        return "; ".join([observed, *bad]), not bad

    def replaced_before_commit(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.fresh("05-replaced-before-commit")
        old, old_ids = events_file("fm-5o", 8000)
        new, new_ids = events_file("fm-5n", 8000)  # same size, other events
        rel = "aaa002/fmuser/2026-03-02_swap.jsonl"
        add_file(ws.raw, rel, old)
        target = ws.raw / rel
        p = Piper(ws.env(), "ingest")
        seen = wait_open(p, lambda path: path == str(target))
        if seen:  # copied over (a new inode) while the ingest reads the old one
            add_file(ws.raw, rel + ".tmp", new, mtime=time.time())
            os.replace(str(target) + ".tmp", target)
        first = p.finish()
        second = run_piper(ws.env(), "ingest")
        got = snapshot(ws)
        bad = self.clean(first) + self.clean(second)
        if not seen:
            bad.append("the ingest was never seen reading the file (attack missed)")
        bad += differences(got, self.ref.snap, events=self.ref.snap.events | old_ids | new_ids)
        observed = (
            f"{first.brief()}, then {second.brief()}; old content {len(old_ids & got.events)}"
            f"/{len(old_ids)}, new content {len(new_ids & got.events)}/{len(new_ids)} events in"
        )
        return "; ".join([observed, *bad]), not bad

    def shifted_invalid_lines(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.ingested("06-shifted-invalid-lines")
        by_file = self.ref.snap.quarantine_by_file
        rel = max(by_file, key=lambda f: (by_file[f], f))
        path = ws.raw / rel
        path.write_bytes(event_line("fm-6-000001") + path.read_bytes())  # every line number +1
        done = run_piper(ws.env(), "ingest")
        got = snapshot(ws)
        bad = self.clean(done) + differences(
            got, self.ref.snap, events=self.ref.snap.events | {"fm-6-000001"}
        )
        observed = (
            f"{done.brief()}; {by_file[rel]} invalid lines shifted by one:"
            f" quarantine {self.ref.snap.quarantine} -> {got.quarantine} rows"
        )
        return "; ".join([observed, *bad]), not bad

    def _unreachable(
        self, name: str, rel: str, mtime: float, named: str | None
    ) -> tuple[str, bool]:
        ws = self.ingested(name)
        data, ids = events_file("fm-" + name[:3], 20)
        add_file(ws.raw, rel, data, mtime=mtime)
        done = run_piper(ws.env(), "ingest")
        if rel not in snapshot(ws).spool_files:
            # "Settled once its size is stable": a second look (the next sensor tick) may read it.
            time.sleep(1.5)
            again = run_piper(ws.env(), "ingest")
            done = Done(
                again.rc, done.out + again.out, done.err + again.err, done.seconds + again.seconds,
                max(done.peak_rss, again.peak_rss),
            )  # fmt: skip
        return self.expect_ingested(ws, done, ids, named=named)

    def future_mtime(self) -> tuple[str, bool]:
        rel = "ws090/fmuser/2026-03-03_future.jsonl"
        return self._unreachable("07a-future-mtime", rel, time.time() + 86400, "future")

    def name_date_2099(self) -> tuple[str, bool]:
        rel = "ws090/fmuser/2099-01-01_far.jsonl"
        return self._unreachable("07b-name-2099", rel, ADDED_MTIME, None)

    def name_date_before_start(self) -> tuple[str, bool]:
        rel = "ws090/fmuser/2025-06-01_old.jsonl"
        return self._unreachable("07c-name-before-start", rel, ADDED_MTIME, None)

    def _repairs(self, ws: Workspace, first: Done, what: str) -> tuple[str, bool]:
        """After `first` was cut short: the next plain `piper ingest` (nothing new) repairs."""
        assert self.ref is not None
        after = snapshot(ws)
        left = (
            f"left: Parquet {after.parquet_rows} rows / {after.event_rows} events,"
            f" {len(after.staging)} staging paths"
        )
        rerun = run_piper(ws.env(), "ingest")
        bad = self.clean(rerun) + differences(snapshot(ws), self.ref.snap)
        observed = f"{what}: {first.brief()}; {left}; rerun {rerun.brief()}"
        return "; ".join([observed, *bad]), not bad

    def kill_during_export(self) -> tuple[str, bool]:
        ws = self.fresh("08a-kill-9-export")
        p = Piper(ws.env(), "ingest")
        seen = wait_open(p, lambda path: path.endswith(".parquet"))
        p.signal(signal.SIGKILL)
        first = p.finish()
        observed, ok = self._repairs(ws, first, "kill -9 with a Parquet file open")
        if not seen:
            return "export never seen (attack missed); " + observed, False
        return observed, ok

    def full_disk_during_export(self) -> tuple[str, bool]:
        ws = self.fresh("08b-full-disk-export")
        with tmpfs(ws.data, "64m"):
            p = Piper(ws.env(), "ingest")
            seen = wait_open(p, lambda path: path.endswith(".parquet"))
            filler = fill_disk(p, ws.data) if seen else None
            first = p.finish()
            if filler:
                filler.unlink()  # the operator frees space
            observed, ok = self._repairs(ws, first, "disk filled with a Parquet file open")
        if not seen:
            return "export never seen (attack missed); " + observed, False
        return observed, ok

    def _damaged(self, name: str, damage: Callable[[Path], str]) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.ingested(name)
        how = damage(ws.warehouse)
        done = run_piper(ws.env(), "ingest", timeout=20)
        bad = []
        if done.rc != 2 or "Traceback" in done.text or done.timed_out:
            bad.append("not exit 2 without a traceback")
        if done.seconds >= 10:
            bad.append(f"took {done.seconds:.0f} s (>= 10)")
        lines = [x for x in done.error_lines() if re.search("damag|corrupt", x, re.I)]
        if len(lines) != 1 or "runbook" not in lines[0]:
            bad.append("no one line saying it is damaged, with the runbook")
        # The runbook's rebuild: move it away, piper init, piper backfill.
        for suffix in ("", ".wal"):
            moved = Path(str(ws.warehouse) + suffix)
            if moved.exists():
                moved.rename(Path(str(moved) + ".damaged"))
        init = run_piper(ws.env(), "init")
        last = START.fromordinal(START.toordinal() + DAYS - 1)
        back = run_piper(ws.env(), "backfill", "--start", str(START), "--end", str(last))
        rebuilt = self.clean(init) + self.clean(back) + differences(snapshot(ws), self.ref.snap)
        if rebuilt:
            bad.append("rebuild: " + "; ".join(rebuilt))
        observed = f"{how}: {done.brief()} in {done.seconds:.1f} s; rebuild {back.brief()}"
        return "; ".join([observed, *bad]), not bad

    def corrupt_block(self) -> tuple[str, bool]:
        def damage(path: Path) -> str:
            size = path.stat().st_size
            with open(path, "r+b") as f:  # a few bytes in every 256 KiB block after the headers
                for block in range(12288, size, 262144):
                    f.seek(block + 100)
                    f.write(b"\xde\xad\xbe\xef" * 16)
            return f"garbage in every block of a {size // 1024} KiB warehouse"

        return self._damaged("09a-corrupt-block", damage)

    def truncated(self) -> tuple[str, bool]:
        def damage(path: Path) -> str:
            size = path.stat().st_size
            os.truncate(path, size // 3)
            return f"warehouse truncated {size // 1024} -> {size // 3 // 1024} KiB"

        return self._damaged("09b-truncated", damage)

    def full_disk_during_ingest(self) -> tuple[str, bool]:
        assert self.ref is not None
        ws = self.fresh("10-full-disk-ingest")
        with tmpfs(ws.data, "64m"):
            p = Piper(ws.env(), "ingest")
            raw = str(ws.raw) + "/"
            seen = wait_open(p, lambda path: path.startswith(raw) and path.endswith(".jsonl"))
            filler = fill_disk(p, ws.data) if seen else None
            first = p.finish()
            bad = self.clean(first, rc=2)
            said = [x for x in first.error_lines() if str(ws.data) in x and "free" in x]
            if len(said) != 1:
                bad.append("no one line naming the path and the free space")
            if not seen:
                bad.append("the ingest was never seen reading the spool (attack missed)")
            after = snapshot(ws)
            if after.error or not after.events <= self.ref.snap.events:
                bad.append(after.error or "events the reference does not have")
            if filler:
                filler.unlink()
            rerun = run_piper(ws.env(), "ingest")
            bad += ["rerun: " + x for x in self.clean(rerun)]
            bad += differences(snapshot(ws), self.ref.snap)
        observed = (
            f"{first.brief()}; {len(after.events)} events committed; after freeing, rerun"
            f" {rerun.brief()}"
        )
        return "; ".join([observed, *bad]), not bad

    def kill_in_phase(self, phase: str, sig: signal.Signals, seed: int) -> tuple[str, bool]:
        assert self.ref is not None
        trigger, end, window = self.ref.phases[phase]
        delay = random.Random(f"{seed}:{phase}:{sig.name}").uniform(0, window * 0.9)
        ws = self.fresh(f"11-{phase}-{sig.name}-{seed}")
        p = Piper(ws.env(), "--verbose", "ingest")
        at = p.wait_line(trigger)
        ended = False
        if at is not None:
            # The seeded point of the phase, or its end if this run is faster than the
            # reference was: a signal must land inside the phase, not after the process.
            while time.monotonic() - p.started < at + delay:
                if p.wait_line(end, timeout=0) is not None:
                    ended = True
                    break
                time.sleep(0.005)
            p.signal(sig)
        first = p.finish(timeout=60)
        if at is None:
            landed = "never reached"
        elif ended:
            landed = f"at the end of {phase} (its log line)"
        else:
            landed = f"{delay:.2f} s into {phase} ({window:.2f} s in the reference)"
        observed, ok = self._repairs(ws, first, f"{sig.name} {landed}")
        if first.rc == 0:  # a miss of the harness, not piper's: the rerun still judges
            observed = "the process ended before the signal; " + observed
        return observed, ok and at is not None


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    """A small file system of its own at `path` (root only), unmounted at the end."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs (run as root): {mount.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill_disk(p: Piper, where: Path) -> Path:
    """Stop the process, fill the file system of `where` to its last byte, let it go on."""
    p.signal(signal.SIGSTOP)
    filler = where / "filler.bin"
    try:
        with open(filler, "wb", buffering=0) as f:
            for chunk in (MIB, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * chunk)
    finally:
        p.signal(signal.SIGCONT)
    return filler


def rows(m: Matrix, seeds: list[int]) -> list[tuple[str, str, str, Callable[[], tuple[str, bool]]]]:
    """(name, attack, expected, run) of every row, in the issue's order."""
    same = "== reference"
    table: list[tuple[str, str, str, Callable[[], tuple[str, bool]]]] = [
        ("1-wide-line", "a 76 KB line with 6,000 unknown envelope fields, in the first file read",
         "exit 0; every other file read; the line in silver_events or quarantined", m.wide_line),
        ("2-ones", f"a file of {m.ones_lines:,} lines `1` (batch_bytes default)",
         f"all quarantined; peak RSS <= 1.25 x the ingest of {m.ones_lines // 10:,} valid events",
         m.ones_file),
        ("3a-symlink-loop", "a symlink loop named *.jsonl",
         f"exit 0, reported by name; {same}", m.symlink_loop),
        ("3b-non-utf8-name", "a file name that is not UTF-8",
         f"exit 0, reported; {same}", m.non_utf8_name),
        ("3c-non-utf8-host", "a host directory whose name is not UTF-8",
         f"exit 0, reported; {same}", m.non_utf8_host),
        ("3d-deleted-while-read", "the first file read is deleted while the ingest holds it open",
         "exit 0; the other files ingested; its events once at most", m.deleted_while_read),
        ("4-rewrite-middle", "same-size rewrite of an event in the middle of consumed bytes",
         "anomaly reported; the new event ingested once", m.rewrite_middle),
        ("5-replaced-before-commit",
         "a file replaced (same size, other events) while the ingest reads it",
         "after the next ingest: old and new events in, once", m.replaced_before_commit),
        ("6-shifted-invalid-lines", "a line prepended to a file with invalid lines",
         "quarantine counts each bad line once", m.shifted_invalid_lines),
        ("7a-future-mtime", "a file whose mtime is tomorrow",
         "ingested and reported", m.future_mtime),
        ("7b-name-2099", "a file named 2099-01-01_*.jsonl (events of this year)",
         "ingested", m.name_date_2099),
        ("7c-name-before-start", "a file named 2025-06-01_*.jsonl (before start_date)",
         "ingested", m.name_date_before_start),
        ("8a-kill-9-export", "kill -9 while the export holds a Parquet file open",
         f"next `piper ingest` (nothing new) repairs: {same}, no staging", m.kill_during_export),
        ("8b-full-disk-export", "data_root (tmpfs) filled up while the export writes Parquet",
         f"after freeing, next `piper ingest` repairs: {same}", m.full_disk_during_export),
        ("9a-corrupt-block", "garbage written into the warehouse's blocks",
         "exit 2 < 10 s, one line: damaged + runbook; move away, init, backfill == reference",
         m.corrupt_block),
        ("9b-truncated", "the warehouse file truncated to a third",
         "exit 2 < 10 s, one line: damaged + runbook; move away, init, backfill == reference",
         m.truncated),
        ("10-full-disk-ingest", "data_root (tmpfs) filled up once the ingest reads the spool",
         f"exit 2, one line with path and free space; after freeing, rerun {same}",
         m.full_disk_during_ingest),
    ]  # fmt: skip
    for seed in seeds:
        sig = signal.SIGKILL if seed % 2 else signal.SIGTERM
        for phase in ("ingest", "export", "silver", "gold"):
            table.append(
                (
                    f"11-{phase}-{'kill9' if sig == signal.SIGKILL else 'term'}-s{seed}",
                    f"{sig.name} at a random point of the {phase} phase (seed {seed})",
                    f"rerun {same}",
                    lambda phase=phase, sig=sig, seed=seed: m.kill_in_phase(phase, sig, seed),
                )
            )
    return table


def markdown(results: list[Row], header: str) -> str:
    out = [
        header,
        "",
        "| row | attack | expected | observed | result | s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        observed = r.observed if len(r.observed) <= 300 else r.observed[:299] + "…"
        cells = [r.name, r.attack, r.expected, observed, "PASS" if r.ok else "**FAIL**"]
        cells = [c.replace("|", "\\|").replace("\n", " ") for c in cells]
        out.append("| " + " | ".join(cells) + f" | {r.seconds:.0f} |")
    return "\n".join(out)


def commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/piper-fault-matrix"))
    parser.add_argument("--only", default="", help="comma-separated row name prefixes")
    parser.add_argument(
        "--seeds", default="1,2", help="random kills: one row per phase per seed (odd: kill -9)"
    )
    parser.add_argument("--ones-lines", type=int, default=500_000)
    parser.add_argument("--jobs", type=int, default=1, help="rows run side by side")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    began = time.monotonic()
    code = commit()  # what runs: the checkout as it is now
    work: Path = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    m = Matrix(work, args.ones_lines)
    m.build_base()
    ref = m.reference()
    print(
        f"reference: {len(ref.snap.events)} events, {ref.snap.quarantine} quarantined,"
        f" {ref.batches} batches, {ref.done.seconds:.1f} s; phases "
        + ", ".join(f"{k} {w:.2f} s" for k, (_, _, w) in ref.phases.items()),
        flush=True,
    )
    only = [x for x in args.only.split(",") if x]
    chosen = [
        r
        for r in rows(m, [int(s) for s in args.seeds.split(",") if s])
        if not only or any(r[0].startswith(x) for x in only)
    ]

    def run_row(spec: tuple[str, str, str, Callable[[], tuple[str, bool]]]) -> Row:
        name, attack, expected, run = spec
        row = Row(name, attack, expected)
        t = time.monotonic()
        try:
            row.observed, row.ok = run()
        except Exception as exc:  # a row that cannot run is a failed row, the others go on
            row.observed, row.ok = f"harness error: {type(exc).__name__}: {exc}", False
        row.seconds = time.monotonic() - t
        print(
            f"{'PASS' if row.ok else 'FAIL'} {row.name} ({row.seconds:.0f} s): {row.observed}",
            flush=True,
        )
        return row

    # Rows share nothing but the reference (read-only): they may run side by side.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_row, chosen))
    total = time.monotonic() - began
    passed = sum(r.ok for r in results)
    header = (
        f"Commit {code}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {passed}/{len(results)}"
        f" rows pass, {total:.0f} s (`--seeds {args.seeds} --ones-lines {args.ones_lines}"
        f" --jobs {args.jobs}`)."
    )
    print(header)
    if args.markdown:
        print(markdown(results, header))
    if args.json:
        args.json.write_text(
            json.dumps({"header": header, "rows": [asdict(r) for r in results]}, indent=1)
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
