"""Retention (issue #15, item 4): `piper prune` deletes what `[retention]` lets go, and each of its
"never"s holds: pending exports, refreshes and health aggregations, quarantined lines neither
replayed nor expired, checkpoints of files in the spool, anything while another run is active,
the serving versions readers may hold; Dagster runs: only finished routine ones, never the latest
materialization of a partition. On real DuckDB files and a real Dagster instance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import SENSOR_NAME_TAG
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.dagster_home import INSTANCE_YAML
from piper_dagster.defs.keys import PRUNE_JOB, PRUNE_SCHEDULE, SPOOL_SENSOR
from piper_dagster.defs.retention import PruneReport, prune_all
from piper_dagster.ingest.run import ingest
from piper_dagster.retention import StoreResult
from piper_dagster.serving import VERSIONS, current_version, publish
from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import REPO_ROOT, ev, warehouse_locked, write_spool_file

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05")
# 40 days from now: every day above, and every row written now (quarantined_at, committed_at...),
# is older than the retentions the tests set.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
BAD = b"{not json\n"


def _settings(monkeypatch: pytest.MonkeyPatch, **retention: object) -> Settings:
    for key, value in retention.items():
        monkeypatch.setenv(f"PIPER_RETENTION__{key.upper()}", str(value))
    return load_settings()


def _spool(settings: Settings) -> None:
    """One file per day (three events, one invalid line), each ingested on its own (its own
    ingest_seq), then the ledgers drained as a refresh and a publish would."""
    for i, day in enumerate(DAYS):
        lines = b"".join(ev(10 * i + k, f"{day}T10:00:00Z") for k in range(3)) + BAD
        end = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=23)
        write_spool_file(
            settings.raw_root, f"ws001/alice/{day}_a.jsonl", lines, mtime=end.timestamp()
        )
        ingest(settings)
    with connect(settings.warehouse_path) as con:
        con.execute("DELETE FROM refresh_pending")
        con.execute("DELETE FROM health_pending")


def _count(settings: Settings, sql: str) -> int:
    with connect(settings.warehouse_path, read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])  # type: ignore[index]


def _by_store(stores: list[StoreResult]) -> dict[str, StoreResult]:
    return {s.store: s for s in stores}


def _prune(settings: Settings, *, dry_run: bool = False, **kw: object) -> PruneReport:
    with dg.DagsterInstance.get() as instance:
        return prune_all(instance, settings, dry_run=dry_run, now=NOW, **kw)  # type: ignore[arg-type]


def test_defaults_delete_no_warehouse_data(piper_env: Settings) -> None:
    _spool(piper_env)
    before = _count(piper_env, "SELECT count(*) FROM silver_events")
    report = _prune(piper_env)
    assert report.skipped is None
    stores = _by_store(report.stores)
    assert all(s.rows == 0 for s in report.stores), report.lines()
    assert stores["silver (tables)"].note == "kept forever (0)"
    assert _count(piper_env, "SELECT count(*) FROM silver_events") == before
    assert _count(piper_env, "SELECT count(*) FROM quarantine") == len(DAYS)


def test_silver_never_deletes_a_date_whose_export_refresh_or_health_is_pending(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    with connect(piper_env.warehouse_path) as con:
        # 03-01 waits for its refresh, 03-03 for a compaction, 03-04 for its health aggregates,
        # 03-05's rows (the last ingest) are past the export watermark: only 03-02 may go.
        con.execute(
            "INSERT INTO refresh_pending VALUES ('2026-03-01', 999, now(), 'ingest', NULL, NULL)"
        )
        con.execute("INSERT INTO export_pending VALUES ('silver_events', '2026-03-03')")
        con.execute("INSERT INTO health_pending VALUES ('event_date', '2026-03-04')")
        con.execute("UPDATE export_state SET exported_seq = exported_seq - 1")
    settings = _settings(monkeypatch, silver_days=20)
    parquet = settings.silver_events_dir
    assert (parquet / "event_date=2026-03-02").is_dir()

    dry = _by_store(_prune(settings, dry_run=True).stores)
    assert dry["silver (tables)"].rows == 3 and dry["silver Parquet"].files >= 1
    assert _count(settings, "SELECT count(*) FROM silver_events") == 3 * len(DAYS)
    assert (parquet / "event_date=2026-03-02").is_dir()  # a dry run deletes nothing

    done = _by_store(_prune(settings).stores)
    assert done["silver (tables)"].rows == 3
    assert done["silver Parquet"].files == dry["silver Parquet"].files
    with connect(settings.warehouse_path, read_only=True) as con:
        left = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT event_date FROM silver_events ORDER BY 1"
            ).fetchall()
        ]
        # The dedupe index is kept: a re-sent old event still counts once.
        ids = con.execute("SELECT count(*) FROM event_ids").fetchone()[0]  # type: ignore[index]
    assert left == [date(2026, 3, d) for d in (1, 3, 4, 5)]
    assert ids == 3 * len(DAYS)
    assert not (parquet / "event_date=2026-03-02").exists()
    for day in ("2026-03-01", "2026-03-03", "2026-03-04"):
        assert (parquet / f"event_date={day}").is_dir(), day
    # Again: nothing more (idempotent).
    assert _by_store(_prune(settings).stores)["silver (tables)"].rows == 0


def test_quarantine_keeps_lines_neither_replayed_nor_expired(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    with connect(piper_env.warehouse_path) as con:
        # Spool date 03-02's invalid rate FAILed last: its lines hold gold back.
        con.execute(
            "INSERT INTO pipeline_check_results VALUES ('invalid_rate', 'spool_events',"
            " '2026-03-02', 'all', 'FAIL', 0.25, 0.01, 0.05, NULL, now(), NULL)"
        )
        # Spool date 03-04's health aggregates wait for a publish.
        con.execute("INSERT INTO health_pending VALUES ('spool_date', '2026-03-04')")
    # Not expired: kept whatever their age (the default), and too young for 365 days.
    for days in (0, 365):
        settings = _settings(monkeypatch, quarantine_expire_days=days)
        assert _by_store(_prune(settings).stores)["quarantine"].rows == 0
    assert _count(piper_env, "SELECT count(*) FROM quarantine") == len(DAYS)

    settings = _settings(monkeypatch, quarantine_expire_days=7)
    qfile = settings.quarantine_dir / "2026-03-01" / "quarantine.jsonl"
    assert "not json" in qfile.read_text()
    assert _by_store(_prune(settings).stores)["quarantine"].rows == len(DAYS) - 2
    with connect(settings.warehouse_path, read_only=True) as con:
        left = con.execute("SELECT spool_date FROM quarantine").fetchall()
        pending = con.execute("SELECT count(*) FROM export_pending").fetchone()[0]  # type: ignore[index]
    assert sorted(left) == [(date(2026, 3, 2),), (date(2026, 3, 4),)]
    assert pending == 0
    assert "not json" not in qfile.read_text()  # the file was rewritten without them
    assert "not json" in (settings.quarantine_dir / "2026-03-02" / "quarantine.jsonl").read_text()


def test_bookkeeping_keeps_each_latest_check_outcome(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    with connect(piper_env.warehouse_path) as con:
        for status, at in (
            ("FAIL", "2026-03-02 10:00:00"),
            ("PASS", "2026-03-03 10:00:00"),
            ("WARN", None),
        ):
            con.execute(
                "INSERT INTO pipeline_check_results VALUES ('volume', 'spool_events',"
                " '2026-03-02', 'artists', ?, 1, 0.5, 0.2, NULL,"
                " coalesce(?::TIMESTAMPTZ, now() + INTERVAL 35 DAY), NULL)",
                [status, at and f"{at}+00"],
            )
        con.execute(
            "INSERT INTO pipeline_check_results VALUES ('volume', 'spool_events',"
            " '2026-03-01', 'farm', 'FAIL', 1, 0.5, 0.2, NULL, '2026-03-01 10:00:00+00', NULL)"
        )
        # What was sent: an old message and one of today.
        for sent_at in ("2026-03-01 10:00:00+00", None):
            con.execute(
                "INSERT INTO alert_log VALUES (coalesce(?::TIMESTAMPTZ, now() + INTERVAL 35 DAY), 'm',"
                " 'webhook', 'problem', 'volume', 'farm', '2026-03-01', 'FAIL', 'PASS', NULL, true, 1,"
                " NULL, 'volume FAIL')",
                [sent_at],
            )
    settings = _settings(monkeypatch, bookkeeping_days=10)
    batches = _count(settings, "SELECT count(*) FROM ingest_batches")
    stores = _by_store(_prune(settings).stores)
    assert stores["ingest_batches"].rows == batches  # every batch is from March's first days
    assert stores["pipeline_check_results"].rows == 2
    assert stores["alert_log"].rows == 1
    assert _count(settings, "SELECT count(*) FROM alert_log") == 1
    with connect(settings.warehouse_path, read_only=True) as con:
        left = con.execute(
            "SELECT partition_date, status FROM pipeline_check_results ORDER BY 1"
        ).fetchall()
    # 03-01's only outcome is old but the latest of its scope: kept (it may hold a date back).
    assert left == [(date(2026, 3, 1), "FAIL"), (date(2026, 3, 2), "WARN")]


def test_checkpoints_of_files_still_in_the_spool_are_kept(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    gone = piper_env.raw_root / "ws001" / "alice" / "2026-03-01_a.jsonl"
    gone.unlink()
    settings = _settings(monkeypatch, spool_checkpoint_days=10)
    result = _by_store(_prune(settings).stores)["spool_files (checkpoints)"]
    assert result.rows == 1
    with connect(settings.warehouse_path, read_only=True) as con:
        files = {r[0] for r in con.execute("SELECT source_file FROM spool_files").fetchall()}
    assert files == {f"ws001/alice/{d}_a.jsonl" for d in DAYS[1:]}
    # The files left are read no more: a new ingest finds nothing to do.
    assert ingest(settings).files_read == 0
    # An unreachable spool (an NFS mount gone) looks empty: then nothing is deleted at all.
    settings.raw_root.rename(settings.raw_root.with_name("away"))
    result = _by_store(_prune(load_settings()).stores)["spool_files (checkpoints)"]
    assert result.rows == 0 and "not reachable" in result.note


def test_never_prunes_while_another_run_is_active_or_holds_the_warehouse(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    settings = _settings(monkeypatch, silver_days=20, quarantine_expire_days=7)
    with dg.DagsterInstance.get() as instance:
        live = instance.add_run(
            dg.DagsterRun(job_name="ingest_and_refresh", status=dg.DagsterRunStatus.STARTED)
        )
        said: list[str] = []
        t0 = time.monotonic()
        report = prune_all(
            instance, settings, dry_run=False, now=NOW, wait_seconds=1.5, say=said.append
        )
        assert 1.0 <= time.monotonic() - t0 < 10
        assert said and live.run_id in said[0]  # it said what it waited for
        assert report.skipped is not None and live.run_id in report.skipped
        # Its own run is not "another" one (the prune job's op).
        assert (
            prune_all(instance, settings, dry_run=True, now=NOW, own_run_id=live.run_id).skipped
            is None
        )
    assert _count(settings, "SELECT count(*) FROM silver_events") == 3 * len(DAYS)
    assert _count(settings, "SELECT count(*) FROM quarantine") == len(DAYS)
    # The CLI: one line, exit 2.
    monkeypatch.setenv("PIPER_DAGSTER__WAIT_SECONDS", "1")
    out = CliRunner().invoke(app, ["prune"])
    assert out.exit_code == 2, out.output
    assert "is active" in out.output.splitlines()[-1]
    with dg.DagsterInstance.get() as instance:
        instance.report_run_canceled(instance.get_run_by_id(live.run_id))  # type: ignore[arg-type]
    # A process holding the warehouse's lock (a run's step, a shell): bounded wait, then skipped.
    import piper_dagster.warehouse as warehouse_module

    monkeypatch.setattr(warehouse_module, "LOCK_WAIT_SECONDS", 1.0)
    with warehouse_locked(settings.warehouse_path):
        report = _prune(settings)
    assert report.skipped is not None and "locked" in report.skipped
    assert _count(settings, "SELECT count(*) FROM silver_events") == 3 * len(DAYS)
    out = CliRunner().invoke(app, ["prune"])  # nothing active now
    assert out.exit_code == 0, out.output
    assert "silver (tables)              deleted 15 rows" in out.output  # real now: every date


def test_serving_never_loses_the_current_version_nor_one_a_reader_may_hold(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spool(piper_env)
    for _ in range(4):
        publish(piper_env)
    versions = piper_env.serving_dir / VERSIONS
    monkeypatch.setenv("PIPER_SERVING__KEEP_VERSIONS", "2")
    names = sorted(p.name for p in versions.iterdir() if not p.name.startswith("."))
    assert len(names) == 4  # superseded less than serving.keep_seconds ago: all kept so far
    assert _by_store(_prune(load_settings()).stores)["serving versions"].files == 0
    monkeypatch.setenv("PIPER_SERVING__KEEP_SECONDS", "0")
    time.sleep(0.05)
    result = _by_store(_prune(load_settings()).stores)["serving versions"]
    left = sorted(p.name for p in versions.iterdir() if not p.name.startswith("."))
    assert left == names[2:] and result.files > 0 and result.bytes > 0
    assert current_version(piper_env.serving_dir) == names[-1]


# --- Dagster: runs and ticks ---------------------------------------------------------------------

DAILY = dg.DailyPartitionsDefinition(start_date="2026-03-01")


@dg.asset(partitions_def=DAILY)
def tiny() -> None:
    """A partitioned asset standing for piper's (the run history is what matters here)."""


