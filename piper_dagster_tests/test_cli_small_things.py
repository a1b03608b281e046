"""Small things an operator meets first: --limit below 1, the README's drop-a-file example, and a
second `piper demo`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.cli.demo import DEMO_DAMAGE_RATE
from piper_dagster.generate.options import DAMAGE_KINDS, GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import REPO_ROOT

runner = CliRunner()


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_ingest_limit_below_one_is_refused_in_one_line(piper_env: Settings, limit: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "piper_dagster.cli", "ingest", "--limit", limit],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--limit {limit}" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not piper_env.warehouse_path.exists()  # refused before anything was done


def _readme_drop_a_file_command() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"drop a file into the demo spool.*?```bash\n(.*?)```", readme, re.S)
    assert found, "README: the drop-a-file example is gone"
    return found.group(1)


def test_the_readme_drop_a_file_example_is_not_clock_skewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piper_env: Settings
) -> None:
    # The README's command, literally, from a directory laid out like the repository's var/.
    spool = tmp_path / "var" / "demo" / "spool"
    spool.mkdir(parents=True)
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(spool))
    subprocess.run(["bash", "-euc", _readme_drop_a_file_command()], cwd=tmp_path, check=True)
    today = datetime.now(UTC).date()
    (written,) = spool.rglob("*.jsonl")
    assert written.name.startswith(today.isoformat())

    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    with duckdb.connect(str(piper_env.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT event_date, clock_skewed FROM silver_events").fetchall()
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert rows == [(today, False)]
    doctor = runner.invoke(app, ["doctor", "--json", "--date", today.isoformat()])
    skew = [c for c in json.loads(doctor.stdout)["results"] if c["check"] == "clock_skew"]
    assert skew and all(c["status"] != "FAIL" for c in skew), skew


@pytest.mark.slow
def test_a_second_demo_says_it_reuses_its_spool_and_data(
    tmp_path: Path, piper_env: Settings
) -> None:
    # What the first demo left: its sample spool (here written directly, as the demo writes it)
    # and its data directory.
    directory = tmp_path / "demo"
    first = date.today() - timedelta(days=1)  # as the demo counts its days
    options = GenerateOptions(
        start=first,
        days=1,
        damage=frozenset(DAMAGE_KINDS),
        damage_rate=DEMO_DAMAGE_RATE,
        skewed_hosts=1,
    )
    summary = generate_spool(directory / "spool", options)
    (directory / "data").mkdir()

    out = runner.invoke(app, ["demo", "--no-ui", "--days", "1", "--dir", str(directory)])
    assert out.exit_code == 0, out.output
    assert "generating" not in out.output
    assert (
        f"reusing the sample spool in {directory / 'spool'} ({summary.files} files,"
        f" spool dates {first}..{first})" in out.output
    )
    assert f"reusing the demo data in {directory / 'data'}" in out.output
    assert f"remove {directory} for a fresh demo" in out.output


def test_a_reused_demo_spool_made_days_ago_says_the_days_since_are_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from piper_dagster.cli.demo import _say_reused

    spool = tmp_path / "demo" / "spool"
    (spool / "ws001" / "a").mkdir(parents=True)
    (spool / "ws001" / "a" / "2026-01-05_maya.jsonl").write_text("")
    _say_reused(tmp_path / "demo", spool, tmp_path / "demo" / "data")
    out = capsys.readouterr().out
    assert "(1 files, spool dates 2026-01-05..2026-01-05)" in out
    yesterday = date.today() - timedelta(days=1)  # the demo's days are local, like this
    assert f"it ends on 2026-01-05: the days up to {yesterday} have no sample data" in out
    assert "reusing the demo data" not in out  # no data directory yet
