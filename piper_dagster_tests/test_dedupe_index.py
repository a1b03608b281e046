"""The dedupe index (event_ids): the global probe stays exact through ingests, replays, crashes
and warehouses made before it (design.md, "Dedupe")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb
import pytest

from piper_dagster.ingest.run import ingest
from piper_dagster.quarantine import replay
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import (
    REPO_ROOT,
    SETTLED_MTIME,
    ev,
    mixed_spool_env,
    piper_paused,
    quarantined_by_an_old_contract,
    run_piper,
    warehouse_snapshot,
    write_spool_file,
)

# The last commit whose code knows no event_ids: its warehouses are the ones to upgrade.
BEFORE_THE_INDEX = "c983b65"


def _index_state(path: Path) -> tuple[int, int, int]:
    """(silver_events rows, event_ids rows, silver_events rows whose hash is not in event_ids)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM silver_events), (SELECT count(*) FROM event_ids),"
            " (SELECT count(*) FROM silver_events"
            "  WHERE md5_number(event_id) NOT IN (SELECT id_hash FROM event_ids))"
        ).fetchone()  # type: ignore[return-value]
    finally:
        con.close()


def _old_piper(tree: Path) -> Path:
    """The package as it was before the index, extracted from git into `tree`."""
    archive = tree.parent / "old.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "archive", BEFORE_THE_INDEX, "piper_dagster"],
            cwd=REPO_ROOT,
            stdout=out,
            check=True,
            timeout=60,
        )
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def test_a_warehouse_made_by_the_old_code_gets_its_index_and_dedupes_against_it(
    piper_env: Settings, tmp_path: Path
) -> None:
    raw = piper_env.paths.raw_root
    write_spool_file(raw, "ws001/a/2026-03-03_x.jsonl", b"".join(ev(n) for n in range(1, 301)))
    old = _old_piper(tmp_path / "old")
    # The old code ingests, in its own process (its package first on sys.path: the cwd).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import piper_dagster, sys; assert piper_dagster.__file__.startswith(sys.argv[1]);"
            " from piper_dagster.ingest.run import ingest;"
            " from piper_dagster.settings import load_settings; ingest(load_settings())",
            str(old),
        ],
        cwd=old,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    con = duckdb.connect(str(piper_env.warehouse_path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "silver_events" in tables and "event_ids" not in tables

    # A later file re-sends 100 of those events (another file, another day) and adds 50 new.
    resent = b"".join(ev(n, "2026-03-04T09:00:00Z") for n in range(201, 351))
    write_spool_file(raw, "ws002/b/2026-03-04_y.jsonl", resent, mtime=SETTLED_MTIME + 1)
    result = ingest(load_settings())
    assert (result.events, result.duplicates) == (50, 100)
    assert _index_state(piper_env.warehouse_path) == (350, 350, 0)


def test_a_replayed_event_enters_the_index_and_a_later_copy_is_a_duplicate(
    piper_env: Settings,
) -> None:
    lines = [ev(n, "2026-03-03T10:00:00Z").rstrip(b"\n") for n in range(1, 11)]
    quarantined_by_an_old_contract(piper_env, lines, "unknown_event_type", "2026-03-03")
    assert replay(piper_env).events == 10
    assert _index_state(piper_env.warehouse_path) == (10, 10, 0)
    write_spool_file(piper_env.paths.raw_root, "ws001/a/2026-03-04_z.jsonl", ev(3) + ev(11))
    result = ingest(load_settings())
    assert (result.events, result.duplicates) == (1, 1)
    assert _index_state(piper_env.warehouse_path) == (11, 11, 0)


@pytest.mark.slow
def test_kill_9_mid_ingest_then_rerun_keeps_the_index_exact(tmp_path: Path) -> None:
    base = mixed_spool_env(tmp_path / "spool")
    clean = {**base, "PIPER_PATHS__DATA_ROOT": str(tmp_path / "clean")}
    assert run_piper({**clean, "DAGSTER_HOME": str(tmp_path / "h1")}, "ingest").returncode == 0
    expected = warehouse_snapshot(tmp_path / "clean")
    events = len(expected["events"])  # type: ignore[arg-type]
    assert events > 10_000

    env = {
        **base,
        "PIPER_PATHS__DATA_ROOT": str(tmp_path / "crashy"),
        "DAGSTER_HOME": str(tmp_path / "h2"),
    }
    warehouse = tmp_path / "crashy" / "warehouse" / "telemetry.duckdb"
    # Killed inside the 2nd batch's transaction (its events and their hashes written, not
    # committed): one batch committed, with its hashes and nothing more.
    child = subprocess.run(
        [sys.executable, "-m", "piper_dagster_tests.crash_child", "in-batch", "2"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    first = _index_state(warehouse)
    assert 0 < first[0] < events and first == (first[0], first[0], 0)
    # A real `piper ingest`, killed -9 right after its 3rd batch committed.
    proc = piper_paused(env, "after:3", tmp_path / "paused", "ingest")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    second = _index_state(warehouse)
    assert first[0] < second[0] < events and second == (second[0], second[0], 0)

    again = run_piper(env, "ingest")
    assert again.returncode == 0, again.stderr[-3000:]
    got = warehouse_snapshot(tmp_path / "crashy")
    for key in expected:
        assert got[key] == expected[key], key
    assert _index_state(warehouse) == (events, events, 0)
