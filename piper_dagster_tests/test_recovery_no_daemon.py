"""No daemon: whatever was killed, the next piper command finishes by itself; waits are said,
bounded and interruptible. Real `piper` processes on a real instance (tmp DAGSTER_HOME)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import (
    REPO_ROOT,
    mixed_spool,
    warehouse_locked,
    warehouse_snapshot,
)

pytestmark = pytest.mark.slow

TICKS = os.sysconf("SC_CLK_TCK")


class Piper:
    """A `piper` subprocess whose stderr is collected line by line as it comes."""

    def __init__(self, env: dict[str, str], *args: str, pause: str = "") -> None:
        self.paused = Path(env["PIPER_PATHS__DATA_ROOT"]).parent / f"paused-{time.time_ns()}"
        env = {**env, "PIPERTEST_PAUSE": pause, "PIPERTEST_PAUSED": str(self.paused)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "piper_dagster_tests.piper_child", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self.out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    def wait_for(self, what: str, timeout: float = 120) -> None:
        """Until the probe paused (what="paused") or stderr shows `what`; bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (what == "paused" and self.paused.exists()) or any(what in x for x in self.err):
                return
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.text()}"
            time.sleep(0.1)
        raise AssertionError(f"no {what!r} after {timeout} s: {self.text()}")

    def finish(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return rc

    def stop_with(self, sig: signal.Signals) -> tuple[int, float]:
        """Send `sig`; its exit code and how many seconds the process took to end."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.finish(timeout=30)
        return rc, time.monotonic() - sent

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime

    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish(timeout=30)


@contextmanager
def killed_at_exit(*procs: Piper) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            p.kill()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    raw = tmp_path / "spool"
    mixed_spool(raw)
    return {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
        "PIPER_INGEST__BATCH_BYTES": str(1 << 20),
    }


@contextmanager
def instance(env: dict[str, str]) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        yield inst


def _no_run_left_started(env: dict[str, str]) -> dict[str, dg.DagsterRunStatus]:
    with instance(env) as inst:
        runs = {r.run_id: r.status for r in inst.get_runs()}
        info = inst.event_log_storage.get_concurrency_info("duckdb")
    live = {dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.NOT_STARTED}
    assert not [r for r, s in runs.items() if s in live], runs
    assert info.claimed_slots == [] and info.pending_steps == [], info
    return runs


def _fully_read_dates(env: dict[str, str]) -> set[str]:
    """Spool dates whose every file the warehouse has read to its end."""
    raw = Path(env["PIPER_PATHS__RAW_ROOT"])
    sizes = {str(p.relative_to(raw)): p.stat().st_size for p in raw.rglob("*.jsonl")}
    con = duckdb.connect(env["PIPER_PATHS__DATA_ROOT"] + "/warehouse/telemetry.duckdb", True)
    try:
        rows = con.execute(
            "SELECT source_file, spool_date, offset_bytes FROM spool_files"
        ).fetchall()
    finally:
        con.close()
    read = {f: (d.isoformat(), off) for f, d, off in rows}
    days: dict[str, bool] = {}
    for f, size in sizes.items():
        day = "2026-03-" + f.split("2026-03-")[1][:2]
        done = f in read and read[f][1] == size
        days[day] = days.get(day, True) and done
    return {d for d, done in days.items() if done}


def test_kill_9_mid_ingest_then_ingest_finishes_by_itself_with_the_exact_result(
    tmp_path: Path, env: dict[str, str]
) -> None:
    clean = {
        **env,
        "PIPER_PATHS__DATA_ROOT": str(tmp_path / "clean"),
        "DAGSTER_HOME": str(tmp_path / "clean_home"),
    }
    began = time.monotonic()
    reference = Piper(clean, "ingest")
    assert reference.finish() == 0, reference.text()
    print(f"uninterrupted piper ingest: {time.monotonic() - began:.1f} s")
    expected = warehouse_snapshot(tmp_path / "clean")

    victim = Piper(env, "ingest", pause="after:8")
    with killed_at_exit(victim):
        victim.wait_for("paused")
        victim.proc.send_signal(signal.SIGKILL)
        victim.finish()
    committed = _fully_read_dates(env)
    assert committed, "the dead run should have read a whole spool date"

    started = time.monotonic()
    rerun = Piper(env, "ingest")
    with killed_at_exit(rerun):
        assert rerun.finish(timeout=240) == 0, rerun.text()
    seconds = time.monotonic() - started
    print(f"second piper ingest after kill -9: {seconds:.1f} s")  # reported in docs/runbook.md
    assert "released the pool slots of 1 dead run" in rerun.text()
    assert warehouse_snapshot(tmp_path / "data") == expected

    runs = _no_run_left_started(env)
    # The dead run, the rerun's spool run and its silver/gold refresh (the refresh ledger).
    assert sorted(s.value for s in runs.values()) == ["FAILURE", "SUCCESS", "SUCCESS"]
    # The partitions the dead run had committed show as materialized, not failed.
    with instance(env) as inst:
        for day in committed:
            records = inst.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("spool_events"), asset_partitions=[day]
                ),
                limit=1,
            ).records
            assert records, day
        # Named runs, tagged with the command, its dates, its process.
        jobs = {r.job_name: r for r in inst.get_runs() if r.status == dg.DagsterRunStatus.SUCCESS}
        assert sorted(jobs) == ["ingest_spool", "refresh_models"]
        run = jobs["ingest_spool"]
        assert run.tags["piper/command"] == "ingest" and "piper/pid" in run.tags


def test_a_sigterm_inside_a_duckdb_query_is_an_interrupt_not_a_failed_run(
    env: dict[str, str],
) -> None:
    """DuckDB turns the signal into its own error inside the step: still exit 130, and the
    command does not go on to refresh silver and gold as after a failed run."""
    busy = Piper(env, "ingest", pause="query")
    with killed_at_exit(busy):
        busy.wait_for("paused")
        time.sleep(0.5)  # inside the query
        rc, seconds = busy.stop_with(signal.SIGTERM)
    assert rc == 130 and seconds < 5, busy.text()
    assert "interrupted" in busy.text() and "Traceback" not in busy.text()
    with instance(env) as inst:
        assert [r.job_name for r in inst.get_runs()] == ["ingest_spool"]


def test_signals_end_a_waiting_ingest_within_5_s_and_a_wait_is_bounded(
    env: dict[str, str],
) -> None:
    holder = Piper(env, "ingest", pause="before")  # alive, holds the duckdb pool slot
    with killed_at_exit(holder):
        holder.wait_for("paused")
        for sig in (signal.SIGTERM, signal.SIGINT):
            waiter = Piper(env, "ingest")
            with killed_at_exit(waiter):
                waiter.wait_for("waiting for the duckdb pool slot held by run")
                cpu = waiter.cpu_seconds()
                time.sleep(4)
                assert waiter.cpu_seconds() - cpu < 0.8  # sleeps, no busy wait
                rc, seconds = waiter.stop_with(sig)
                assert seconds < 5, sig
            assert rc == 130, waiter.text()
            assert "interrupted" in waiter.text() and "Traceback" not in waiter.text()
            said = [x for x in waiter.err if "waiting for the duckdb pool" in x]
            assert len(said) == 1 and "ingest, pid" in said[0] and "since" in said[0], said
        # Only the holder's run is live; the waiters' runs ended and hold nothing.
        with instance(env) as inst:
            statuses = sorted(r.status.value for r in inst.get_runs())
            info = inst.event_log_storage.get_concurrency_info("duckdb")
        assert statuses.count("STARTED") == 1 and len(statuses) == 3, statuses
        holding = {c.run_id for c in info.claimed_slots}
        assert len(holding) == 1 and {p.run_id for p in info.pending_steps} == holding, info

        bounded = Piper({**env, "PIPER_DAGSTER__WAIT_SECONDS": "3"}, "ingest")
        with killed_at_exit(bounded):
            assert bounded.finish(timeout=60) == 2, bounded.text()
        last = bounded.err[-1]
        assert last.startswith("piper: gave up after 3 s waiting for the duckdb pool slot"), last
        assert "Traceback" not in bounded.text()
    # The holder killed too: nothing is left started once the next command ran.
    after = Piper(env, "ingest")
    with killed_at_exit(after):
        assert after.finish(timeout=240) == 0, after.text()
    _no_run_left_started(env)


def test_a_command_killed_while_waiting_is_recognised_dead_by_its_pid_tag(
    env: dict[str, str],
) -> None:
    holder = Piper(env, "ingest", pause="before")
    with killed_at_exit(holder):
        holder.wait_for("paused")  # (the instance is created: not by two processes at once)
        waiter = Piper(env, "ingest")
        with killed_at_exit(waiter):
            waiter.wait_for("waiting for the duckdb pool slot")
            waiter.proc.send_signal(signal.SIGKILL)  # its run never ran a step
            holder.proc.send_signal(signal.SIGKILL)
    rerun = Piper(env, "ingest")
    with killed_at_exit(rerun):
        assert rerun.finish(timeout=240) == 0, rerun.text()
    assert "released the pool slots of 2 dead run(s)" in rerun.text()
    runs = _no_run_left_started(env)
    # Two dead runs, then the rerun's spool run and its silver/gold refresh.
    assert sorted(s.value for s in runs.values()) == ["FAILURE", "FAILURE", "SUCCESS", "SUCCESS"]


def test_sigterm_ends_a_running_ingest_step_and_leaves_nothing_started(
    env: dict[str, str],
) -> None:
    busy = Piper(env, "ingest", pause="after:1")  # inside its step, holding slot and lock
    with killed_at_exit(busy):
        busy.wait_for("paused")
        rc, seconds = busy.stop_with(signal.SIGTERM)
        assert seconds < 5
    assert rc == 130, busy.text()
    assert "Traceback" not in busy.text()
    runs = _no_run_left_started(env)
    assert [s.value for s in runs.values()] in (["FAILURE"], ["CANCELED"])


@pytest.mark.parametrize("storage_is_local", [True, False])
def test_the_reaper_never_judges_a_live_pid_or_another_host(
    tmp_path: Path, storage_is_local: bool
) -> None:
    from piper_dagster.defs.keys import HOST_TAG, PID_TAG
    from piper_dagster.defs.runs import HOST, reap_dead_runs

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer exists
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as inst:
        cases = {
            "dead-here": {PID_TAG: str(gone.pid), HOST_TAG: HOST},
            "alive-here": {PID_TAG: str(os.getppid()), HOST_TAG: HOST},
            "dead-elsewhere": {PID_TAG: str(gone.pid), HOST_TAG: "another-host"},
            "untagged": {},  # a daemon run: judged from its engine event, here none
        }
        for name, tags in cases.items():
            inst.add_run(
                dg.DagsterRun(
                    job_name=name, run_id=name, status=dg.DagsterRunStatus.STARTED, tags=tags
                )
            )
        reaped = reap_dead_runs(inst, 0, trust_untagged=storage_is_local)
        assert reaped == ["dead-here"]
        statuses = {r.run_id: r.status.value for r in inst.get_runs()}
    assert statuses == {
        "dead-here": "FAILURE",
        "alive-here": "STARTED",
        "dead-elsewhere": "STARTED",
        "untagged": "STARTED",
    }


def test_sigterm_ends_a_command_waiting_for_the_warehouse_lock(env: dict[str, str]) -> None:
    first = Piper(env, "ingest")
    with killed_at_exit(first):
        assert first.finish(timeout=240) == 0, first.text()
    with warehouse_locked(Path(env["PIPER_PATHS__DATA_ROOT"]) / "warehouse" / "telemetry.duckdb"):
        waiter = Piper(env, "materialize")
        with killed_at_exit(waiter):
            waiter.wait_for("waiting for the warehouse lock since")
            rc, seconds = waiter.stop_with(signal.SIGTERM)
            assert seconds < 5
    assert rc == 130 and "Traceback" not in waiter.text(), waiter.text()


def test_a_spool_run_launched_elsewhere_names_its_process(piper_env: Settings) -> None:
    """A daemon's or the UI's run tags itself with its pid and host in its spool step: a piper
    command can judge it at once, and never from another host."""
    from piper_dagster.defs.runs import HOST
    from piper_dagster_tests.factories import defs

    generate_spool(piper_env.raw_root, GenerateOptions(start=date(2026, 3, 2), days=1, artists=2))
    with dg.DagsterInstance.get() as inst:
        result = dg.materialize(
            [defs().get_assets_def("spool_events")], instance=inst, partition_key="2026-03-02"
        )
        run = inst.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags["piper/pid"] == str(os.getpid()) and run.tags["piper/host"] == HOST
