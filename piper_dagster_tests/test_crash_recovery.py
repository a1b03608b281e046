"""kill -9 at any point, then a rerun, gives exactly the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import load_settings
from piper_dagster_tests.factories import (
    REPO_ROOT,
    SETTLED_MTIME,
    ev,
    mixed_spool_env,
    warehouse_snapshot,
    write_spool_file,
)

pytestmark = pytest.mark.slow


def _child(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "piper_dagster_tests.crash_child", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_at_several_points_then_rerun_is_exact(tmp_path: Path) -> None:
    base = mixed_spool_env(tmp_path / "spool")

    # The uninterrupted run.
    clean_env = {**base, "PIPER_PATHS__DATA_ROOT": str(tmp_path / "clean")}
    os.environ.update({k: clean_env[k] for k in clean_env if k.startswith("PIPER_")})
    try:
        reference = ingest(load_settings())
    finally:
        for k in clean_env:
            if k.startswith("PIPER_"):
                os.environ.pop(k, None)
    assert reference.batches >= 5 and reference.duplicates > 0 and reference.invalid > 0
    expected = warehouse_snapshot(tmp_path / "clean")

    # The same spool, killed over and over at chosen points, then finished.
    env = {**base, "PIPER_PATHS__DATA_ROOT": str(tmp_path / "crashy")}
    kills = [("in-batch", "1"), ("after-batch", "2"), ("in-batch", "2"), ("in-export", "3")]
    for mode, n in kills:
        proc = _child(env, mode, n)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, (mode, n, err.decode()[-2000:])
    # And by the clock, wherever it lands.
    for delay in (0.5, 1.0, 1.5):
        proc = _child(env, "none")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    proc = _child(env, "none")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]

    got = warehouse_snapshot(tmp_path / "crashy")
    for key in expected:
        assert got[key] == expected[key], key
    assert got["pending"] == (0,)


def test_an_appended_file_after_a_crash_is_read_once(tmp_path: Path) -> None:
    raw = tmp_path / "spool"
    f = "ws001/a/2026-03-04_x.jsonl"
    write_spool_file(raw, f, ev(1) + ev(2))
    env = {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(tmp_path / "data"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
    }
    proc = _child(env, "in-batch", "1")
    proc.communicate(timeout=120)
    write_spool_file(raw, f, ev(3), append=True, mtime=SETTLED_MTIME + 1)
    assert _child(env, "none").wait(timeout=120) == 0
    con = duckdb.connect(str(tmp_path / "data/warehouse/telemetry.duckdb"), read_only=True)
    rows = con.execute("SELECT event_id, source_line FROM silver_events ORDER BY 2").fetchall()
    assert rows == [("evt-1", 1), ("evt-2", 2), ("evt-3", 3)]
    json.dumps(rows)


def test_the_ledger_keeps_the_event_dates_the_dead_run_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The late-data sensor and the CLI refresh silver and gold for the event dates in the
    refresh ledger: after a crash those include the dates of the batches the dead run committed,
    and they stay there until a refresh rebuilt them (not until some run reported them)."""
    raw = tmp_path / "spool"
    # Several event dates, read oldest spool date first: the first batches hold the first day.
    generate_spool(raw, GenerateOptions(start=date(2026, 3, 2), days=3, artists=40))
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(raw))
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "0")
    monkeypatch.setenv("PIPER_INGEST__BATCH_BYTES", str(1 << 20))
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(tmp_path / "clean"))
    reference = ingest(load_settings())

    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(tmp_path / "crashy"))
    settings = load_settings()

    def die(batch_no: int) -> None:
        if batch_no == 2:
            raise KeyboardInterrupt  # after the second batch's commit, before the export

    with pytest.raises(KeyboardInterrupt):
        ingest(settings, after_batch=die)
    rerun = ingest(settings)
    assert rerun.batches < reference.batches  # the rerun read only the rest
    assert len(reference.event_dates) >= 3
    assert rerun.event_dates < reference.event_dates  # it added events to fewer dates ...
    assert rerun.refresh_pending == sorted(reference.event_dates)  # ... but all of them wait
    assert reference.refresh_pending == sorted(reference.event_dates)
    assert ingest(settings).refresh_pending == sorted(reference.event_dates)  # until a refresh
