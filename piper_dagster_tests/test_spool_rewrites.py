"""Issue #13 items 4, 5 and 3b: what happened to a spool file's bytes between two reads, or
between a read and its commit, is found out; nothing read is lost or counted twice.

Real spool files, a real warehouse, the real ingest (and its batch functions where the moment
matters: a file replaced or deleted after its read, before its commit).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import xxhash

from piper_dagster.contract import MAX_LINE_BYTES
from piper_dagster.contract.models import UTF8_BOM
from piper_dagster.ingest.batch import write_batch
from piper_dagster.ingest.framing import iter_batches
from piper_dagster.ingest.run import IngestProgress, ingest
from piper_dagster.settings import Settings
from piper_dagster.spool.checkpoint import load_states
from piper_dagster.spool.planner import plan_spool
from piper_dagster.warehouse import connect, use_privacy
from piper_dagster_tests.factories import SETTLED_MTIME, ev, write_spool_file

F = "ws001/alice/2026-03-04_maya-1.jsonl"
G = "ws001/alice/2026-03-04_maya-2.jsonl"


def _events(n0: int, n1: int) -> bytes:
    """Events n0..n1-1 with same-width numbers: swapping one for another keeps the size."""
    return b"".join(ev(n) for n in range(n0, n1))


def _state(settings: Settings, rel: str = F) -> tuple[int, str | None, int] | None:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT offset_bytes, consumed_hash, generation FROM spool_files WHERE source_file = ?",
            [rel],
        ).fetchone()


def _anomalies(settings: Settings) -> list[tuple[str, str]]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute("SELECT source_file, kind FROM spool_anomalies ORDER BY ALL").fetchall()


def _event_ids(settings: Settings) -> set[str]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return {r[0] for r in con.execute("SELECT event_id FROM silver_events").fetchall()}


def _xxh3(data: bytes) -> str:
    return "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()


def test_a_same_size_rewrite_in_the_middle_is_reported_and_its_new_events_ingested(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    before = _events(1000, 1100)  # ~16 KB: the middle is outside the first and last 4 KiB
    write_spool_file(raw, F, before)
    assert ingest(piper_env).events == 100
    # Restored from another backup: one event in the middle differs, the size does not.
    after = before.replace(ev(1050), ev(2050))
    assert len(after) == len(before) and after[:4096] == before[:4096]
    assert after[-4096:] == before[-4096:]
    write_spool_file(raw, F, after, mtime=SETTLED_MTIME + 10)
    r = ingest(piper_env)
    assert [(a["source_file"], a["kind"]) for a in r.anomalies] == [(F, "rewritten")]
    assert (r.events, r.duplicates) == (1, 99)
    assert "evt-2050" in _event_ids(piper_env)
    assert _anomalies(piper_env) == [(F, "rewritten")]
    assert _state(piper_env) == (len(after), _xxh3(after), 1)
    # Read once: the next tick finds it unchanged.
    r = ingest(piper_env)
    assert (r.events, r.anomalies) == (0, []) and "1 unchanged" in r.plan_summary


def test_a_grown_file_whose_prefix_changed_in_the_middle_is_read_again(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    before = _events(1000, 1100)
    write_spool_file(raw, F, before)
    ingest(piper_env)
    after = before.replace(ev(1050), ev(2050)) + _events(1100, 1110)
    write_spool_file(raw, F, after, mtime=SETTLED_MTIME + 10)
    r = ingest(piper_env)
    assert "1 grown" in r.plan_summary
    assert [a["kind"] for a in r.anomalies] == ["rewritten"]
    assert (r.events, r.duplicates) == (11, 99)
    assert _state(piper_env) == (len(after), _xxh3(after), 1)


def test_the_hash_covers_every_consumed_byte_and_growth_continues_it(
    piper_env: Settings,
) -> None:
    """The BOM, a NUL run, a streamed line longer than a read chunk, and growth in three runs:
    the committed hash is always the hash of the file's bytes [0, offset)."""
    raw = piper_env.raw_root
    long_line = b'{"x": "' + b"a" * (MAX_LINE_BYTES + 10) + b'"}\n'  # > batch_bytes: streamed
    nul_run = b"\x00" * 3000 + ev(3)  # an NFS crash's padding, glued to the next line
    data = UTF8_BOM + ev(1) + nul_run + long_line + ev(4) + ev(5)[:30]  # unterminated tail
    write_spool_file(raw, F, data)
    r = ingest(piper_env)
    assert (r.events, r.invalid) == (3, 1)
    offset = len(data) - 30
    assert _state(piper_env) == (offset, _xxh3(data[:offset]), 0)
    # Growth: the tail completes; only the prefix is re-hashed, no rewrite is reported.
    data += ev(5)[30:] + b"\x00" * 100 + b"\n" + ev(6)
    write_spool_file(raw, F, data, mtime=SETTLED_MTIME + 10)
    r = ingest(piper_env)
    assert "1 grown" in r.plan_summary and r.anomalies == []
    assert (r.events, r.nul_padding_lines) == (2, 1)
    assert _state(piper_env) == (len(data), _xxh3(data), 0)
    # One byte inside the long line (the middle of the file) changes: found.
    i = len(UTF8_BOM + ev(1) + nul_run) + 500_000
    data = data[:i] + b"b" + data[i + 1 :] + ev(7)
    write_spool_file(raw, F, data, mtime=SETTLED_MTIME + 20)
    r = ingest(piper_env)
    assert [a["kind"] for a in r.anomalies] == ["rewritten"]
    # Re-read from byte 0: five events and the long line (same first 4 KiB: the same
    # quarantined line) were already there and count as duplicates.
    assert (r.events, r.duplicates, r.invalid) == (1, 6, 0)
    assert _state(piper_env) == (len(data), _xxh3(data), 1)


