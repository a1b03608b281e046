"""The checks in Dagster, on a real instance: results with the spool materialization, one
recorded row per partition, blocking on a failed invalid rate, freshness on its own job."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import duckdb

from piper_dagster.defs.partitions import range_tags
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.serving import init_sql
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import defs, touched_event_dates_sensor

START = date(2026, 3, 2)
MODELS = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]


def _served(settings: Settings) -> duckdb.DuckDBPyConnection:
    """What Grafana reads: the serving layer's views, as the provisioned initSql makes them."""
    con = duckdb.connect()
    con.execute(init_sql(settings.serving_dir))
    return con


def _evaluations(instance: dg.DagsterInstance, name: str) -> list:
    key = dg.AssetCheckKey(dg.AssetKey("spool_events"), name)
    return instance.event_log_storage.get_asset_check_execution_history(key, limit=10)


def _materialize_all(
    instance: dg.DagsterInstance, first: date, last: date
) -> dg.ExecuteInProcessResult:
    """The spool and every model for spool dates first..last, in one run (as a backfill)."""
    return dg.materialize(
        list(defs().assets),  # type: ignore[arg-type]
        selection=["spool_events", *MODELS],
        instance=instance,
        tags=range_tags(first, last),
        raise_on_error=False,
    )


def test_spool_checks_with_the_materialization_and_a_row_per_partition(
    piper_env: Settings, warehouse
) -> None:
    asset = defs().resolve_assets_def("spool_events")
    specs = {s.name: s for s in asset.check_specs}
    assert set(specs) == {"volume", "invalid_rate", "clock_skew", "refresh_backlog"}
    assert specs["invalid_rate"].blocking and not specs["volume"].blocking
    assert "docs/runbook.md#invalid-rate" in specs["invalid_rate"].description

    generate_spool(
        piper_env.raw_root, GenerateOptions(start=START, days=3, artists=6, skewed_hosts=2)
    )
    with dg.DagsterInstance.get() as instance:
        result = _materialize_all(instance, START, START + timedelta(days=2))
        assert result.success  # clock skew fails (ERROR) but does not block gold
        evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert evals["invalid_rate"].passed
        skew = evals["clock_skew"]
        assert not skew.passed and skew.severity == dg.AssetCheckSeverity.ERROR
        assert skew.metadata["evaluated"].value == 3
        assert skew.metadata["value"].value > 0.05
        assert skew.metadata["runbook"].value == "docs/runbook.md#clock-skew"
        # Every skewed host of the worst partition, with its share and offset (issue #11).
        hosts = skew.metadata["detail"].value["hosts"]
        assert len(hosts) == skew.metadata["detail"].value["hosts_total"] == 2
        for h in hosts:
            assert f"{h['host']} {h['share']:.2%}" in skew.metadata["hint"].value
            assert h["host"] in skew.description
        # Three days, no same-weekday baseline: volume could not judge. SKIP passes, says so.
        vol = evals["volume"]
        assert vol.passed and vol.metadata["status"].value == "SKIP"
        assert vol.metadata["skip_count"].value == 9  # 3 partitions x 3 source families
        assert vol.description.startswith("SKIP, not judged: ") and "baseline" in vol.description
        assert "not_passed" not in vol.metadata and len(vol.metadata["not_judged"].value) == 9
        assert len(result.asset_materializations_for_node("gold_models")) > 0
        # The refresh backlog is evaluated with every spool run: what it ingested waits ~0 s.
        backlog = evals["refresh_backlog"]
        assert backlog.passed and backlog.metadata["runbook"].value.endswith("#refresh-backlog")
    with warehouse() as con:
        rows = con.execute(
            "SELECT check_name, count(DISTINCT partition_date), count(DISTINCT run_id)"
            " FROM pipeline_check_results GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("clock_skew", 3, 1),
        ("invalid_rate", 3, 1),
        ("refresh_backlog", 0, 1),
        ("volume", 3, 1),
    ]
    served = _served(piper_env).execute(
        "SELECT DISTINCT status FROM pipeline_check_results WHERE check_name = 'volume'"
    )
    assert served.fetchall() == [("SKIP",)]  # recorded and served as SKIP, not PASS


