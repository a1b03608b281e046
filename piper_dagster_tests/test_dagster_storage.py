"""piper's SQLite event log storage (piper_dagster/defs/storage.py) on real instances: what it
writes, Dagster's stock storage reads; two processes write one instance at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from piper_dagster.dagster_home import HOME_BY_VARIABLE, INSTANCE_YAML
from piper_dagster.defs.storage import RUN_SHARD_ENGINES, PiperSqliteEventLogStorage
from piper_dagster.settings import Settings

# Toy assets (a module of its own: `dagster asset materialize -f` loads it in child processes):
# a daily-partitioned asset, one downstream with a check, single-run backfills as piper's.
TOY = textwrap.dedent(
    """
    import dagster as dg

    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")

    @dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run())
    def toy_up(context: dg.AssetExecutionContext) -> None:
        for key in context.partition_keys:
            context.log_event(dg.AssetMaterialization("toy_up", partition=key))

    @dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run(), deps=[toy_up],
              check_specs=[dg.AssetCheckSpec("rows", asset="toy_down")], pool="duckdb")
    def toy_down(context: dg.AssetExecutionContext):
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(passed=True, check_name="rows")

    defs = dg.Definitions(assets=[toy_up, toy_down])
    """
)


def toy_module(tmp_path: Path) -> Path:
    path = tmp_path / "toy_assets.py"
    path.write_text(TOY)
    return path


def materialize_cmd(module: Path, first: str, last: str) -> list[str]:
    return [
        sys.executable, "-m", "dagster", "asset", "materialize", "-f", str(module),
        "--select", "*", "--partition-range", f"{first}...{last}",
    ]  # fmt: skip


def stock_instance(home: Path, tmp_path: Path) -> dg.DagsterInstance:
    """A stock Dagster instance (no piper storage) on the same DAGSTER_HOME's files."""
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    del config["event_log_storage"]
    stock_dir = tmp_path / "stock_config"
    stock_dir.mkdir(exist_ok=True)
    (stock_dir / "dagster.yaml").write_text(yaml.safe_dump(config))
    instance = dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(home), config_dir=str(stock_dir))
    )
    assert type(instance.event_log_storage) is SqliteEventLogStorage
    return instance


