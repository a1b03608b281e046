"""Derived files (the Parquet copies, the serving layer) are repaired by the next run, whatever
killed the last one, and a reader of the published trees never meets a partial file."""

from __future__ import annotations

import os
import re
import signal
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.defs.keys import SPOOL_STATE_TAG
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import (
    REPO_ROOT,
    defs,
    parquet_rows,
    piper_paused,
    run_piper,
    run_requested,
    spool_sensor,
)

runner = CliRunner()


def _small_spool(raw: Path, artists: int = 12) -> None:
    """Three days, every event type: dozens of Parquet files per export."""
    generate_spool(
        raw,
        GenerateOptions(
            start=date(2026, 3, 2), days=3, artists=artists, damage=frozenset({"invalid_json"})
        ),
    )


def _count(warehouse: Path, table: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def _staging_left(data: Path) -> list[Path]:
    """Staging anywhere: old `.staging-*` inside the published trees, or files in .staging/."""
    inside = list((data / "silver").glob("*/.staging-*"))
    outside = [p for p in (data / ".staging").rglob("*") if p.is_file()]
    return inside + outside


@pytest.mark.slow
def test_a_kill_9_during_the_export_is_repaired_by_the_next_ingest_with_nothing_new(
    tmp_path: Path,
) -> None:
    raw, data = tmp_path / "spool", tmp_path / "data"
    _small_spool(raw)
    env = {
        **os.environ,
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PIPER_INGEST__SETTLE_SECONDS": "0",
    }
    # A real `piper ingest`, killed -9 once 5 of its Parquet files are in place: its batch is
    # committed, its export half done.
    proc = piper_paused(env, "export:5", tmp_path / "paused", "ingest")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    warehouse = data / "warehouse" / "telemetry.duckdb"
    events = _count(warehouse, "silver_events")
    assert events > 1000 and _count(warehouse, "export_pending") > 0
    # What an older piper's export killed inside its COPY left: 0-byte files in the tree.
    legacy = data / "silver/events/.staging-0123/event_date=2026-03-03/event_type=dcc.launch"
    legacy.mkdir(parents=True)
    (legacy / "data_0.parquet").touch()
    with pytest.raises(duckdb.Error):
        parquet_rows(data / "silver" / "events")

    again = run_piper(env, "ingest")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to ingest" in again.stdout
    assert parquet_rows(data / "silver" / "events") == events  # readable, complete
    assert _count(warehouse, "export_pending") == 0
    assert _staging_left(data) == []
    assert "exported what an earlier run left pending" in again.stdout
    # The dead run's dates were refreshed too, their silver domain copies exported.
    tools = _count(warehouse, "silver_tool_events")
    assert tools > 0 and parquet_rows(data / "silver" / "tool_events") == tools


@pytest.mark.slow
def test_the_spool_sensor_requests_a_run_for_pending_exports_with_no_new_byte(
    piper_env: Settings, warehouse
) -> None:
    _small_spool(piper_env.raw_root, artists=3)
    ingest(piper_env)
    with warehouse() as con:
        events = con.execute("SELECT count(*) FROM silver_events").fetchone()[0]
    with dg.DagsterInstance.get() as instance:
        tick = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(tick, dg.SensorResult) and not tick.run_requests  # all read
        # What a run killed in its export leaves: pending rows (committed with its batch) and a
        # Parquet copy behind the table (here: none at all).
        with duckdb.connect(str(piper_env.warehouse_path)) as con:
            con.execute(
                "INSERT OR IGNORE INTO export_pending"
                " SELECT DISTINCT 'silver_events', event_date FROM silver_events"
            )
        for part in sorted(piper_env.silver_events_dir.rglob("*.parquet")):
            part.unlink()

        tick = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(tick, dg.SensorResult)
        (request,) = tick.run_requests or []
        assert request.tags[SPOOL_STATE_TAG].startswith("export ")
        # The daemon runs it: a spool run with nothing new to read still exports.
        assert run_requested(instance, request)
        assert parquet_rows(piper_env.silver_events_dir) == events
        tick = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(tick, dg.SensorResult) and not tick.run_requests  # nothing left


@pytest.mark.slow
def test_a_silver_domain_export_that_failed_is_finished_by_the_next_ingest(
    piper_env: Settings, warehouse
) -> None:
    """The silver domain tables commit before their Parquet is written: a failure in between
    (here a file in the way of the copy's directory, as a full disk or a kill would) leaves a
    pending mark committed with the data, and the next `piper ingest` exports it even with
    nothing to read and nothing in the refresh ledger."""
    _small_spool(piper_env.raw_root)
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    tools = piper_env.data_root / "silver" / "tool_events"
    with warehouse() as con:
        rows = con.execute("SELECT count(*) FROM silver_tool_events").fetchone()[0]
    assert rows > 0 and parquet_rows(tools) == rows

    for part in sorted(tools.rglob("*"), reverse=True):
        part.unlink() if part.is_file() else part.rmdir()
    tools.rmdir()
    tools.write_text("in the way")  # the export cannot create its directory
    out = runner.invoke(app, ["materialize", "--model", "silver_tool_events"])
    assert out.exit_code == 1  # the table committed, its copy failed
    tools.unlink()

    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    assert "nothing to ingest" in out.output
    assert parquet_rows(tools) == rows
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM export_pending").fetchone() == (0,)


def test_a_damaged_serving_parquet_is_fixed_by_piper_publish(piper_env: Settings) -> None:
    """docs/runbook.md "Derived files are stale": Grafana's copy is rebuilt by `piper publish`."""
    _small_spool(piper_env.raw_root, artists=3)
    ingest(piper_env)
    assert runner.invoke(app, ["publish"]).exit_code == 0
    current = piper_env.serving_dir / "current"
    served = sorted(p.name for p in current.glob("*.parquet"))
    assert served
    damaged = current / "health_ingest_daily.parquet"
    rows = parquet_rows_of(damaged)
    assert rows > 0
    damaged.write_bytes(b"PAR1 not parquet at all")
    with pytest.raises(duckdb.Error):
        parquet_rows_of(damaged)

    out = runner.invoke(app, ["publish"])
    assert out.exit_code == 0, out.output
    assert parquet_rows_of(current / "health_ingest_daily.parquet") == rows  # a new version
    for name in served:
        parquet_rows_of(current / name)  # every served file reads again


def parquet_rows_of(path: Path) -> int:
    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_runbook_has_the_sections_the_operator_is_sent_to() -> None:
    runbook = (REPO_ROOT / "docs" / "runbook.md").read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    assert {"the-warehouse-is-damaged", "the-disk-is-full", "derived-files-are-stale"} <= anchors
    named = {
        m
        for path in (REPO_ROOT / "piper_dagster").rglob("*.py")
        for m in re.findall(r"(?:runbook\.md|\{RUNBOOK\})#([a-z][a-z0-9-]*)", path.read_text())
    }
    assert "the-disk-is-full" in named and named <= anchors, named - anchors
