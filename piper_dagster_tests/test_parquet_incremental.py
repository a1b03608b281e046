"""silver_events' Parquet copy grows by new files (issue #14): an ingest never rewrites what an
earlier one exported, a kill -9 in the export or in a compaction is finished by the next run,
and the copy always holds each table row exactly once."""

from __future__ import annotations

import os
import signal
from datetime import date
from pathlib import Path

import duckdb
import pytest

from piper_dagster.defs.models import refresh_models
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.export import EVENTS, mark_pending, to_compact
from piper_dagster.ingest.run import ingest
from piper_dagster.models import SILVER_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import ev, piper_paused, run_piper, write_spool_file

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 3)


def _copy_and_table(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    """(event_id, event_date, event_type) of every Parquet row, and of every table row."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        copy = con.execute(
            "SELECT event_id, event_date, event_type FROM read_parquet("
            f"'{settings.silver_events_dir}/**/*.parquet', hive_partitioning = true) ORDER BY 1"
        ).fetchall()
        table = con.execute(
            "SELECT event_id, event_date, event_type FROM silver_events ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return copy, table


def _assert_exact(settings: Settings) -> None:
    """The Parquet copy holds every table row once: no duplicate event_id across files."""
    copy, table = _copy_and_table(settings)
    assert len(copy) == len({r[0] for r in copy})
    assert copy == table and table


def _files(settings: Settings) -> dict[Path, tuple[int, int]]:
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in settings.silver_events_dir.rglob("*.parquet")
    }


def _state(settings: Settings) -> tuple[int, int | None, int]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        (done, doing) = con.execute(
            "SELECT exported_seq, exporting_seq FROM export_state WHERE target = 'silver_events'"
        ).fetchone() or (None, None)
        (pending,) = con.execute("SELECT count(*) FROM export_pending").fetchone() or (0,)
    finally:
        con.close()
    return done, doing, pending


def _waiting(settings: Settings) -> list[tuple]:
    """What the spool sensor sees waiting for an export (it requests a run when any)."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(load_sql("ingest/export_waiting")).fetchall()
    finally:
        con.close()


def _spool(raw: Path) -> None:
    """Two days, every event type, in several files per spool date."""
    generate_spool(raw, GenerateOptions(start=FIRST, days=2, artists=3))


def _ingest_in_parts(settings: Settings) -> int:
    """Ingest two files at a time (one export each): several files per date and event type."""
    runs = 0
    while ingest(settings, limit=2).files_read:
        runs += 1
    return runs


def test_a_second_ingest_adds_files_and_leaves_the_exported_ones_untouched(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, "ws001/alice/2026-03-04_a.jsonl", b"".join(ev(n) for n in range(5)))
    ingest(piper_env)
    before = _files(piper_env)
    assert before and _state(piper_env)[:2] == (1, None)
    _assert_exact(piper_env)

    write_spool_file(raw, "ws001/alice/2026-03-04_b.jsonl", b"".join(ev(n) for n in range(5, 8)))
    result = ingest(piper_env)
    assert result.events == 3
    after = _files(piper_env)
    # The old files are the same files (inode, mtime): only new ones were written, named by
    # the ingest_seq range they hold.
    assert {p: after[p] for p in before} == before
    new = sorted(p.name for p in set(after) - set(before))
    assert new == ["part-2-0.parquet"]
    _assert_exact(piper_env)
    assert _state(piper_env) == (2, None, 0)


def test_an_ingest_that_adds_nothing_writes_no_file(piper_env: Settings) -> None:
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1) + ev(2))
    ingest(piper_env)
    before = _files(piper_env)
    # Only duplicates: no ingest_seq given out, nothing to export.
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_b.jsonl", ev(1))
    assert ingest(piper_env).duplicates == 1
    assert _files(piper_env) == before
    assert _state(piper_env) == (1, None, 0)