def test_a_failed_invalid_rate_blocks_silver_and_gold(piper_env: Settings, warehouse) -> None:
    generate_spool(
        piper_env.raw_root,
        GenerateOptions(
            start=START,
            days=1,
            artists=6,
            damage=frozenset({"invalid_json", "wrong_type"}),
            damage_rate=0.05,
        ),
    )
    with dg.DagsterInstance.get() as instance:
        result = _materialize_all(instance, START, START)
        assert not result.success
        check = _evaluations(instance, "invalid_rate")[0]
        evaluation = check.event.dagster_event.event_specific_data
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["detail"].value["by_reason"]
        # The ingest is committed (exactly once), but nothing downstream was built ...
        mat = instance.get_latest_materialization_event(dg.AssetKey("spool_events"))
        assert mat.asset_materialization.metadata["downstream_blocked"].value is True
        assert instance.get_latest_materialization_event(dg.AssetKey(MODELS[-1])) is None
        # ... nor will the late-data sensor build it.
        context = dg.build_sensor_context(instance=instance, definitions=defs())
        assert touched_event_dates_sensor(context).run_requests == []
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone()[0] > 0
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    # No gold run followed, yet Grafana sees the quarantine and the failed check.
    served = _served(piper_env)
    assert served.execute("SELECT sum(lines) FROM health_quarantine_daily").fetchone() == (
        quarantined,
    )
    assert served.execute(
        "SELECT status FROM pipeline_check_results WHERE check_name = 'invalid_rate'"
    ).fetchall() == [("FAIL",)]


def test_a_blocked_day_holds_back_its_own_dates_only(piper_env: Settings) -> None:
    """A range run (a backfill) with one spool day past the invalid-rate FAIL threshold: that
    day's event dates wait for an operator, the late-data sensor refreshes the others."""
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=3, artists=6))
    bad_day = START + timedelta(days=1)
    garbage = piper_env.raw_root / "ws900" / "bob" / f"{bad_day}_broken.jsonl"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b'{"schema_version": "1.0", "event_id": \n' * 300)
    with dg.DagsterInstance.get() as instance:
        result = _materialize_all(instance, START, START + timedelta(days=2))
        assert not result.success  # the blocking check failed the step: gold was skipped
        meta = instance.get_latest_materialization_event(
            dg.AssetKey("spool_events")
        ).asset_materialization.metadata
        assert meta["blocked_partitions"].value == [bad_day.isoformat()]
        touched = {date.fromisoformat(d) for d in meta["event_dates"].value}
        held = {date.fromisoformat(d) for d in meta["held_back_event_dates"].value}
        assert bad_day in held and held < touched

        context = dg.build_sensor_context(instance=instance, definitions=defs())
        requested: set[date] = set()
        for request in touched_event_dates_sensor(context).run_requests:
            first = date.fromisoformat(request.tags["dagster/asset_partition_range_start"])
            last = date.fromisoformat(request.tags["dagster/asset_partition_range_end"])
            requested |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
        assert requested == touched - held and START in requested


def test_freshness_runs_on_its_own_job(piper_env: Settings, warehouse) -> None:
    generate_spool(piper_env.raw_root, GenerateOptions(start=START, days=1, artists=2))
    assert "freshness_schedule" in [s.name for s in defs().schedules or []]  # and prune_schedule
    schedule = defs().resolve_schedule_def("freshness_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.DagsterInstance.get() as instance:
        dg.materialize(
            [defs().resolve_assets_def("spool_events")],
            instance=instance,
            tags=range_tags(START, START),
        )
        job = defs().resolve_job_def("freshness_check")
        assert job.execute_in_process(instance=instance).success
        (check,) = _evaluations(instance, "freshness")
        evaluation = check.event.dagster_event.event_specific_data
        # Data of March 2026, now is later: stale, every family.
        assert not evaluation.passed
        assert {"value_artists", "value_farm", "value_storage"} <= set(evaluation.metadata)
        # The refresh backlog is evaluated with it (the spool run ingested, nothing refreshed).
        (backlog,) = _evaluations(instance, "refresh_backlog")[:1]
        assert backlog.run_id == _evaluations(instance, "freshness")[0].run_id
        assert "event dates wait for a refresh" in (
            backlog.event.dagster_event.event_specific_data.metadata["hint"].value
        )
    with warehouse() as con:
        assert con.execute(
            "SELECT count(*), count(partition_date) FROM pipeline_check_results"
            " WHERE check_name = 'freshness'"
        ).fetchone() == (3, 0)
    served = _served(piper_env).execute(
        "SELECT count(*) FROM pipeline_check_results WHERE check_name = 'freshness'"
    )
    assert served.fetchone() == (3,)


def test_the_runbook_is_a_link_when_it_has_a_web_address(piper_env: Settings) -> None:
    # Check specs are built when the code location loads: load it in a process of its own.
    url = "https://git.studio.example/pipeline/piper/-/blob/main/docs/runbook.md"
    script = (
        "from piper_dagster.definitions import defs;"
        "spec = {s.name: s for s in defs().resolve_assets_def('spool_events').check_specs}['volume'];"
        "print(spec.description); print(type(spec.metadata['runbook']).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PIPER_CHECKS__RUNBOOK_URL": url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Runbook: {url}#volume" in out
    assert out.split()[-1] == "UrlMetadataValue"
