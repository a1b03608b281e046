"""The spool asset on a real Dagster instance, in-process and through the dagster CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import dagster as dg
import pytest

from piper_dagster.defs.partitions import daily_partitions, range_tags
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import EXAMPLES, REPO_ROOT, defs, ev, write_spool_file


def _spool_three_days(settings: Settings) -> None:
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        n = int(day[-1])
        write_spool_file(
            settings.raw_root,
            f"ws001/alice/{day}_s.jsonl",
            ev(n * 10, f"{day}T10:00:00Z") + ev(n * 10 + 1, f"{day}T11:00:00Z"),
        )


def test_definitions_load_and_spool_asset_is_declared_as_designed() -> None:
    from piper_dagster_tests.factories import defs

    asset = defs().resolve_assets_def("spool_events")
    assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    daily = daily_partitions(load_settings())
    assert asset.partitions_def == daily
    assert daily.end_offset == 1
    assert daily.start.date() == date(2026, 1, 1)
    spec = next(iter(asset.specs))
    assert spec.kinds == {"duckdb"}
    assert asset.op.pool == "duckdb"
    assert asset.descriptions_by_key[spec.key]


def test_loading_the_code_location_prints_no_warning() -> None:
    """Every `dagster dev`, run and CLI call loads it: operators should not learn to skim noise."""
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "default",
            "-c",
            "from piper_dagster.definitions import defs; defs()",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Warning" not in out.stderr, out.stderr


def test_a_partition_range_is_one_run_and_rematerializing_is_idempotent(
    piper_env: Settings, warehouse
) -> None:
    _spool_three_days(piper_env)
    with dg.DagsterInstance.get() as instance:
        tags = range_tags(date(2026, 3, 2), date(2026, 3, 3))
        result = dg.materialize(
            [defs().get_assets_def("spool_events")], instance=instance, tags=tags
        )
        assert result.success
        mats = result.asset_materializations_for_node("spool_events")
        assert sorted(m.partition for m in mats) == ["2026-03-02", "2026-03-03"]
        assert mats[0].metadata["events"].value == 4
        assert "2 files new" in mats[0].metadata["plan"].value
        again = dg.materialize(
            [defs().get_assets_def("spool_events")], instance=instance, tags=tags
        )
        assert (
            again.asset_materializations_for_node("spool_events")[0].metadata["events"].value == 0
        )
        runs = instance.get_runs()
        assert len(runs) == 2
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (4,)


@pytest.mark.slow
def test_dagster_cli_materializes_a_partition_range(piper_env: Settings, warehouse) -> None:
    _spool_three_days(piper_env)
    write_spool_file(
        piper_env.raw_root,
        "ws042/jdoe/2026-03-04_valid.jsonl",
        (EXAMPLES / "2026-03-04_valid.jsonl").read_bytes(),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "piper_dagster.definitions",
            "--select",
            "*",
            "--partition-range",
            "2026-03-02...2026-03-04",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (26,)
        # Silver and gold were built in the same run, for the whole range.
        assert con.execute(
            "SELECT count(DISTINCT event_date) FROM gold_data_quality_daily"
        ).fetchone() == (3,)
        assert (
            con.execute("SELECT sum(tool_invocations) FROM gold_tool_reliability_daily").fetchone()[
                0
            ]
            > 0
        )
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1
