"""The Dagster instance piper sets up from dagster.yaml (embedded default)."""

from __future__ import annotations

import dagster as dg

from piper_dagster.settings import Settings
from piper_dagster_tests.factories import defs


def test_instance_config_fits_a_single_writer_warehouse_on_two_cores(piper_env: Settings) -> None:
    with dg.DagsterInstance.get() as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.run_queue_config.max_concurrent_runs == 2
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_every_warehouse_writer_is_in_the_duckdb_pool_with_single_run_backfills() -> None:
    for asset in defs().assets or []:
        assert isinstance(asset, dg.AssetsDefinition)
        assert asset.op.pool == "duckdb", asset.node_def.name
        assert asset.backfill_policy == dg.BackfillPolicy.single_run(), asset.node_def.name
