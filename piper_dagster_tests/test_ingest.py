"""The ingest core on real files and a real warehouse: growth, damage, dedupe, skew, rewrites."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from piper_dagster.contract import MAX_LINE_BYTES
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import SETTLED_MTIME, ev, write_spool_file

F = "ws001/alice/2026-03-04_maya-1.jsonl"


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_growing_file_reads_only_new_complete_lines(piper_env: Settings, warehouse) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, F, ev(1) + ev(2) + ev(3)[:40])  # an emitter crashed mid-line
    r1 = ingest(piper_env)
    assert (r1.events, r1.invalid) == (2, 0)
    # The tail is completed later, and more is appended after a pause.
    write_spool_file(raw, F, ev(3)[40:] + ev(4), append=True, mtime=SETTLED_MTIME + 60)
    r2 = ingest(piper_env)
    assert (r2.events, r2.invalid, r2.plan_summary.split(",")[1].strip()) == (2, 0, "1 grown")
    r3 = ingest(piper_env)
    assert r3.events == 0 and "1 unchanged" in r3.plan_summary
    with warehouse() as con:
        rows = con.execute("SELECT event_id, source_line FROM silver_events ORDER BY 2").fetchall()
    assert rows == [("evt-1", 1), ("evt-2", 2), ("evt-3", 3), ("evt-4", 4)]


def test_unsettled_files_wait(piper_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "120")
    from piper_dagster.settings import load_settings

    settings = load_settings()
    write_spool_file(settings.raw_root, F, ev(1), mtime=time.time())
    r = ingest(settings)
    assert r.events == 0 and "1 waiting to settle" in r.plan_summary


def test_crlf_blank_nul_and_long_lines(piper_env: Settings, warehouse) -> None:
    too_long = b'{"x": "' + b"a" * MAX_LINE_BYTES + b'"}\n'
    data = (
        ev(1).replace(b"\n", b"\r\n")
        + b"   \t\n"
        + b"\n"
        + b"\x00" * 5000
        + b"\n"
        + b"\x00\x00"
        + ev(2)  # a NUL run before an intact line: the line survives
        + ev(3)[:30]
        + b"\x00" * 100
        + ev(4)  # lost data: the truncated start is glued to the next line
        + too_long
        + b"\x00" * (3 << 20)  # a NUL run longer than a read batch, then its newline
        + b"\n"
        + ev(5)
    )
    write_spool_file(piper_env.raw_root, F, data)
    r = ingest(piper_env)
    assert r.events == 3  # evt-1, evt-2, evt-5
    assert r.blank_lines == 2
    assert r.nul_padding_lines == 2
    assert dict(r.invalid_by_reason) == {"invalid_json": 1, "line_too_long": 1}
    assert r.lines == 9
    with warehouse() as con:
        q = con.execute(
            "SELECT reason, source_line, raw_length, raw_bytes IS NULL, length(raw_line)"
            " FROM quarantine ORDER BY source_line"
        ).fetchall()
        lines = con.execute("SELECT event_id, source_line FROM silver_events ORDER BY 2").fetchall()
    assert lines == [("evt-1", 1), ("evt-2", 5), ("evt-5", 9)]
    assert q[0][:2] == ("invalid_json", 6)
    assert q[1][:4] == ("line_too_long", 7, len(too_long) - 1, True) and q[1][4] <= 4096


def test_a_line_longer_than_a_batch_is_streamed(piper_env: Settings) -> None:
    huge = b'{"x": "' + b"b" * (3 << 20) + b'"}\n'
    write_spool_file(piper_env.raw_root, F, ev(1) + huge + ev(2))
    r = ingest(piper_env)
    assert r.events == 2 and dict(r.invalid_by_reason) == {"line_too_long": 1}


def test_invalid_utf8_is_escaped_in_quarantine(piper_env: Settings, warehouse) -> None:
    write_spool_file(piper_env.raw_root, F, ev(1).replace(b"maya", b"m\xffya"))
    ingest(piper_env)
    with warehouse() as con:
        reason, raw_line, raw_bytes = con.execute(
            "SELECT reason, raw_line, raw_bytes FROM quarantine"
        ).fetchone()
    assert reason == "invalid_utf8"
    assert "m\\xffya" in raw_line
    assert raw_bytes == ev(1).replace(b"maya", b"m\xffya")[:-1]


def test_resent_events_count_once_across_files_and_runs(piper_env: Settings, warehouse) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, F, ev(1) + ev(2) + ev(1))
    write_spool_file(raw, "ws002/bob/2026-03-04_x.jsonl", ev(2) + ev(3))
    r1 = ingest(piper_env)
    assert (r1.events, r1.duplicates) == (3, 2)
    write_spool_file(raw, "ws002/bob/2026-03-05_y.jsonl", ev(3) + ev(4))
    r2 = ingest(piper_env)
    assert (r2.events, r2.duplicates) == (1, 1)
    with warehouse() as con:
        assert count(con, "SELECT count(*) FROM silver_events") == 4
        # The first copy ingested is kept.
        assert con.execute(
            "SELECT source_file, source_line FROM silver_events WHERE event_id = 'evt-2'"
        ).fetchone() == (F, 2)


def test_invalid_line_with_known_event_id_is_still_quarantined(piper_env: Settings) -> None:
    bad = ev(1).replace(b'"duration_ms": 1', b'"duration_ms": -1')
    write_spool_file(piper_env.raw_root, F, ev(1) + bad)
    r = ingest(piper_env)
    assert r.events == 1 and dict(r.invalid_by_reason) == {"invalid_value": 1}


def test_clock_skew_flags_and_reassigns_the_event_date(piper_env: Settings, warehouse) -> None:
    mtime = datetime(2026, 3, 4, 18, 0, tzinfo=UTC).timestamp()
    data = (
        ev(1, "2026-03-04T17:00:00Z")  # fine
        + ev(2, "2026-03-04T18:04:00Z")  # within the 5 min tolerance
        + ev(3, "2026-03-04T18:06:00Z")  # after the file's last write: skewed
        + ev(4, "2026-03-03T01:00:00Z")  # the day before (a session across midnight): fine
        + ev(5, "2019-06-01T00:00:00Z")  # a dead clock battery: skewed
    )
    write_spool_file(piper_env.raw_root, F, data, mtime=mtime)
    r = ingest(piper_env)
    assert r.skewed == 2
    assert r.event_dates == {date(2026, 3, 4), date(2026, 3, 3)}
    with warehouse() as con:
        rows = con.execute(
            "SELECT event_id, clock_skewed, event_date::VARCHAR FROM silver_events ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("evt-1", False, "2026-03-04"),
        ("evt-2", False, "2026-03-04"),
        ("evt-3", True, "2026-03-04"),
        ("evt-4", False, "2026-03-03"),
        ("evt-5", True, "2026-03-04"),
    ]


def test_rewritten_or_shrunk_file_is_reported_and_not_double_counted(
    piper_env: Settings, warehouse
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, F, ev(1) + ev(2) + ev(3))
    assert ingest(piper_env).events == 3
    # Restored from a backup: shorter, and a different event appears.
    write_spool_file(raw, F, ev(1) + ev(9), mtime=SETTLED_MTIME + 10)
    r = ingest(piper_env)
    assert [a["kind"] for a in r.anomalies] == ["shrunk"]
    assert (r.events, r.duplicates) == (1, 1)
    # Same size, changed bytes.
    write_spool_file(raw, F, ev(1) + ev(8), mtime=SETTLED_MTIME + 20)
    r = ingest(piper_env)
    assert [a["kind"] for a in r.anomalies] == ["rewritten"]
    assert (r.events, r.duplicates) == (1, 1)
    with warehouse() as con:
        assert count(con, "SELECT count(*) FROM silver_events") == 5
        assert count(con, "SELECT count(*) FROM spool_anomalies") == 2
        assert count(con, "SELECT generation FROM spool_files") == 2


def test_spool_discovery_rules(piper_env: Settings, warehouse) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, "ws001/alice/notes.jsonl.tmp", ev(1))
    write_spool_file(raw, "ws001/alice/.nfs0001", ev(2))
    write_spool_file(raw, "ws001/alice/.session.jsonl.swp", ev(3))
    mtime = datetime(2026, 3, 6, 12, tzinfo=UTC).timestamp()
    write_spool_file(raw, "ws001/alice/session-42.jsonl", ev(4), mtime=mtime)  # no date prefix
    write_spool_file(raw, "ws001/alice/2026-02-30_bad.jsonl", ev(5), mtime=mtime)  # not a date
    r = ingest(piper_env)
    assert r.events == 2 and r.files_seen == 2
    with warehouse() as con:
        dates = con.execute("SELECT DISTINCT spool_date::VARCHAR FROM spool_files").fetchall()
    assert dates == [("2026-03-06",)]


def test_deleting_a_spool_file_keeps_its_events(piper_env: Settings, warehouse) -> None:
    path = write_spool_file(piper_env.raw_root, F, ev(1))
    ingest(piper_env)
    path.unlink()
    ingest(piper_env)
    with warehouse() as con:
        assert count(con, "SELECT count(*) FROM silver_events") == 1


def test_parquet_and_quarantine_files_match_the_tables(piper_env: Settings, warehouse) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, F, ev(1) + ev(2, "2026-03-03T23:00:00Z") + b"{oops\n")
    ingest(piper_env)
    write_spool_file(raw, F, ev(3) + b"[]\n", append=True, mtime=SETTLED_MTIME + 5)
    ingest(piper_env)
    silver = piper_env.silver_events_dir
    assert sorted(p.name for p in silver.iterdir()) == [
        "event_date=2026-03-03",
        "event_date=2026-03-04",
    ]
    with warehouse() as con:
        from_parquet = con.execute(
            f"SELECT event_id, event_type, event_date FROM read_parquet('{silver}/**/*.parquet',"
            " hive_partitioning = true) ORDER BY 1"
        ).fetchall()
        from_table = con.execute(
            "SELECT event_id, event_type, event_date FROM silver_events ORDER BY 1"
        ).fetchall()
        assert count(con, "SELECT count(*) FROM export_pending") == 0
    assert from_parquet == from_table and len(from_table) == 3
    qfile = piper_env.quarantine_dir / "2026-03-04" / "quarantine.jsonl"
    records = [json.loads(line) for line in qfile.read_text().splitlines()]
    assert [(r["reason"], r["source_line"]) for r in records] == [
        ("invalid_json", 3),
        ("not_an_object", 5),
    ]
    import base64

    assert base64.b64decode(records[0]["raw_base64"]) == b"{oops"


def test_rerun_from_zero_is_exact(piper_env: Settings, warehouse) -> None:
    write_spool_file(piper_env.raw_root, F, ev(1) + b"not json\n" + ev(2))
    ingest(piper_env)
    r = ingest(piper_env, reread=True)
    # The bad line re-read is already quarantined: a duplicate, like the two re-read events.
    assert (r.events, r.duplicates, r.invalid) == (0, 3, 0)
    with warehouse() as con:
        assert count(con, "SELECT count(*) FROM silver_events") == 2
        assert count(con, "SELECT count(*) FROM quarantine") == 1


def test_bad_settings_give_one_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piper_dagster.settings import ConfigError, load_settings

    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(tmp_path / "missing"))
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(tmp_path / "data"))
    with pytest.raises(ConfigError, match=r"spool directory .*missing does not exist"):
        load_settings().require_raw_root()
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(blocker / "data"))
    with pytest.raises(ConfigError, match="not writable"):
        load_settings().require_data_root()
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "-1")
    with pytest.raises(ConfigError, match=r"ingest\.settle_seconds"):
        load_settings()


def test_parquet_export_covers_many_dates_in_bounded_copies(piper_env: Settings, warehouse) -> None:
    import duckdb

    from piper_dagster.ingest.export import max_open_files

    # More dates than one COPY takes (one partition per date and event type here).
    days = max_open_files(duckdb.connect()) + 3
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    data = b"".join(
        ev(i, (start + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ")) for i in range(days)
    )
    # A long session: a file opened on Jan 1st, written until after the last event (no skew).
    mtime = (start + timedelta(days=days)).timestamp()
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-01-01_s.jsonl", data, mtime=mtime)
    result = ingest(piper_env)
    assert (result.events, result.skewed) == (days, 0)
    exported = sorted(p.name for p in piper_env.silver_events_dir.iterdir())
    assert len(exported) == days
    with warehouse() as con:
        n = con.execute(
            f"SELECT count(*) FROM read_parquet('{piper_env.silver_events_dir}/**/*.parquet')"
        ).fetchone()
    assert n == (days,)
