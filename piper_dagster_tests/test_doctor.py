"""`piper doctor`: exit codes, the table and --json, on real warehouses; no daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster import warehouse as warehouse_module
from piper_dagster.cli import app
from piper_dagster.ingest.pipeline import ingest
from piper_dagster.serving import init_sql
from piper_dagster.settings import Settings
from piper_dagster.spool.generate import GenerateOptions, generate_spool

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
        (b"not a database" * 1000, "cannot open the warehouse"),
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
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True);"
            " time.sleep(60)",
            str(piper_env.warehouse_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(warehouse_module, "LOCK_WAIT_SECONDS", 1.0)
        out = runner.invoke(app, ["doctor"])
    finally:
        holder.kill()
        holder.wait()
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
    assert lines[-1].startswith("PASS: 9 pass, 0 warn, 0 fail")


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
    generate_spool(
        piper_env.raw_root,
        GenerateOptions(
            start=START, days=1, artists=6, damage=frozenset({"wrong_type"}), damage_rate=0.1
        ),
    )
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 1  # the blocking invalid rate failed the run
    assert "check invalid_rate FAIL 2026-03-02" in out.output
    assert "docs/runbook.md#invalid-rate" in out.output
    assert "silver and gold held back for event dates 2026-03-02" in out.output
