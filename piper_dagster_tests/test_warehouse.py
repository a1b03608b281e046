"""The warehouse connection: what every writer relies on when it closes."""

from pathlib import Path

import pytest

from piper_dagster.warehouse import connect, transaction


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
