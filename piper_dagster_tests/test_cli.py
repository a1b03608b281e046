"""The piper CLI: real commands against a real spool, warehouse and Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.settings import PROJECT_ROOT, Settings
from piper_dagster_tests.factories import EXAMPLES, REPO_ROOT, write_spool_file

runner = CliRunner()


def test_contract_schema_prints_the_generated_json_schema() -> None:
    out = runner.invoke(app, ["contract", "schema"])
    assert out.exit_code == 0
    schema = json.loads(out.stdout)
    assert len(schema["discriminator"]["mapping"]) == 18


def test_init_creates_the_layout(piper_env: Settings) -> None:
    out = runner.invoke(app, ["init"])
    assert out.exit_code == 0, out.output
    assert piper_env.warehouse_path.exists()
    assert (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").exists()
    # Grafana has a serving layer to read before any data (every view binds).
    assert (piper_env.serving_dir / "current" / "gold_publish_health_daily.parquet").is_file()
    assert "serving" in out.output


def test_publish_prints_every_served_table(piper_env: Settings) -> None:
    from piper_dagster.serving import SERVED

    out = runner.invoke(app, ["publish"])
    assert out.exit_code == 0, out.output
    for table in SERVED:
        assert table in out.output


def test_demo_says_where_grafana_reads_and_how_to_start_it(
    tmp_path: Path, piper_env: Settings
) -> None:
    out = runner.invoke(app, ["demo", "--no-ui", "--days", "2", "--dir", str(tmp_path / "demo")])
    assert out.exit_code == 0, out.output
    serving = tmp_path / "demo" / "data" / "serving" / "current"
    assert f"Grafana reads the serving layer {serving}" in out.output
    assert f"PIPER_DATA_ROOT={tmp_path / 'demo' / 'data'}" in out.output
    assert "docker compose up -d --build" in out.output
    # ... from where the compose file is.
    assert f"cd {PROJECT_ROOT} &&" in out.output
    assert (PROJECT_ROOT / "docker-compose.yml").is_file()
    assert (serving / "gold_data_quality_daily.parquet").is_file()


def test_demo_checks_flag_the_damage_and_the_clock_not_an_empty_today(
    tmp_path: Path, piper_env: Settings
) -> None:
    # Eight days: every partition has a same-weekday baseline a week before it.
    out = runner.invoke(app, ["demo", "--no-ui", "--days", "8", "--dir", str(tmp_path / "demo")])
    assert out.exit_code == 0, out.output
    warehouse = tmp_path / "demo" / "data" / "warehouse" / "telemetry.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        flagged = dict(
            con.execute(
                "SELECT check_name, count(*) FROM pipeline_check_results"
                " WHERE status IN ('WARN', 'FAIL') GROUP BY 1"
            ).fetchall()
        )
        newest = con.execute("SELECT max(partition_date) FROM pipeline_check_results").fetchone()
    assert set(flagged) == {"invalid_rate", "clock_skew"}
    assert newest == (date.today() - timedelta(days=1),)


def test_ingest_dry_run_then_ingest_through_dagster(piper_env: Settings, warehouse) -> None:
    for name in ("2026-03-04_valid.jsonl", "2026-03-04_invalid.jsonl"):
        write_spool_file(piper_env.raw_root, f"ws042/jdoe/{name}", (EXAMPLES / name).read_bytes())
    dry = runner.invoke(app, ["ingest", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 files new, 0 grown, 0 changed, 0 unchanged, 0 waiting to settle" in dry.output
    assert "2026-03-04  2 files to read" in dry.output
    assert not piper_env.silver_events_dir.exists()

    out = runner.invoke(app, ["ingest", "--limit", "1"])
    assert out.exit_code == 0, out.output
    assert "files_read 1" in out.output
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    assert "1 files new" in out.output
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        # Two spool runs (the first file read quarantines only: no event date to refresh), then
        # the refresh run of the date the second one added events to: no daemon needed.
        assert len(runs) == 3 and all(r.is_success for r in runs)
        assert runs[0].tags["dagster/asset_partition_range_start"] == "2026-03-04"
        gold = instance.get_latest_materialization_event(dg.AssetKey("gold_publish_health_daily"))
        assert gold is not None and gold.run_id == runs[0].run_id
    assert "refreshing silver and gold for 2026-03-04..2026-03-04" in out.output
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (20,)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (11,)
        assert con.execute("SELECT count(*) FROM gold_publish_health_daily").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM refresh_pending").fetchone() == (0,)
    nothing = runner.invoke(app, ["ingest"])
    assert "nothing to ingest" in nothing.output


def test_spool_generate_writes_a_damaged_spool(tmp_path: Path) -> None:
    out = runner.invoke(
        app,
        [
            "spool",
            "generate",
            "--out",
            str(tmp_path / "s"),
            "--start",
            "2026-03-02",
            "--days",
            "2",
            "--damage",
            "all",
            "--skewed-hosts",
            "1",
        ],
    )
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["valid_events"] > 0 and summary["invalid_by_reason"]
    bad = runner.invoke(app, ["spool", "generate", "--out", str(tmp_path / "t"), "--damage", "x"])
    assert bad.exit_code == 2 and "unknown damage kind" in bad.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PIPER_PATHS__RAW_ROOT": "/nonexistent/spool"}, "spool directory /nonexistent/spool"),
        ({"PIPER_INGEST__SETTLE_SECONDS": "-5"}, "ingest.settle_seconds"),
        ({"PIPER_PATHS__DATA_ROOT": "/proc/piper"}, "not writable"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    piper_env: Settings, env: dict[str, str], message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "piper_dagster.cli", "ingest"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_catalog_list(piper_env: Settings) -> None:
    out = runner.invoke(app, ["catalog", "list"])
    assert out.exit_code == 0, out.output
    assert "publish_success_rate" in out.output and "dq_active_users" in out.output
    one = runner.invoke(app, ["catalog", "list", "--model", "gold_render_health_daily"])
    assert "render_cpu_hours" in one.output and "publish_success_rate" not in one.output
    bad = runner.invoke(app, ["catalog", "list", "--model", "nope"])
    assert bad.exit_code == 2


def test_materialize_and_backfill_run_through_dagster(piper_env: Settings, warehouse) -> None:
    for name in ("2026-03-04_valid.jsonl", "2026-03-04_invalid.jsonl"):
        write_spool_file(piper_env.raw_root, f"ws042/jdoe/{name}", (EXAMPLES / name).read_bytes())
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    out = runner.invoke(app, ["materialize"])
    assert out.exit_code == 0, out.output
    assert "materializing 13 models for 2026-03-04..2026-03-04" in out.output
    assert "gold_publish_health_daily" in out.output
    one = runner.invoke(app, ["materialize", "--model", "gold_render_health_daily"])
    assert one.exit_code == 0 and "materializing 1 models" in one.output
    with warehouse() as con:
        before = con.execute("SELECT * FROM gold_publish_health_daily ORDER BY ALL").fetchall()
    back = runner.invoke(app, ["backfill", "--start", "2026-03-04", "--end", "2026-03-04"])
    assert back.exit_code == 0, back.output
    # Re-read from byte 0, exact: the 20 events and the 11 quarantined lines are duplicates.
    assert "events 0, duplicates 31" in back.output
    with warehouse() as con:
        assert (
            con.execute("SELECT * FROM gold_publish_health_daily ORDER BY ALL").fetchall() == before
        )
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (20,)
    with dg.DagsterInstance.get() as instance:
        # ingest + its refresh, materialize twice, backfill (whose models cleared the ledger).
        assert len(instance.get_runs()) == 5
    unknown = runner.invoke(app, ["materialize", "--model", "gold_nope"])
    assert unknown.exit_code == 2