def test_the_instance_uses_pipers_event_log_where_dagsters_default_was(piper_env: Settings) -> None:
    home = Path(os.environ["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PiperSqliteEventLogStorage)
        # Same files as Dagster's default: an existing instance keeps its history.
        assert Path(storage._base_dir) == home / "history" / "runs"
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert Path(instance.run_storage._conn_string.split("///")[1]).parent == home / "history"
        # One connection per shard, kept; commits without a full fsync (WAL, NORMAL = 1).
        with storage.index_connection() as conn:
            first = conn.connection.dbapi_connection
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with storage.index_connection() as conn:
            assert conn.connection.dbapi_connection is first


def test_run_shards_keep_a_bounded_number_of_files_open(piper_env: Settings) -> None:
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        for i in range(3 * RUN_SHARD_ENGINES):
            instance.report_engine_event(f"event {i}", job_name="toy", run_id=f"run-{i:03d}")
        runs_dir = os.path.realpath(storage._base_dir)
        open_dbs = {
            os.path.basename(target)
            for fd in os.listdir("/proc/self/fd")
            if (target := os.path.realpath(f"/proc/self/fd/{fd}")).startswith(runs_dir)
            and target.endswith(".db")
        }
        assert "index.db" in open_dbs
        assert len(open_dbs - {"index.db"}) == RUN_SHARD_ENGINES
        # An evicted run's log is read again (its shard reopened).
        assert [r.event_log_entry.message for r in instance.get_records_for_run("run-000").records]
        # wipe() unlinks the run shards: writes after it land in new files, read back.
        instance.wipe()
        instance.report_engine_event("after the wipe", job_name="toy", run_id="run-001")
        (record,) = instance.get_records_for_run("run-001").records
        assert record.event_log_entry.message == "after the wipe"


def test_what_piper_writes_a_stock_instance_reads(piper_env: Settings, tmp_path: Path) -> None:
    home = Path(os.environ["DAGSTER_HOME"])
    env = {**os.environ, "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}
    subprocess.run(
        materialize_cmd(toy_module(tmp_path), "2026-01-01", "2026-01-10"), env=env, check=True
    )
    with stock_instance(home, tmp_path) as stock:
        (run,) = stock.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        days = {f"2026-01-{d:02d}" for d in range(1, 11)}
        for name in ("toy_up", "toy_down"):
            key = dg.AssetKey(name)
            assert stock.get_materialized_partitions(key) == days
            (record,) = stock.get_asset_records([key])
            assert record.asset_entry.last_materialization_record is not None
        check = dg.AssetCheckKey(dg.AssetKey("toy_down"), "rows")
        executions = stock.event_log_storage.get_asset_check_execution_history(check, limit=100)
        # Planned per partition; the one unpartitioned result marks an execution passed.
        assert any(e.status.value == "SUCCEEDED" for e in executions)
        # The pool's slot was claimed and is free again.
        info = stock.event_log_storage.get_concurrency_info("duckdb")
        assert info.slot_count == 1 and not info.claimed_slots


def test_two_processes_write_the_same_instance_at_once(piper_env: Settings, tmp_path: Path) -> None:
    module = toy_module(tmp_path)
    env = {**os.environ, "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "false"}
    # Planned events per partition: the most index-shard writes, from both processes at once.
    ranges = (("2026-02-01", "2026-03-31"), ("2026-04-01", "2026-05-31"))
    # The instance exists before its users start, as `piper init` leaves it: two processes
    # creating its SQLite schedule storage at once race in Dagster's alembic stamping.
    with dg.DagsterInstance.get():
        pass
    procs = [
        subprocess.Popen(materialize_cmd(module, lo, hi), env=env, stderr=subprocess.PIPE)
        for lo, hi in ranges
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-3000:]
    with stock_instance(Path(os.environ["DAGSTER_HOME"]), tmp_path) as stock:
        assert {r.status for r in stock.get_runs()} == {dg.DagsterRunStatus.SUCCESS}
        assert len(stock.get_materialized_partitions(dg.AssetKey("toy_down"))) == 59 + 61


def test_every_process_that_creates_runs_gets_one_planned_event_per_asset(
    tmp_path: Path,
) -> None:
    from piper_dagster.cli.root import PLANNED_EVENTS_ENV
    from piper_dagster_tests.factories import REPO_ROOT

    ((key, value),) = PLANNED_EVENTS_ENV.items()
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert compose["x-piper"]["environment"][key] == value
    assert f"{key}={value}" in (REPO_ROOT / "Dockerfile").read_text()
    assert f"export {key}={value}" in (REPO_ROOT / "README.md").read_text()
    # piper's CLI sets it at start, for its own runs and the `dagster dev` of `piper demo`.
    env = {k: v for k, v in os.environ.items() if k != key}
    code = (
        "import os, sys\nfrom piper_dagster.cli import app\n"
        "sys.argv = ['piper', 'spool', '--help']\n"  # the root callback runs, then the help
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print(os.environ.get({key!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == value, out.stderr[-2000:]


def test_the_instance_opens_by_its_path_without_dagster_home(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script or a test opening the instance by its directory, DAGSTER_HOME unset, finds piper's
    storage where the home's own dagster.yaml says (the shipped file names the variable)."""
    home = Path(os.environ["DAGSTER_HOME"])
    assert HOME_BY_VARIABLE in INSTANCE_YAML["sqlite"].read_text()
    monkeypatch.delenv("DAGSTER_HOME")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PiperSqliteEventLogStorage)
        assert Path(storage._base_dir) == home / "history" / "runs"
