"""The operator is told the truth: a damaged warehouse, a full disk: one line, exit 2, at once,
with the fix; and the fix works. Real `piper` processes, real DuckDB files, a real tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster_tests.factories import run_piper, warehouse_snapshot

pytestmark = pytest.mark.slow

HEADER = 3 * 4096  # DuckDB 1.5: the file header and two database headers precede block 0
BLOCK = 262144


def _env(tmp_path: Path, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(tmp_path / "spool"),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
    }


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The error: one line, the last on stderr (above it only the run's own narration: its
    address, progress, steps), exit 2, no traceback."""
    lines = proc.stderr.strip().splitlines()
    errors = [x for x in lines if x.startswith("piper:")]
    assert proc.returncode == 2 and errors == lines[-1:], (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr + proc.stdout and len(lines) <= 6, proc.stderr
    return lines[-1]


def _events(warehouse: Path) -> list[tuple[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT event_id FROM silver_events ORDER BY 1").fetchall()
    finally:
        con.close()


def _blocks(warehouse: Path, table: str) -> list[int]:
    """The file offsets of a table's data blocks (what a query of it must read)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0"
        ).fetchall()
    finally:
        con.close()
    return [HEADER + r[0] * BLOCK for r in rows]


def _overwrite(path: Path, offsets: list[int]) -> None:
    with open(path, "r+b") as f:
        for offset in offsets:
            f.seek(offset + 64)
            f.write(b"\xa5" * 4096)


def test_a_damaged_warehouse_is_one_line_at_once_and_the_runbook_rebuild_works(
    tmp_path: Path,
) -> None:
    generate_spool(tmp_path / "spool", GenerateOptions(start=date(2026, 3, 2), days=3, artists=6))
    data = tmp_path / "data"
    env = {**_env(tmp_path, data), "PIPER_DAGSTER__WAIT_SECONDS": "120"}
    first = run_piper(env, "ingest")
    assert first.returncode == 0, first.stderr[-3000:]
    warehouse = data / "warehouse" / "telemetry.duckdb"
    good = warehouse.read_bytes()
    expected = _events(warehouse)
    damages: dict[str, Callable[[], None]] = {
        # DuckDB finds it opening the file: "Corrupt database file ... in block at location"
        "a corrupt header block": lambda: _overwrite(warehouse, [8192 - 64]),
        # Found by the first query that reads the tables (the planner's, the checks')
        "corrupt data blocks": lambda: _overwrite(
            warehouse, _blocks(warehouse, "spool_files") + _blocks(warehouse, "silver_events")
        ),
        "a truncated file": lambda: os.truncate(warehouse, len(good) // 2),
    }
    for what, damage in damages.items():
        warehouse.write_bytes(good)
        damage()
        for command in ("doctor", "ingest"):
            # Bounded well under dagster.wait_seconds: no lock wait before the verdict.
            line = _one_line(run_piper(env, command, timeout=90))
            assert line.startswith(f"piper: the warehouse {warehouse} is damaged"), (what, line)
            assert "docs/runbook.md#the-warehouse-is-damaged" in line, line

    # The runbook's rebuild: move it away, `piper init`, `piper backfill` over the spool dates.
    warehouse.rename(tmp_path / "damaged.duckdb")
    assert run_piper(env, "init").returncode == 0
    rebuilt = run_piper(env, "backfill", "--start", "2026-03-02", "--end", "2026-03-04")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert _events(warehouse) == expected


def test_a_full_disk_is_one_line_and_the_rerun_gives_the_uninterrupted_result(
    tmp_path: Path,
) -> None:
    generate_spool(
        tmp_path / "spool",
        GenerateOptions(
            start=date(2026, 3, 2), days=3, artists=20, damage=frozenset({"invalid_json"})
        ),
    )
    reference = tmp_path / "reference"
    clean = run_piper(_env(tmp_path, reference), "ingest")
    assert clean.returncode == 0, clean.stderr[-3000:]
    expected = warehouse_snapshot(reference)

    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(data)], check=True)
    try:
        env = _env(tmp_path, data)
        line = _one_line(run_piper(env, "ingest"))
        assert line.startswith("piper: the disk is full: could not write"), line
        assert str(data) in line and " free of 4.0 MiB" in line, line
        assert "docs/runbook.md#the-disk-is-full" in line

        # Nothing partial: what is committed is whole batches (events = the batches' sum).
        subprocess.run(["mount", "-o", "remount,size=64m", str(data)], check=True)
        con = duckdb.connect(str(data / "warehouse" / "telemetry.duckdb"), read_only=True)
        try:
            events, batches = con.execute(
                "SELECT (SELECT count(*) FROM silver_events),"
                " (SELECT coalesce(sum(events), 0) FROM ingest_batches)"
            ).fetchone()
        finally:
            con.close()
        assert events == batches

        # Space freed: the rerun gives exactly what an uninterrupted run gave.
        rerun = run_piper(env, "ingest")
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert warehouse_snapshot(data) == expected
        assert not [p for p in (data / ".staging").rglob("*") if p.is_file()]
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