@dg.op
def boom() -> None:
    raise RuntimeError("fails")


@dg.job
def failing() -> None:
    boom()


def test_runs_only_finished_routine_ones_and_never_the_latest_materialization(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    routine = {SENSOR_NAME_TAG: SPOOL_SENSOR}
    job = dg.Definitions(
        assets=[tiny], jobs=[dg.define_asset_job("tiny_job", [tiny])]
    ).resolve_job_def("tiny_job")
    with dg.DagsterInstance.get() as instance:

        def run(partition: str, tags: dict[str, str]) -> str:
            result = job.execute_in_process(instance=instance, partition_key=partition, tags=tags)
            return result.run_id

        superseded = run("2026-03-01", routine)
        latest_a = run("2026-03-01", routine)  # the latest materialization of 03-01
        operator = run("2026-03-02", {})  # an operator's command: not routine
        newest = run("2026-03-03", routine)
        failed = failing.execute_in_process(
            instance=instance, tags=routine, raise_on_error=False
        ).run_id
        failed_newest = failing.execute_in_process(
            instance=instance, tags=routine, raise_on_error=False
        ).run_id
        live = instance.add_run(
            dg.DagsterRun(job_name="tiny_job", status=dg.DagsterRunStatus.STARTED, tags=routine)
        ).run_id
        before = instance.get_materialized_partitions(dg.AssetKey("tiny"))
        far = datetime.now(UTC) + timedelta(days=40)  # everything is 40 days old

        dry = prune_all(instance, piper_env, dry_run=True, now=far, own_run_id=live)
        assert _by_store(dry.stores)["dagster runs"].rows == 2
        assert instance.get_run_by_id(superseded) is not None
        # Young runs are kept: the default is 30 days.
        assert (
            _by_store(prune_all(instance, piper_env, dry_run=False, own_run_id=live).stores)[
                "dagster runs"
            ].rows
            == 0
        )
        done = prune_all(instance, piper_env, dry_run=False, now=far, own_run_id=live)
        assert _by_store(done.stores)["dagster runs"].rows == 2
        gone = {superseded, failed}
        for run_id in (superseded, latest_a, operator, newest, failed, failed_newest, live):
            assert (instance.get_run_by_id(run_id) is None) == (run_id in gone), run_id
        # Its shard file went (Dagster's SQLite storage would leave it, emptied).
        shard = Path(instance.event_log_storage.path_for_shard(superseded))  # type: ignore[attr-defined]
        assert not shard.exists()
        assert Path(instance.event_log_storage.path_for_shard(latest_a)).exists()  # type: ignore[attr-defined]
        assert (
            instance.get_records_for_run(superseded).records == []
        )  # and its event log (reading makes an empty shard again)
        # The UI's partition status is whole: every partition still materialized.
        assert (
            instance.get_materialized_partitions(dg.AssetKey("tiny"))
            == before
            == {
                "2026-03-01",
                "2026-03-02",
                "2026-03-03",
            }
        )
        monkeypatch.setenv("PIPER_RETENTION__DAGSTER_RUN_DAYS", "0")
        kept = prune_all(
            instance, load_settings(), dry_run=False, now=far + timedelta(days=999), own_run_id=live
        )
        assert _by_store(kept.stores)["dagster runs"].rows == 0


def test_tick_retention_in_both_instance_files(piper_env: Settings, tmp_path: Path) -> None:
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.get() as instance:  # piper's SQLite instance, from its dagster.yaml
        for kind in (InstigatorType.SENSOR, InstigatorType.SCHEDULE):
            got = instance.get_tick_retention_settings(kind)
            assert got[TickStatus.SKIPPED] == 1, kind
            assert got[TickStatus.SUCCESS] == got[TickStatus.FAILURE] == 30, kind
            assert got[TickStatus.STARTED] == -1, kind  # a tick in progress is never purged
    # The Postgres file passes Dagster's instance config validation with the same retention.
    home = tmp_path / "pg"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML["postgres"].read_text())
    ref = InstanceRef.from_dir(str(home))
    assert ref.settings["retention"]["sensor"]["purge_after_days"] == {
        "skipped": 1,
        "success": 30,
        "failure": 30,
    }
    assert ref.settings["retention"]["schedule"] == ref.settings["retention"]["sensor"]


