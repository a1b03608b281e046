"""`piper doctor`: exit codes, the table and --json, on real warehouses; no daemon."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster import warehouse as warehouse_module
from piper_dagster.cli import app
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.serving import init_sql
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import (
    blocked_spool,
    ev,
    quarantined_by_an_old_contract,
    warehouse_locked,
)

runner = CliRunner()
START = date(2026, 3, 2)
# Ten minutes after the last generated day: every source family is fresh.
AS_OF = ["--as-of", "2026-03-04T00:10:00"]


def _warehouse(settings: Settings, **options) -> None:
    generate_spool(settings.raw_root, GenerateOptions(start=START, days=2, artists=6, **options))
    ingest(settings)


def test_no_warehouse_is_one_clear_line_and_exit_2(piper_env: Settings) -> None:
    out = runner.invoke(app, ["doctor"])
    assert out.exit_code == 2
    assert "no warehouse at" in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1
    assert not piper_env.warehouse_path.exists()  # nor --record creates one
    assert runner.invoke(app, ["doctor", "--record"]).exit_code == 2
    assert not piper_env.warehouse_path.exists()


def test_json_reports_the_error_on_stdout(piper_env: Settings) -> None:
    out = runner.invoke(app, ["doctor", "--json"])
    assert out.exit_code == 2
    report = json.loads(out.stdout)
    assert report["status"] == "FAIL" and report["exit_code"] == 2
    assert "no warehouse at" in report["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doctor", "--date", "2026-13-01"], "--date: '2026-13-01' is not a date"),
        (["doctor", "--as-of", "yesterday"], "--as-of: 'yesterday' is not a time"),
        (["quarantine", "replay", "--since", "nope"], "--since: 'nope' is not a date"),
        (["backfill", "--start", "2026-03-01", "--end", "03/31"], "--end: '03/31' is not a date"),
    ],
)
def test_a_bad_date_is_one_clear_line(piper_env: Settings, args, message) -> None:
    _warehouse(piper_env)
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a piper warehouse"),  # a DuckDB file without piper's tables
        # Not DuckDB's header at piper's own path: damaged, with the rebuild (runbook)
        (b"not a database" * 1000, "is damaged"),
    ],
)
def test_a_foreign_or_damaged_file_is_one_clear_line(piper_env: Settings, content, message):
    path = piper_env.warehouse_path
    path.parent.mkdir(parents=True)
    if content is None:
        duckdb.connect(str(path)).close()
    else:
        path.write_bytes(content)
    out = runner.invoke(app, ["doctor"])
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_a_warehouse_locked_too_long_is_one_clear_line(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warehouse(piper_env)
    # Another process (a run) holds the write lock for longer than doctor waits.
    with warehouse_locked(piper_env.warehouse_path):
        monkeypatch.setattr(warehouse_module, "LOCK_WAIT_SECONDS", 1.0)
        out = runner.invoke(app, ["doctor"])
    assert out.exit_code == 2, out.output
    assert "is still locked after 1 s" in out.output and "Traceback" not in out.output


def test_a_healthy_warehouse_passes(piper_env: Settings) -> None:
    _warehouse(piper_env)
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    header = "STATUS CHECK PARTITION SCOPE VALUE WARN / FAIL HINT"
    assert lines[0].split() == header.split()
    # Aligned: every column starts where its header does, after two spaces.
    body = lines[1:-2]  # then a blank line and the summary
    assert len(body) == 9
    for column in ("CHECK", "PARTITION", "SCOPE", "VALUE", "WARN / FAIL", "HINT"):
        start = lines[0].index(column)
        assert all(line[start - 2 : start] == "  " and line[start] != " " for line in body), column
    checks = {line.split()[1] for line in body}
    assert checks == {"freshness", "volume", "invalid_rate", "clock_skew", "refresh_backlog"}
    assert "2026-03-03" in out.output  # the newest spool partition read, by default
    # Two days of data: no same-weekday baseline yet, so volume could not judge: SKIP rows, not
    # PASS, counted apart; the worst of what was judged is PASS.
    assert lines[-1].startswith("PASS: 6 pass, 3 skip (not judged), 0 warn, 0 fail")
    assert {tuple(line.split()[:2]) for line in body if line.startswith("SKIP")} == {
        ("SKIP", "volume")
    }


@pytest.mark.parametrize(
    ("options", "code", "status"),
    [
        ({"damage": frozenset({"invalid_json"}), "damage_rate": 0.03}, 1, "WARN"),
        ({"skewed_hosts": 3}, 2, "FAIL"),
    ],
)
def test_exit_code_is_the_worst_status(piper_env: Settings, options, code, status) -> None:
    _warehouse(piper_env, **options)
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == code, out.output
    assert out.output.splitlines()[-1].startswith(f"{status}:")
    assert "docs/runbook.md#" in out.output  # a hint says where to read on

    js = runner.invoke(app, ["doctor", "--json", *AS_OF, "--days", "2"])
    assert js.exit_code == code
    report = json.loads(js.output)
    assert report["status"] == status and report["exit_code"] == code
    assert report["partitions"] == ["2026-03-02", "2026-03-03"]
    assert {r["check"] for r in report["results"]} == {
        "freshness",
        "volume",
        "invalid_rate",
        "clock_skew",
        "refresh_backlog",
    }
    worst = [r for r in report["results"] if r["status"] == status]
    assert worst and all(r["runbook"].startswith("docs/runbook.md#") for r in worst)


def test_thresholds_come_from_the_environment(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warehouse(piper_env, damage=frozenset({"invalid_json"}), damage_rate=0.03)
    assert runner.invoke(app, ["doctor", *AS_OF]).exit_code == 1  # invalid rate WARN
    monkeypatch.setenv("PIPER_CHECKS__INVALID_RATE_WARN", "0.04")
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == 0, out.output
    assert ">4.00% / >5.00%" in out.output
    monkeypatch.setenv("PIPER_CHECKS__INVALID_RATE_WARN", "0.1")  # above FAIL: refused
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == 2 and "invalid_rate" in out.output and "Traceback" not in out.output


def test_a_value_just_past_a_threshold_does_not_read_like_it() -> None:
    from piper_dagster.checks import CLOCK_SKEW, CheckOutcome, Status
    from piper_dagster.checks.doctor import _value_cell

    def cell(value: float) -> str:
        return _value_cell(CheckOutcome(CLOCK_SKEW, None, "all", Status.FAIL, value, 0.01, 0.05))

    assert cell(54 / 1079) == "5.005%"  # not "5.00%" next to a ">5.00%" threshold
    assert cell(0.05) == "5.00%" and cell(0.0123) == "1.23%"


def test_stale_data_fails_and_record_writes_the_outcomes(piper_env: Settings, warehouse) -> None:
    _warehouse(piper_env)
    out = runner.invoke(app, ["doctor", "--as-of", "2026-03-10T00:00:00", "--record"])
    assert out.exit_code == 2
    assert "newest farm event" in out.output
    with warehouse() as con:
        assert con.execute(
            "SELECT count(*), count(run_id) FROM pipeline_check_results"
        ).fetchone() == (9, 0)
    # Recorded outcomes are published for Grafana's pipeline-health dashboard.
    served = duckdb.connect()
    served.execute(init_sql(piper_env.serving_dir))
    assert served.execute("SELECT count(*) FROM pipeline_check_results").fetchone() == (9,)


def test_piper_ingest_names_the_failed_checks(piper_env: Settings) -> None:
    blocked_spool(piper_env.raw_root, START)
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 1  # the blocking invalid rate failed the run
    assert "check invalid_rate FAIL 2026-03-02" in out.output
    assert "docs/runbook.md#invalid-rate" in out.output
    assert "silver and gold held back for event dates 2026-03-02" in out.output


# --- held-back partitions, clock-skew hosts, SKIP, units (issue #11, item 3) ---------------------


def _lines_read(settings: Settings, day: date) -> int:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT sum(lines_read) FROM spool_files WHERE spool_date = ?", [day]
        ).fetchone()[0]


def test_an_older_blocked_partition_is_listed_until_a_replay_fixes_it(piper_env: Settings) -> None:
    _warehouse(piper_env)
    # An older contract quarantined a tenth of the first day's lines (a FAIL, > 5 %), lines the
    # current contract accepts; the FAIL was recorded (as the run's checks, or --record, do).
    n = _lines_read(piper_env, START) // 10
    lines = [ev(50_000 + i, "2026-03-02T10:00:00Z").rstrip(b"\n") for i in range(n)]
    quarantined_by_an_old_contract(piper_env, lines, "unknown_event_type", day="2026-03-02")
    assert runner.invoke(app, ["doctor", "--date", "2026-03-02", "--record", *AS_OF]).exit_code == 2

    # The default looks at the newest partition, 2026-03-03, yet the blocked one is listed.
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == 2, out.output
    (row,) = [line for line in out.output.splitlines() if "2026-03-02" in line.split()[2:3]]
    assert row.split()[:2] == ["FAIL", "invalid_rate"]
    assert "HELD BACK, outside --date/--days" in row
    assert "silver and gold of event dates 2026-03-02" in row and "#invalid-rate" in row
    summary = out.output.splitlines()[-1]
    assert summary.startswith("FAIL:")
    assert (
        "2026-03-03..2026-03-03 and 1 outside them still holding gold back: 2026-03-02" in summary
    )

    report = json.loads(runner.invoke(app, ["doctor", "--json", *AS_OF]).stdout)
    assert report["status"] == "FAIL" and report["exit_code"] == 2
    (held,) = [r for r in report["results"] if r["outside_range"]]
    assert held["check"] == "invalid_rate" and held["partition_date"] == "2026-03-02"
    assert held["status"] == "FAIL" and held["holds_gold_back"]
    assert held["held_back"]["event_dates"] == ["2026-03-02"]
    assert held["held_back"]["run_id"] is None  # recorded by doctor --record
    # Within --date/--days it is an ordinary row, listed once.
    both = json.loads(runner.invoke(app, ["doctor", "--json", "--days", "2", *AS_OF]).stdout)
    rows = [r for r in both["results"] if r["check"] == "invalid_rate"]
    assert [(r["partition_date"], r["outside_range"]) for r in rows] == [
        ("2026-03-02", False),
        ("2026-03-03", False),
    ]
    assert rows[0]["holds_gold_back"] and not rows[1]["holds_gold_back"]

    # The contract fix is deployed and the quarantine replayed: it holds nothing back any more
    # (the recorded FAIL is still the latest record; evaluated now, it passes).
    assert runner.invoke(app, ["quarantine", "replay"]).exit_code == 0
    out = runner.invoke(app, ["doctor", *AS_OF])
    assert out.exit_code == 0, out.output
    assert "HELD BACK" not in out.output and "2026-03-02" not in out.output


def test_a_partition_blocked_by_an_ingest_run_is_listed_with_its_run(piper_env: Settings) -> None:
    """The realistic path: `piper ingest` (Dagster checks) records the FAIL of an older day."""
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=3, artists=6))
    garbage = piper_env.raw_root / "ws900" / "bob" / f"{START}_broken.jsonl"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b'{"schema_version": "1.0", "event_id": \n' * 300)
    assert runner.invoke(app, ["ingest"]).exit_code == 1  # the blocking check failed the run
    as_of = ["--as-of", "2026-03-05T00:10:00"]
    out = runner.invoke(app, ["doctor", *as_of])
    assert out.exit_code == 2, out.output
    assert "2026-03-04" in out.output and "HELD BACK" in out.output
    report = json.loads(runner.invoke(app, ["doctor", "--json", *as_of]).stdout)
    (held,) = [r for r in report["results"] if r["outside_range"]]
    assert held["partition_date"] == START.isoformat() and held["held_back"]["run_id"]
    assert START.isoformat() in held["held_back"]["event_dates"]


def test_clock_skew_names_every_skewed_host(piper_env: Settings) -> None:
    _warehouse(piper_env, skewed_hosts=2)
    report = json.loads(runner.invoke(app, ["doctor", "--json", *AS_OF]).stdout)
    (skew,) = [r for r in report["results"] if r["check"] == "clock_skew"]
    hosts = skew["detail"]["hosts"]
    assert len(hosts) == skew["detail"]["hosts_total"] == 2
    assert hosts[0]["skewed"] >= hosts[1]["skewed"]  # the most affected first
    # Each host's share of the partition's events: together, the check's value.
    assert sum(h["share"] for h in hosts) == pytest.approx(skew["value"])
    for h in hosts:
        assert (
            f"{h['host']} {h['share']:.2%} (off ~{h['median_offset_hours']:+g} h)" in skew["hint"]
        )
    assert skew["hint"].index(hosts[0]["host"]) < skew["hint"].index(hosts[1]["host"])
    table = runner.invoke(app, ["doctor", *AS_OF]).output
    (row,) = [line for line in table.splitlines() if line.split()[1:2] == ["clock_skew"]]
    assert hosts[0]["host"] in row and hosts[1]["host"] in row and "2 hosts" in row


def test_clock_skew_lists_top_n_hosts_then_how_many_more(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warehouse(piper_env, skewed_hosts=3)
    monkeypatch.setenv("PIPER_CHECKS__TOP_N", "1")
    out = runner.invoke(app, ["doctor", "--json", "--days", "2", *AS_OF])
    skews = [r for r in json.loads(out.stdout)["results"] if r["check"] == "clock_skew"]
    assert max(r["detail"]["hosts_total"] for r in skews) >= 2
    for skew in skews:
        total = skew["detail"]["hosts_total"]
        assert len(skew["detail"]["hosts"]) == 1 and skew["detail"]["hosts_not_listed"] == total - 1
        assert f"{total} hosts by share of events" in skew["hint"] or total == 1
        assert skew["hint"].endswith(f", +{total - 1} more") == (total > 1)


def test_a_check_that_could_not_judge_is_skip_and_does_not_fail(piper_env: Settings) -> None:
    # One artist writing a few lines: too few lines for the invalid rate, no volume baseline.
    generate_spool(
        piper_env.raw_root,
        GenerateOptions(
            start=START, days=1, artists=1, events_per_artist_day=5, farm=False, storage=False
        ),
    )
    ingest(piper_env)
    as_of = ["--as-of", "2026-03-02T23:00:00"]
    report = json.loads(runner.invoke(app, ["doctor", "--json", *as_of]).stdout)
    by = {(r["check"], r["scope"]): r for r in report["results"]}
    assert by[("invalid_rate", "all")]["status"] == "SKIP"
    assert "too few lines to judge" in by[("invalid_rate", "all")]["hint"]
    assert by[("volume", "artists")]["status"] == "SKIP"
    assert "baseline too small to judge" in by[("volume", "artists")]["hint"]
    # A day with no data at all: no lines, no events.
    out = runner.invoke(app, ["doctor", "--json", "--date", "2026-03-05", *as_of])
    empty = {r["check"]: r for r in json.loads(out.stdout)["results"] if r["scope"] == "all"}
    assert (
        empty["invalid_rate"]["status"] == "SKIP"
        and "no lines read" in empty["invalid_rate"]["hint"]
    )
    assert empty["clock_skew"]["status"] == "SKIP" and "no events" in empty["clock_skew"]["hint"]
    # SKIP does not fail: the freshness FAILs (no farm, no auditor) are the exit code here.
    table = runner.invoke(app, ["doctor", *as_of])
    assert table.exit_code == 2
    assert ["SKIP", "invalid_rate"] in [line.split()[:2] for line in table.output.splitlines()]
    assert "skip (not judged)" in table.output.splitlines()[-1]

    # The worst of what was judged; SKIP when nothing could be judged; exit 0 either way.
    from piper_dagster.checks import CLOCK_SKEW, VOLUME, CheckOutcome, Status
    from piper_dagster.checks.doctor import Report

    skip = CheckOutcome(VOLUME, START, "artists", Status.SKIP, None, 0.5, 0.2)
    ok = CheckOutcome(CLOCK_SKEW, START, "all", Status.PASS, 0.0, 0.01, 0.05)
    at = datetime(2026, 3, 3, tzinfo=UTC)
    assert (
        Report(at, START, START, [skip, ok]).status,
        Report(at, START, START, [skip, ok]).exit_code,
    ) == (Status.PASS, 0)
    assert (
        Report(at, START, START, [skip]).status,
        Report(at, START, START, [skip]).exit_code,
    ) == (Status.SKIP, 0)


def test_json_gives_the_unit_of_every_value_and_threshold(piper_env: Settings) -> None:
    _warehouse(piper_env, skewed_hosts=1)
    report = json.loads(runner.invoke(app, ["doctor", "--json", *AS_OF]).stdout)
    units = {r["check"]: (r["unit"], r["bad_when"]) for r in report["results"]}
    assert units == {
        "freshness": ("seconds", "above"),
        "volume": ("ratio", "below"),
        "invalid_rate": ("share", "above"),
        "clock_skew": ("share", "above"),
        "refresh_backlog": ("seconds", "above"),
    }
    fresh = next(r for r in report["results"] if r["check"] == "freshness")
    assert fresh["warn_threshold"] >= 1800  # seconds, not the settings' hours
    assert all(r["blocking"] == (r["check"] == "invalid_rate") for r in report["results"])


def test_every_check_names_its_unit() -> None:
    from piper_dagster.checks import CHECKS

    assert all(c.unit in ("seconds", "ratio", "share") for c in CHECKS.values()), CHECKS
