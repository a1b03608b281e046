"""Contract §2: a UTF-8 byte order mark at byte 0 of a spool file is not part of its first line.

Real spool files through the real ingest (and the replay, and the reference validator): the BOM
is skipped but counted as consumed bytes; anywhere else it is part of its line like any bytes.
"""

from __future__ import annotations

import hashlib

from piper_dagster.contract import MAX_LINE_BYTES
from piper_dagster.contract.models import UTF8_BOM
from piper_dagster.contract.reference import classify_file
from piper_dagster.ingest.run import ingest
from piper_dagster.quarantine import replay
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import (
    QUARANTINE_COLUMNS_V1,
    SETTLED_MTIME,
    ev,
    write_spool_file,
)

F = "ws001/alice/2026-03-04_win.jsonl"


def _file_state(settings: Settings) -> tuple[int, int] | None:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT offset_bytes, lines_read FROM spool_files WHERE source_file = ?", [F]
        ).fetchone()


def _events(settings: Settings) -> list[tuple[str, int]]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT event_id, source_line FROM silver_events ORDER BY source_line"
        ).fetchall()


def _quarantine(settings: Settings) -> list[tuple[int, str]]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT source_line, reason FROM quarantine ORDER BY source_line"
        ).fetchall()


def test_a_bom_at_byte_0_is_skipped_and_counted_as_read(piper_env: Settings) -> None:
    data = UTF8_BOM + ev(1) + UTF8_BOM + ev(2) + ev(3).replace(b"\n", b"\r\n")
    write_spool_file(piper_env.raw_root, F, data)
    result = ingest(piper_env)
    assert (result.events, result.invalid) == (2, 1)
    assert _events(piper_env) == [("evt-1", 1), ("evt-3", 3)]
    # Anywhere but byte 0 the BOM is part of its line: not JSON.
    assert _quarantine(piper_env) == [(2, "invalid_json")]
    assert _file_state(piper_env) == (len(data), 3)
    # The reference validator, given the whole file, agrees line by line.
    kinds = [o.reason or o.kind for o in classify_file(data)]
    assert kinds == ["event", "invalid_json", "event"]


def test_a_bom_then_a_first_line_arriving_in_several_appends(piper_env: Settings) -> None:
    raw = piper_env.raw_root
    first = ev(1)
    steps = [UTF8_BOM[:2], UTF8_BOM[2:], first[:15], first[15:-1]]
    for n, part in enumerate(steps):
        write_spool_file(raw, F, part, append=n > 0, mtime=SETTLED_MTIME + n)
        result = ingest(piper_env)
        # Only the BOM (or part of it), or an unterminated first line: nothing read yet.
        assert (result.events, result.invalid) == (0, 0), steps[: n + 1]
        assert _file_state(piper_env) in (None, (0, 0))
    write_spool_file(raw, F, b"\n" + ev(2), append=True, mtime=SETTLED_MTIME + 10)
    result = ingest(piper_env)
    assert (result.events, result.invalid) == (2, 0)
    assert _events(piper_env) == [("evt-1", 1), ("evt-2", 2)]
    assert _file_state(piper_env) == (len(UTF8_BOM) + len(first) + len(ev(2)), 2)
    assert _quarantine(piper_env) == []


def test_the_bom_does_not_count_towards_the_line_length(piper_env: Settings) -> None:
    # Exactly 1 MiB after the BOM: not line_too_long (it is parsed, and is not JSON). The line
    # is longer than a read chunk, so it takes the streaming path.
    data = UTF8_BOM + b"x" * MAX_LINE_BYTES + b"\n" + ev(1)
    write_spool_file(piper_env.raw_root, F, data)
    ingest(piper_env)
    assert _quarantine(piper_env) == [(1, "invalid_json")]
    with connect(piper_env.warehouse_path, read_only=True) as con:
        assert con.execute("SELECT raw_length FROM quarantine").fetchone() == (MAX_LINE_BYTES,)
    assert _events(piper_env) == [("evt-1", 2)]
    assert _file_state(piper_env) == (len(data), 2)


def test_replay_drops_the_bom_of_a_first_line_quarantined_before_the_rule(
    piper_env: Settings,
) -> None:
    with connect(piper_env.warehouse_path) as con:
        # As an older piper quarantined them: line 1 with the file's BOM, and a line 2 whose
        # BOM is in the middle of the file (still invalid).
        for line_no, line in ((1, UTF8_BOM + ev(7).rstrip()), (2, UTF8_BOM + ev(8).rstrip())):
            con.execute(
                f"INSERT INTO quarantine {QUARANTINE_COLUMNS_V1} VALUES"
                " ('invalid_json', ?, ?, DATE '2026-03-04', ?, ?, ?, ?, now(), 'old-run')",
                [F, line_no, line.decode(), line, len(line), hashlib.md5(line).hexdigest()],
            )
    result = replay(piper_env)
    assert (result.events, dict(result.still_invalid)) == (1, {"invalid_json": 1})
    assert _events(piper_env) == [("evt-7", 1)]
    assert _quarantine(piper_env) == [(2, "invalid_json")]
    assert replay(piper_env).events == 0  # exactly once