def test_the_prune_job_and_schedule(piper_env: Settings) -> None:
    from piper_dagster.definitions import build_definitions

    _spool(piper_env)
    defs = build_definitions(piper_env)
    schedule = defs.resolve_schedule_def(PRUNE_SCHEDULE)
    assert schedule.cron_schedule == piper_env.retention.prune_cron
    assert schedule.job_name == PRUNE_JOB
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(PRUNE_JOB).execute_in_process(instance=instance)
        assert result.success
        # It ran as a routine run of the schedule would: its own STARTED run did not block it.
        materialized = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        assert materialized
        meta = materialized[0].step_output_data.metadata
        assert "skipped" not in meta and "silver (tables)" in meta
        # Another run active: the op holds the pool slot, so it skips at once, and says why.
        live = instance.add_run(
            dg.DagsterRun(job_name="ingest_and_refresh", status=dg.DagsterRunStatus.STARTED)
        )
        result = defs.resolve_job_def(PRUNE_JOB).execute_in_process(instance=instance)
        assert result.success
        out = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        assert live.run_id in out[0].step_output_data.metadata["skipped"].value


def test_replayed_lines_records_go_only_when_asked(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piper_dagster.quarantine import replay
    from piper_dagster_tests.factories import quarantined_by_an_old_contract

    _spool(piper_env)
    good = [ev(900 + i, "2026-03-03T10:00:00Z").rstrip(b"\n") for i in range(2)]
    quarantined_by_an_old_contract(piper_env, good, "unknown_event_type")
    assert replay(piper_env, reason="unknown_event_type").events == 2
    assert _by_store(_prune(piper_env).stores)["quarantine_replayed"].rows == 0  # default: kept
    settings = _settings(monkeypatch, quarantine_replayed_days=7)
    assert _by_store(_prune(settings).stores)["quarantine_replayed"].rows == 2
    # The lines the replay did not pass are still quarantined: only expiry removes those.
    assert _count(settings, "SELECT count(*) FROM quarantine") == len(DAYS)


def test_cli_dry_run_and_bad_settings(piper_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh install (the schedule may tick before the first ingest): nothing to do, no warehouse made.
    out = CliRunner().invoke(app, ["prune"])
    assert out.exit_code == 0, out.output
    assert "none yet" in out.output and not piper_env.warehouse_path.exists()
    _spool(piper_env)
    monkeypatch.setenv("PIPER_RETENTION__SILVER_DAYS", "20")
    out = CliRunner().invoke(app, ["prune", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "dry run: nothing deleted" in out.output
    assert "would delete" in out.output and "dagster runs" in out.output
    assert _count(piper_env, "SELECT count(*) FROM silver_events") == 3 * len(DAYS)
    for name, value, said in (
        ("PIPER_RETENTION__SILVER_DAYS", "1", "at least 2"),
        ("PIPER_RETENTION__BOOKKEEPING_DAYS", "-3", "retention.bookkeeping_days"),
        ("PIPER_RETENTION__PRUNE_CRON", "every day", "cron"),
    ):
        monkeypatch.setenv(name, value)
        out = CliRunner().invoke(app, ["prune"])
        assert out.exit_code == 2, out.output
        assert len(out.output.strip().splitlines()) == 1 and said in out.output, out.output
        monkeypatch.delenv(name)


# --- crash safety ---------------------------------------------------------------------------------

CHILD = """
import os, signal, sys
from datetime import datetime
import dagster as dg
from piper_dagster import retention
from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.defs.retention import PruneReport, prune_all
from piper_dagster.settings import load_settings

mode = sys.argv[1]
if mode == "in-transaction":
    real = retention.load_sql
    def load_sql(name):
        if name == "retention/check_results":  # after the silver and quarantine deletes
            os.kill(os.getpid(), signal.SIGKILL)
        return real(name)
    retention.load_sql = load_sql
elif mode == "after-commit":
    def remove_tree(path):
        os.kill(os.getpid(), signal.SIGKILL)
    retention._remove_tree = remove_tree
settings = load_settings()
ensure_dagster_home(settings)
with dg.DagsterInstance.get() as instance:
    prune_all(instance, settings, dry_run=False, now=datetime.fromisoformat(sys.argv[2]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["in-transaction", "after-commit"])
def test_kill_9_in_the_middle_then_a_rerun_leaves_a_consistent_warehouse(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    _spool(piper_env)
    settings = _settings(monkeypatch, silver_days=20, quarantine_expire_days=7, bookkeeping_days=10)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, mode, NOW.isoformat()],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    events = _count(settings, "SELECT count(*) FROM silver_events")
    quarantined = _count(settings, "SELECT count(*) FROM quarantine")
    if mode == "in-transaction":  # rolled back whole: nothing deleted
        assert (events, quarantined) == (3 * len(DAYS), len(DAYS))
        assert (settings.silver_events_dir / "event_date=2026-03-01").is_dir()
    else:  # committed whole; the files and quarantine exports still to do
        assert (events, quarantined) == (0, 0)
        assert _count(
            settings, "SELECT count(*) FROM export_pending WHERE target = 'quarantine'"
        ) == len(DAYS)
    _prune(settings)  # the rerun
    assert _count(settings, "SELECT count(*) FROM silver_events") == 0
    assert _count(settings, "SELECT count(*) FROM quarantine") == 0
    assert _count(settings, "SELECT count(*) FROM export_pending") == 0
    assert _count(settings, "SELECT count(*) FROM ingest_batches") == 0
    assert not list(settings.silver_events_dir.glob("event_date=*"))
    for day in DAYS:
        assert "not json" not in (settings.quarantine_dir / day / "quarantine.jsonl").read_text()