def _drop_consumed_hash(path: Path) -> None:
    """Make the warehouse look like one written before consumed_hash existed."""
    con = duckdb.connect(str(path))
    try:
        con.execute("ALTER TABLE spool_files DROP COLUMN consumed_hash")
    finally:
        con.close()


def test_an_old_warehouse_is_upgraded_and_its_states_verified_the_old_way_once(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    grows = _events(1000, 1100)
    rewritten = _events(3000, 3100)
    write_spool_file(raw, F, grows)
    write_spool_file(raw, G, rewritten)
    ingest(piper_env)
    _drop_consumed_hash(piper_env.warehouse_path)
    # A reader that cannot upgrade (the sensor's read-only peek) still plans on it.
    with connect(piper_env.warehouse_path, read_only=True) as con:
        states = load_states(con)
    assert states[F].consumed_hash is None and states[F].offset_bytes == len(grows)
    # F grows; G's first 4 KiB change: the old check still tells them apart.
    grows += _events(1100, 1110)
    write_spool_file(raw, F, grows, mtime=SETTLED_MTIME + 10)
    rewritten = rewritten.replace(ev(3001), ev(4001))
    write_spool_file(raw, G, rewritten, mtime=SETTLED_MTIME + 10)
    r = ingest(piper_env)
    assert [(a["source_file"], a["kind"]) for a in r.anomalies] == [(G, "rewritten")]
    assert (r.events, r.duplicates) == (11, 99)
    # Both rows now carry the hash of everything read; from now on the full check applies.
    assert _state(piper_env, F) == (len(grows), _xxh3(grows), 0)
    assert _state(piper_env, G) == (len(rewritten), _xxh3(rewritten), 1)


def _after_the_plan(action: Callable[[], object]) -> Callable[[IngestProgress], None]:
    """An ingest's on_batch hook doing `action` once the plan is made, before the first byte is
    read (the ingest reports its progress at 0 batches then)."""

    def hook(progress: IngestProgress) -> None:
        if progress.batches == 0:
            action()

    return hook


def _read_then(settings: Settings, between: Callable[[], object]) -> None:
    """One ingest batch by hand: plan, read, `between()`, then commit."""
    raw = settings.require_raw_root()
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        plan = plan_spool(settings, lambda: load_states(con))
        anomalies: list[dict[str, str]] = []
        batches = iter_batches(plan.to_read, raw, settings.ingest.batch_bytes, anomalies)
        batch = next(batches)
        between()
        write_batch(
            con,
            batch,
            raw_root=raw,
            skew_seconds=settings.ingest.skew_tolerance_seconds,
            run_id="by-hand",
            batch_no=1,
            phase_seconds=Counter(),
        )
        assert next(batches, None) is None


def test_a_file_copied_over_between_its_read_and_its_commit_is_read_again(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    old, new = _events(1000, 1010), _events(2000, 2010)  # the same size
    write_spool_file(raw, F, old)
    _read_then(piper_env, lambda: write_spool_file(raw, F, new, mtime=SETTLED_MTIME + 10))
    assert _event_ids(piper_env) == {f"evt-{n}" for n in range(1000, 1010)}
    # The commit recorded what was read, not what the file held by then: the next run finds
    # the difference and reads the new content.
    r = ingest(piper_env)
    assert [a["kind"] for a in r.anomalies] == ["rewritten"]
    assert (r.events, r.duplicates) == (10, 0)
    assert len(_event_ids(piper_env)) == 20
    assert _state(piper_env) == (len(new), _xxh3(new), 1)


def test_a_file_copied_over_between_two_batches_of_one_run_is_read_again(
    piper_env: Settings,
) -> None:
    """Through `piper ingest`'s own loop: a file larger than a batch is replaced after its
    first batch committed; the second batch reads the new bytes after the first's offset."""
    raw = piper_env.raw_root
    per_line = len(ev(100000))
    n = (piper_env.ingest.batch_bytes * 3 // 2) // per_line
    old, new = _events(100000, 100000 + n), _events(200000, 200000 + n)
    write_spool_file(raw, F, old)

    def copy_over(batch_no: int) -> None:
        if batch_no == 1:
            write_spool_file(raw, F, new, mtime=SETTLED_MTIME + 10)

    r = ingest(piper_env, after_batch=copy_over)
    assert r.batches == 2
    r = ingest(piper_env)
    assert [a["kind"] for a in r.anomalies] == ["rewritten"]
    assert _event_ids(piper_env) >= {f"evt-{i}" for i in range(200000, 200000 + n)}
    assert _state(piper_env) == (len(new), _xxh3(new), 1)


def test_a_file_deleted_between_the_plan_and_its_read_is_skipped_and_reported(
    piper_env: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, F, _events(1000, 1010))
    write_spool_file(raw, G, _events(2000, 2010))

    with caplog.at_level(logging.WARNING, logger="piper.ingest"):
        r = ingest(piper_env, on_batch=_after_the_plan((raw / F).unlink))
    assert r.plan_summary.startswith("2 files new")
    assert [(a["source_file"], a["kind"]) for a in r.anomalies] == [(F, "vanished")]
    assert r.events == 10
    assert _anomalies(piper_env) == [(F, "vanished")]
    assert _state(piper_env, F) is None
    assert any(F in m and "deleted" in m for m in caplog.messages)
    # Nothing left to do, nothing reported again.
    r = ingest(piper_env)
    assert (r.events, r.anomalies) == (0, [])


def test_a_file_that_cannot_be_opened_after_the_plan_is_skipped_and_reported(
    piper_env: Settings,
) -> None:
    """Not only deletion: any OSError opening a planned file (here the file became a folder;
    a permission change is the same error path) is reported, and the other files are read."""
    raw = piper_env.raw_root
    write_spool_file(raw, F, _events(1000, 1010))
    write_spool_file(raw, G, _events(2000, 2010))

    def swap() -> None:
        (raw / F).unlink()
        (raw / F).mkdir()

    r = ingest(piper_env, on_batch=_after_the_plan(swap))
    assert [(a["source_file"], a["kind"]) for a in r.anomalies] == [(F, "unreadable")]
    assert r.events == 10
    assert _anomalies(piper_env) == [(F, "unreadable")]


def test_the_only_planned_file_deleted_before_its_read_is_still_reported(
    piper_env: Settings,
) -> None:
    """Nothing else to read: the anomaly alone is committed (a batch of no lines)."""
    raw = piper_env.raw_root
    write_spool_file(raw, F, _events(1000, 1010))

    r = ingest(piper_env, on_batch=_after_the_plan((raw / F).unlink))
    assert (r.events, [a["kind"] for a in r.anomalies]) == (0, ["vanished"])
    assert _anomalies(piper_env) == [(F, "vanished")]
    assert _state(piper_env) is None


def test_a_file_deleted_between_its_read_and_its_commit_commits_what_was_read(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    data = _events(1000, 1010)
    write_spool_file(raw, F, data)
    _read_then(piper_env, lambda: (raw / F).unlink())
    assert len(_event_ids(piper_env)) == 10
    assert _anomalies(piper_env) == [(F, "vanished")]
    assert _state(piper_env) == (len(data), _xxh3(data), 0)


def test_a_file_deleted_while_it_is_read_is_read_to_its_planned_end(
    piper_env: Settings,
) -> None:
    """The cleanup deletes a file larger than a batch after its first batch committed: the open
    file still holds its bytes, the run reads them all and does not fail."""
    raw = piper_env.raw_root
    per_line = len(ev(100000))
    n = (piper_env.ingest.batch_bytes * 5 // 2) // per_line
    write_spool_file(raw, F, _events(100000, 100000 + n))

    def cleanup(batch_no: int) -> None:
        if batch_no == 1:
            os.unlink(raw / F)

    r = ingest(piper_env, after_batch=cleanup)
    assert (r.batches, r.events) == (3, n)
    assert [(a["source_file"], a["kind"]) for a in r.anomalies] == [(F, "vanished")]
    assert _anomalies(piper_env) == [(F, "vanished")]


def test_a_file_truncated_between_the_plan_and_its_read_is_reported_shrunk(
    piper_env: Settings,
) -> None:
    raw = piper_env.raw_root
    data = _events(1000, 1100)
    write_spool_file(raw, F, data)
    ingest(piper_env)
    write_spool_file(raw, F, ev(5000), append=True, mtime=SETTLED_MTIME + 10)

    def truncate() -> None:  # planned as grown, not read yet
        write_spool_file(raw, F, _events(1000, 1010) + ev(5001), mtime=SETTLED_MTIME + 20)

    r = ingest(piper_env, on_batch=_after_the_plan(truncate))
    assert "1 grown" in r.plan_summary
    assert [(a["kind"], a["detail"]) for a in r.anomalies] == [
        ("shrunk", f"size {len(_events(1000, 1010) + ev(5001))} < {len(data)} bytes read")
    ]
    assert (r.events, r.duplicates) == (1, 10)