def test_an_older_warehouse_is_upgraded_in_place(piper_env: Settings) -> None:
    """Rows of a warehouse made before ingest_seq sort before every new commit's and count as
    exported (the older piper exported whole days); new rows are exported past them."""
    old = piper_env.warehouse_path
    old.parent.mkdir(parents=True)
    con = duckdb.connect(str(old))
    con.execute(
        "CREATE TABLE silver_events (event_id VARCHAR NOT NULL, event_type VARCHAR NOT NULL,"
        " schema_version VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, event_date DATE NOT NULL,"
        ' host VARCHAR NOT NULL, "user" VARCHAR NOT NULL, "show" VARCHAR NOT NULL,'
        " session_id VARCHAR, payload JSON NOT NULL, envelope_extra JSON,"
        " clock_skewed BOOLEAN NOT NULL, spool_date DATE NOT NULL, source_file VARCHAR NOT NULL,"
        " source_line BIGINT NOT NULL, ingested_at TIMESTAMPTZ NOT NULL, ingest_run_id VARCHAR)"
    )
    con.execute(
        "INSERT INTO silver_events VALUES ('evt-old', 'dcc.launch', '1.0', now(), '2026-03-01',"
        " 'ws001', 'alice', 'show', NULL, '{}', NULL, false, '2026-03-01', 'f', 1, now(), 'r')"
    )
    con.close()
    with connect(old) as con:
        assert con.execute("SELECT ingest_seq FROM silver_events").fetchall() == [(0,)]
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_a.jsonl", ev(1))
    ingest(piper_env)
    copy, _ = _copy_and_table(piper_env)
    assert [r[0] for r in copy] == ["evt-1"]  # only the new row: the old one was exported
    assert _state(piper_env) == (1, None, 0)


def test_the_silver_refresh_compacts_dates_with_many_files(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_INGEST__PARQUET_COMPACT_MIN_FILES", "2")
    settings = load_settings()
    _spool(settings.raw_root)
    assert _ingest_in_parts(settings) > 2
    dates = to_compact(settings, FIRST, LAST)
    assert dates
    _assert_exact(settings)

    refresh_models(settings, list(SILVER_MODELS), FIRST, LAST)
    _assert_exact(settings)
    assert _state(settings)[1:] == (None, 0)
    for d in dates:
        day = settings.silver_events_dir / f"event_date={d.isoformat()}"
        for kind in day.iterdir():
            assert [p.name for p in kind.iterdir()] == [f"compact-{_state(settings)[0]}-0.parquet"]
    assert to_compact(settings, FIRST, LAST) == []


def _env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(settings.raw_root),
        "PIPER_PATHS__DATA_ROOT": str(settings.data_root),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
        **extra,
    }


def test_a_kill_9_during_the_incremental_export_is_finished_exactly_by_the_next_run(
    piper_env: Settings, tmp_path: Path
) -> None:
    _spool(piper_env.raw_root)
    env = _env(piper_env, tmp_path)
    # A real `piper ingest`, killed -9 once 3 files of its range are in place.
    proc = piper_paused(env, "export:3", tmp_path / "paused", "ingest")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done, doing, _ = _state(piper_env)
    assert doing is not None and done < doing  # the range recorded before its files
    copy, table = _copy_and_table(piper_env)
    assert 0 < len(copy) < len(table)
    assert ("silver_events", None) in _waiting(piper_env)  # the sensor asks for a run

    again = run_piper(env, "ingest")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "exported what an earlier run left pending" in again.stdout
    _assert_exact(piper_env)
    assert _state(piper_env) == (doing, None, 0)
    assert _waiting(piper_env) == []
    # One file per date and event type, as an uninterrupted export writes.
    names = {p.name for p in piper_env.silver_events_dir.rglob("*.parquet")}
    assert names == {f"part-{doing}-0.parquet"}


def test_a_kill_9_during_a_compaction_is_finished_exactly_by_the_next_run(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIPER_INGEST__PARQUET_COMPACT_MIN_FILES", "2")
    settings = load_settings()
    _spool(settings.raw_root)
    _ingest_in_parts(settings)
    dates = to_compact(settings, FIRST, LAST)
    assert dates
    with connect(settings.warehouse_path) as con:
        mark_pending(con, EVENTS, dates)  # as the silver refresh does, in its own commit
    env = _env(settings, tmp_path, PIPER_INGEST__PARQUET_COMPACT_MIN_FILES="2")
    # `piper ingest` with nothing new finishes the pending compaction: killed -9 after moving
    # 2 compacted files in, before the files they replace are deleted.
    proc = piper_paused(env, "export:2", tmp_path / "paused", "ingest")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _state(settings)[2] == len(dates)  # still pending
    copy, table = _copy_and_table(settings)
    assert len(copy) >= len(table)  # the swap's window: some rows in both, none missing

    again = run_piper(env, "ingest")
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_exact(settings)
    upto, doing, pending = _state(settings)
    assert (doing, pending) == (None, 0)
    for d in dates:
        for kind in (settings.silver_events_dir / f"event_date={d.isoformat()}").iterdir():
            assert [p.name for p in kind.iterdir()] == [f"compact-{upto}-0.parquet"]
