"""The warehouse connection: what every writer relies on when it closes."""

import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings
from piper_dagster.warehouse import (
    STORAGE_VERSION,
    connect,
    storage_version,
    transaction,
    upgrade_storage,
)
from piper_dagster_tests.factories import ev, mixed_spool, write_spool_file

runner = CliRunner()


def test_closing_while_another_connection_of_the_process_writes_keeps_both(
    tmp_path: Path,
) -> None:
    """Two threads of one process share the database: CHECKPOINT at close must not fail one."""
    path = tmp_path / "telemetry.duckdb"
    with connect(path) as first:
        first.execute("CREATE TABLE t (x INTEGER)")
    with connect(path) as other:
        other.execute("BEGIN")
        other.execute("CREATE TABLE u (x INTEGER)")  # DDL (the schema, macros) blocks it
        other.execute("INSERT INTO t VALUES (2)")
        with connect(path) as closing:  # its CHECKPOINT meets the open write transaction
            closing.execute("INSERT INTO t VALUES (1)")
        other.execute("COMMIT")
    # The last connection out checkpointed: one self-contained file, both rows.
    assert not Path(f"{path}.wal").exists()
    with connect(path, read_only=True) as reader:
        assert reader.execute("SELECT list(x ORDER BY x) FROM t").fetchone() == ([1, 2],)


def test_a_transaction_commits_its_block_or_nothing(tmp_path: Path) -> None:
    """Committed at the block's end; rolled back on anything raised (Ctrl-C too), or always
    with commit=False (a dry run)."""
    path = tmp_path / "telemetry.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        with transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(KeyboardInterrupt), transaction(con):
            con.execute("INSERT INTO t VALUES (2)")
            raise KeyboardInterrupt
        with transaction(con, commit=False):
            con.execute("INSERT INTO t VALUES (3)")
            assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)  # sees its own
    with connect(path, read_only=True) as reader:
        assert reader.execute("SELECT list(x) FROM t").fetchone() == ([1],)


def _in_old_format(path: Path) -> None:
    """Rewrite the warehouse at `path` as a piper before the pinned storage format made it."""
    old = path.with_name("old.duckdb")
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS w (READ_ONLY)")
    con.execute(f"ATTACH '{old}' AS o (STORAGE_VERSION 'v1.0.0')")
    con.execute("COPY FROM DATABASE w TO o")
    con.close()
    old.replace(path)


def _contents(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {t: sorted(map(repr, con.execute(f"FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


def test_a_new_warehouse_is_written_in_the_pinned_storage_format(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.duckdb"
    with connect(path) as con:
        assert storage_version(con).startswith(STORAGE_VERSION)


def test_piper_init_upgrades_an_old_warehouse_keeping_every_row(
    piper_env: Settings, tmp_path: Path
) -> None:
    raw = piper_env.raw_root
    mixed_spool(raw)
    ingest(piper_env)
    path = piper_env.warehouse_path
    _in_old_format(path)
    out = runner.invoke(app, ["init"])  # publishes too: its tables are part of what is kept
    assert out.exit_code == 0, out.output
    assert "storage v1.0.0" in out.output and "piper init --upgrade-storage" in out.output
    before = _contents(path)

    out = runner.invoke(app, ["init", "--upgrade-storage"])
    assert out.exit_code == 0, out.output
    assert "upgraded v1.0.0+ -> v1.5.0+" in out.output
    assert _contents(path) == before and before["silver_events"]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no WAL, no copy left
    with connect(path) as con:
        assert storage_version(con).startswith(STORAGE_VERSION)
    assert upgrade_storage(path) is None  # once
    # The warehouse goes on: the same spool again adds nothing, a new event is ingested once.
    write_spool_file(raw, "ws001/u1/2026-03-05_new.jsonl", ev(999_999))
    assert ingest(piper_env).events == 1


@pytest.mark.parametrize("crash", ["before-rename", "after-rename"])
def test_a_storage_upgrade_killed_leaves_a_warehouse_that_upgrades_on_rerun(
    piper_env: Settings, crash: str
) -> None:
    mixed_spool(piper_env.raw_root)
    ingest(piper_env)
    path = piper_env.warehouse_path
    _in_old_format(path)
    before = _contents(path)
    # The child dies (SIGKILL) right before, or right after, the copy is renamed into place.
    child = f"""
import os, pathlib, signal
from piper_dagster.warehouse import upgrade_storage
real = pathlib.Path.replace
def replace(self, target):
    if "{crash}" == "after-rename":
        real(self, target)
    os.kill(os.getpid(), signal.SIGKILL)
pathlib.Path.replace = replace
upgrade_storage(pathlib.Path({str(path)!r}))
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _contents(path) == before
    upgraded = upgrade_storage(path)
    assert (upgraded is None) == (crash == "after-rename")
    assert _contents(path) == before
    with connect(path, read_only=True) as con:
        assert storage_version(con).startswith(STORAGE_VERSION)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
