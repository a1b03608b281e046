"""`piper quarantine replay`: lines quarantined under an older contract are ingested once."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from typer.testing import CliRunner

from piper_dagster import quarantine
from piper_dagster.cli import app
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.quarantine import replay
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import (
    QUARANTINE_COLUMNS_V1,
    ev,
    quarantined_by_an_old_contract,
)

runner = CliRunner()
START = date(2026, 3, 2)


@contextmanager
def _dying_at_settle(monkeypatch: pytest.MonkeyPatch, nth: int) -> Iterator[None]:
    """The replay dies at its `nth` spool date: after the events were inserted, before the
    quarantine bookkeeping (replay/settle) and the commit."""
    real = quarantine.load_sql
    settles = 0

    def dying(name: str) -> str:
        nonlocal settles
        if name == "replay/settle":
            settles += 1
            if settles == nth:
                raise KeyboardInterrupt
        return real(name)

    with monkeypatch.context() as patch:
        patch.setattr(quarantine, "load_sql", dying)
        yield


def _counts(settings: Settings) -> tuple[int, int, int]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT (SELECT count(*) FROM silver_events), (SELECT count(*) FROM quarantine),"
            " (SELECT count(*) FROM quarantine_replayed)"
        ).fetchone()


def test_replay_ingests_what_now_passes_exactly_once(piper_env: Settings) -> None:
    generate_spool(
        piper_env.raw_root,
        GenerateOptions(start=START, days=2, artists=4, damage=frozenset({"invalid_json"})),
    )
    ingest(piper_env)
    events0, quarantined0, _ = _counts(piper_env)
    good = [ev(900 + i, "2026-03-03T10:00:00Z").rstrip(b"\n") for i in range(3)]
    # The third is a re-sent copy of an event already ingested under the old contract.
    quarantined_by_an_old_contract(piper_env, [*good, good[0]], "unknown_event_type")

    dry = replay(piper_env, dry_run=True)
    assert (dry.events, dry.duplicates) == (3, 1)
    assert _counts(piper_env) == (events0, quarantined0 + 4, 0)  # a dry run changes nothing

    first = replay(piper_env, reason="unknown_event_type")
    assert (first.replayed, first.events, first.duplicates) == (4, 3, 1)
    assert first.event_dates == [date(2026, 3, 3)]
    assert _counts(piper_env) == (events0 + 3, quarantined0, 4)
    assert "Parquet" in first.exported

    again = replay(piper_env)  # every reason: the generator's invalid JSON stays invalid
    assert (again.events, again.duplicates) == (0, 0)
    assert again.still_invalid == {"invalid_json": quarantined0}
    assert _counts(piper_env) == (events0 + 3, quarantined0, 4)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        lineage = con.execute(
            "SELECT source_file, source_line, spool_date FROM silver_events WHERE event_id = ?",
            [json.loads(good[1])["event_id"]],
        ).fetchone()
    assert lineage == ("lt007/bob/2026-03-03_old.jsonl", 2, date(2026, 3, 3))
    # The quarantine file of that spool date was rewritten without the replayed lines.
    qfile = piper_env.quarantine_dir / "2026-03-03" / "quarantine.jsonl"
    assert "old.jsonl" not in qfile.read_text()


def test_replay_filters_and_cli(piper_env: Settings) -> None:
    with connect(piper_env.warehouse_path):
        pass
    line = ev(1, "2026-03-03T10:00:00Z").rstrip(b"\n")
    quarantined_by_an_old_contract(piper_env, [line], "invalid_value")
    out = runner.invoke(app, ["quarantine", "replay", "--reason", "wrong_type"])
    assert out.exit_code == 0 and "0 quarantined lines" in out.output
    out = runner.invoke(app, ["quarantine", "replay", "--since", "2026-03-04"])
    assert "0 quarantined lines" in out.output
    dry = runner.invoke(app, ["quarantine", "replay", "--dry-run"])
    assert "dry run: 1 quarantined lines re-validated: 1 events ingested" in dry.output
    out = runner.invoke(app, ["quarantine", "replay", "--since", "2026-03-03", "--no-refresh"])
    assert out.exit_code == 0, out.output
    assert "1 events ingested" in out.output
    assert "piper materialize --start 2026-03-03 --end 2026-03-03" in out.output
    bad = runner.invoke(app, ["quarantine", "replay", "--reason", "nope"])
    assert bad.exit_code == 2 and "unknown reason" in bad.output
    assert _counts(piper_env) == (1, 0, 1)


def test_replay_refresh_rebuilds_silver_and_gold(piper_env: Settings, warehouse) -> None:
    with connect(piper_env.warehouse_path):
        pass
    lines = [ev(i, "2026-03-03T10:00:00Z").rstrip(b"\n") for i in (1, 2)]
    quarantined_by_an_old_contract(piper_env, lines, "unknown_event_type")
    out = runner.invoke(app, ["quarantine", "replay", "--refresh"])
    assert out.exit_code == 0, out.output
    assert "refreshing silver and gold for 2026-03-03..2026-03-03" in out.output
    with warehouse() as con:
        assert con.execute(
            "SELECT dq_events FROM gold_data_quality_daily WHERE event_date = '2026-03-03'"
        ).fetchone() == (2,)


def test_a_replay_that_dies_before_its_commit_changes_nothing(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(piper_env.warehouse_path):
        pass
    line = ev(1, "2026-03-03T10:00:00Z").rstrip(b"\n")
    quarantined_by_an_old_contract(piper_env, [line], "unknown_event_type")
    with _dying_at_settle(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        replay(piper_env)
    assert _counts(piper_env) == (0, 1, 0)
    assert replay(piper_env).events == 1
    assert _counts(piper_env) == (1, 0, 1)


def test_one_transaction_per_spool_date_and_a_dry_run_sees_duplicates_across_dates(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(piper_env.warehouse_path) as con:
        lines = {
            "2026-03-03": [ev(1, "2026-03-03T10:00:00Z"), ev(2, "2026-03-03T11:00:00Z")],
            # ev 1 again, re-sent in the next day's file: a duplicate across spool dates.
            "2026-03-04": [ev(1, "2026-03-03T10:00:00Z"), ev(3, "2026-03-04T09:00:00Z")],
        }
        for day, day_lines in lines.items():
            for i, line in enumerate(day_lines, 1):
                body = line.rstrip(b"\n")
                con.execute(
                    f"INSERT INTO quarantine {QUARANTINE_COLUMNS_V1}"
                    " VALUES ('unknown_event_type', ?, ?, ?, ?, ?, ?, ?,"
                    " now(), 'old-run')",
                    [
                        f"lt007/bob/{day}_old.jsonl",
                        i,
                        day,
                        body.decode(),
                        body,
                        len(body),
                        hashlib.md5(body).hexdigest(),
                    ],
                )
    dry = replay(piper_env, dry_run=True)
    assert (dry.replayed, dry.events, dry.duplicates) == (4, 3, 1)
    assert _counts(piper_env) == (0, 4, 0)

    # A replay dying on the second spool date keeps the first one's commit ...
    with _dying_at_settle(monkeypatch, 2), pytest.raises(KeyboardInterrupt):
        replay(piper_env)
    assert _counts(piper_env) == (2, 2, 2)
    # ... and the rerun does the rest, with the same totals as one uninterrupted replay.
    rest = replay(piper_env)
    assert (rest.replayed, rest.events, rest.duplicates) == (2, 1, 1)
    assert rest.event_dates == [date(2026, 3, 4)]
    assert _counts(piper_env) == (3, 0, 4)


def test_two_replays_at_once_ingest_each_line_once(piper_env: Settings) -> None:
    """Two operators (or a script and an operator) replay at the same time: real processes."""
    days = [f"2026-03-0{d}" for d in range(3, 8)]
    for n, day in enumerate(days):
        lines = [ev(1000 * n + i, f"{day}T10:00:00Z").rstrip(b"\n") for i in range(40)]
        # Each day also re-sends one event of the day before: a duplicate across spool dates.
        resent = [ev(1000 * (n - 1), f"{days[n - 1]}T10:00:00Z").rstrip(b"\n")] if n else []
        quarantined_by_an_old_contract(piper_env, lines + resent, "unknown_event_type", day)
    command = [sys.executable, "-m", "piper_dagster.cli", "quarantine", "replay"]
    replays = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in replays]
    assert [p.returncode for p in replays] == [0, 0], outputs
    assert _counts(piper_env) == (200, 0, 204)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        assert con.execute(
            "SELECT count(DISTINCT event_id), sum((outcome = 'event')::INT) FROM quarantine_replayed"
        ).fetchone() == (200, 200)
