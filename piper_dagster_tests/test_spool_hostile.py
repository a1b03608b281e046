"""Spool entries that used to stop the pipeline or wait forever (issue #13 items 3 and 7): names
that are not UTF-8, symlink loops, unreadable files and folders, future mtimes, name dates
outside the partitions. Real files in a tmp spool, the real ingest, CLI, sensor and warehouse."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.ingest.run import ingest
from piper_dagster.serving import publish
from piper_dagster.settings import Settings, load_settings
from piper_dagster.spool.checkpoint import load_states
from piper_dagster.spool.discovery import dated_before, spool_date_of
from piper_dagster.spool.planner import plan_spool
from piper_dagster_tests.factories import (
    HOSTILE_SKIPPED,
    REPO_ROOT,
    defs,
    ev,
    hostile_spool,
    spool_sensor,
    write_spool_file,
)

runner = CliRunner()
GOOD = "ws002/carol/2026-03-04_good.jsonl"


def _ts(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp()


def _piper(*args: str, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    """`piper <args>` as a subprocess. `unprivileged`: without the capabilities that let root
    read any file (so that file modes apply to it, as to the studio's service account)."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux setpriv is needed to drop root's file capabilities"
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "piper_dagster.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _anomalies(warehouse) -> set[tuple[str, str]]:
    with warehouse() as con:
        return set(con.execute("SELECT source_file, kind FROM spool_anomalies").fetchall())


def test_hostile_names_are_skipped_and_reported_and_the_rest_is_ingested(
    piper_env: Settings, warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, GOOD, ev(1))
    hostile_spool(raw)
    with caplog.at_level(logging.WARNING, logger="piper.ingest"):
        r = ingest(piper_env)
    assert r.events == 1 and r.files_read == 1
    assert "1 files new" in r.plan_summary and "4 skipped" in r.plan_summary
    skipped = {s["source_file"]: s["kind"] for s in r.metadata()["skipped"]}
    assert skipped == HOSTILE_SKIPPED
    # The warning names each one, its undecodable bytes written \xNN.
    for name in HOSTILE_SKIPPED:
        assert any(name in m for m in caplog.messages), name
    assert _anomalies(warehouse) == set(HOSTILE_SKIPPED.items())
    # The pipeline-health dashboard's table: files per day, kind and host (never the user).
    publish(piper_env)
    served = piper_env.serving_dir / "current" / "health_spool_anomalies_daily.parquet"
    with warehouse() as con:
        rows = con.execute(
            f"SELECT host, kind, files FROM read_parquet('{served}') ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("h\\xffst", "unreadable_name", 1),
        ("ws001", "unreadable", 1),
        ("ws001", "unreadable_name", 2),
    ]

    # Every later ingest works too, and a skipped file is one row a day, not one per run.
    write_spool_file(raw, "ws002/carol/2026-03-05_more.jsonl", ev(2))
    r2 = ingest(piper_env)
    assert r2.events == 1 and "4 skipped" in r2.plan_summary
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM spool_anomalies").fetchone() == (4,)
        ids = con.execute("SELECT event_id FROM silver_events ORDER BY 1").fetchall()
    assert ids == [("evt-1",), ("evt-2",)]


@pytest.mark.slow  # piper subprocesses / Dagster runs
def test_piper_ingest_skips_hostile_names_and_exits_0(piper_env: Settings, warehouse) -> None:
    write_spool_file(piper_env.raw_root, GOOD, ev(1))
    hostile_spool(piper_env.raw_root)
    proc = _piper("ingest")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "1 files new, 0 grown, 0 changed, 0 unchanged, 0 waiting to settle, 4 skipped" in (
        proc.stdout
    )
    assert "warning: skipped: ws001/alice/\\xff\\xfe.jsonl: a file name that is not UTF-8" in (
        proc.stderr
    )
    assert "warning: skipped: ws001/alice/loop.jsonl: cannot stat it (Too many levels" in (
        proc.stderr
    )
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (1,)
    again = _piper("ingest")
    assert again.returncode == 0 and "nothing to ingest" in again.stdout, again.stderr


@pytest.mark.slow  # piper subprocesses / Dagster runs
def test_unreadable_file_and_folder_are_skipped_with_their_reason(
    piper_env: Settings, warehouse
) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, GOOD, ev(1))
    locked_file = write_spool_file(raw, "ws001/alice/2026-03-04_locked.jsonl", ev(2))
    locked_dir = write_spool_file(raw, "ws003/dave/2026-03-04_x.jsonl", ev(3)).parent
    locked_file.chmod(0)
    locked_dir.chmod(0)
    try:
        proc = _piper("ingest", unprivileged=True)
    finally:
        locked_file.chmod(0o644)
        locked_dir.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "2 skipped" in proc.stdout
    assert (
        "skipped: ws001/alice/2026-03-04_locked.jsonl: permission denied: give piper read"
        " permission" in proc.stderr
    )
    assert "skipped: ws003/dave: the folder cannot be listed (Permission denied)" in proc.stderr
    with warehouse() as con:
        assert con.execute("SELECT event_id FROM silver_events").fetchall() == [("evt-1",)]
    assert _anomalies(warehouse) == {
        ("ws001/alice/2026-03-04_locked.jsonl", "unreadable"),
        ("ws003/dave", "unreadable"),
    }


def test_sensor_tick_skips_hostile_names(piper_env: Settings) -> None:
    hostile_spool(piper_env.raw_root)
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs())
        only_hostile = spool_sensor(context)
        assert isinstance(only_hostile, dg.SkipReason)
        assert "4 spool entries skipped" in (only_hostile.skip_message or "")
        write_spool_file(piper_env.raw_root, GOOD, ev(1))
        result = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests or []
        assert request.tags["dagster/asset_partition_range_start"] == "2026-03-04"


@pytest.mark.slow  # a Dagster run
def test_the_spool_run_names_skipped_entries_in_its_metadata_and_log(piper_env: Settings) -> None:
    hostile_spool(piper_env.raw_root)
    write_spool_file(piper_env.raw_root, GOOD, ev(1))
    with dg.DagsterInstance.get() as instance:
        result = spool_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests or []
        run = dg.materialize(
            [defs().get_assets_def("spool_events")], instance=instance, tags=request.tags
        )
        (mat,) = run.asset_materializations_for_node("spool_events")
        skipped = {s["source_file"]: s["kind"] for s in mat.metadata["skipped"].value}
        assert skipped == HOSTILE_SKIPPED and mat.metadata["events"].value == 1
        warnings = [e.message for e in instance.all_logs(run.run_id) if e.level == logging.WARNING]
        assert any("skipped: ws001/alice/\\xff\\xfe.jsonl" in w for w in warnings), warnings


def test_future_mtime_settles_by_its_ctime_is_reported_and_skew_uses_the_ctime(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, warehouse
) -> None:
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "120")
    settings = load_settings()
    name = "ws001/alice/2026-03-06_touched.jsonl"
    # `touch -d 2099-01-01`: the kernel sets the ctime to now, the mtime to 2099.
    data = ev(1, "2026-03-06T10:00:00Z") + ev(2, "2030-01-01T00:00:00Z")
    write_spool_file(settings.raw_root, name, data, mtime=_ts("2099-01-01"))
    waiting = ingest(settings)
    assert waiting.events == 0 and "1 waiting to settle" in waiting.plan_summary
    r = ingest(settings, now_ns=time.time_ns() + 121 * 10**9)  # 121 s after its last change
    assert r.events == 2 and "1 with a future mtime" in r.plan_summary
    (reported,) = r.metadata()["future_mtime"]
    assert reported["source_file"] == name and "2099-01-01T12:00:00Z" in reported["detail"]
    assert _anomalies(warehouse) == {(name, "future_mtime")}
    with warehouse() as con:
        rows = con.execute(
            "SELECT event_id, clock_skewed, event_date::VARCHAR, spool_date::VARCHAR"
            " FROM silver_events ORDER BY 1"
        ).fetchall()
    # evt-2 is after the file's last write (its ctime, not its 2099 mtime): clock-skewed.
    assert rows == [
        ("evt-1", False, "2026-03-06", "2026-03-06"),
        ("evt-2", True, "2026-03-06", "2026-03-06"),
    ]


@pytest.mark.slow  # piper subprocesses / Dagster runs
def test_impossible_name_dates_fall_back_and_piper_ingest_reads_them(
    piper_env: Settings, warehouse
) -> None:
    raw = piper_env.raw_root
    # A name from the future, events of this year: the file's mtime date.
    write_spool_file(
        raw,
        "ws002/carol/2099-01-01_x.jsonl",
        ev(1, "2026-03-06T10:00:00Z"),
        mtime=_ts("2026-03-06"),
    )
    # A host whose clock battery died names its file 2019 (before ingest.start_date) and its
    # events 2019; the file server's mtime is right: contract §6 dates them by the spool date.
    write_spool_file(
        raw, "ws003/dave/2019-06-01_x.jsonl", ev(2, "2019-06-01T10:00:00Z"), mtime=_ts("2026-03-07")
    )
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    assert "outside the partitions" not in out.output
    assert (
        "2026-03-06  1 files to read" in out.output and "2026-03-07  1 files to read" in out.output
    )
    with warehouse() as con:
        rows = con.execute(
            "SELECT event_id, spool_date::VARCHAR, event_date::VARCHAR, clock_skewed"
            " FROM silver_events ORDER BY 1"
        ).fetchall()
        states = load_states(con)
    assert rows == [
        ("evt-1", "2026-03-06", "2026-03-06", False),
        ("evt-2", "2026-03-07", "2026-03-07", True),
    ]
    # The spool date is the file's, not today's: the same at every later scan.
    later = plan_spool(piper_env, lambda: states, now_ns=time.time_ns() + 40 * 86400 * 10**9)
    assert sorted((p.file.spool_date, p.status) for p in later.files) == [
        (date(2026, 3, 6), "unchanged"),
        (date(2026, 3, 7), "unchanged"),
    ]


@pytest.mark.slow  # piper subprocesses / Dagster runs
def test_a_file_before_start_date_is_reported_naming_the_setting_to_lower(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, warehouse
) -> None:
    # An old file restored into the spool: old name, old mtime (only its ctime is new).
    old = "ws002/carol/2025-06-01_old.jsonl"
    write_spool_file(
        piper_env.raw_root, old, ev(3, "2025-06-01T10:00:00Z"), mtime=_ts("2025-06-01")
    )
    dry = runner.invoke(app, ["ingest", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "0 files new" in dry.output and "1 skipped" in dry.output
    assert f"skipped: {old}: no date it can take is a partition (name 2025-06-01" in dry.output
    assert "lower ingest.start_date to 2025-06-01 or earlier to read it" in dry.output
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0 and "nothing to ingest" in out.output, out.output
    assert _anomalies(warehouse) == {(old, "before_start_date")}  # the dashboard's, run or not

    monkeypatch.setenv("PIPER_INGEST__START_DATE", "2025-06-01")
    out = runner.invoke(app, ["ingest"])
    assert out.exit_code == 0, out.output
    with warehouse() as con:
        rows = con.execute(
            "SELECT event_id, spool_date::VARCHAR, event_date::VARCHAR, clock_skewed"
            " FROM silver_events"
        ).fetchall()
    assert rows == [("evt-3", "2025-06-01", "2025-06-01", False)]


NS = 10**9
D = {d: int(_ts(d) * NS) for d in ("2019-06-01", "2026-03-04", "2026-03-05", "2099-01-01")}


@pytest.mark.parametrize(
    ("name", "mtime", "ctime", "expected"),
    [
        ("2026-03-04_a.jsonl", "2026-03-05", "2026-03-05", "2026-03-04"),  # the contract's
        ("session.jsonl", "2026-03-05", "2026-03-05", "2026-03-05"),  # no date: the mtime's
        ("2099-01-01_a.jsonl", "2026-03-05", "2026-03-05", "2026-03-05"),  # after its ctime
        ("2019-06-01_a.jsonl", "2026-03-05", "2026-03-05", "2026-03-05"),  # before start_date
        ("session.jsonl", "2099-01-01", "2026-03-05", "2026-03-05"),  # mtime after ctime
        ("2099-01-01_a.jsonl", "2099-01-01", "2026-03-04", "2026-03-04"),  # both: the ctime's
        ("2019-06-01_a.jsonl", "2019-06-01", "2026-03-05", "2019-06-01"),  # none: reported
    ],
)
def test_spool_date_rules(name: str, mtime: str, ctime: str, expected: str) -> None:
    got = spool_date_of(name, D[mtime], D[ctime], first=date(2026, 1, 1))
    assert got == date.fromisoformat(expected)


DAYS = st.dates(date(2018, 1, 1), date(2100, 12, 31))


@given(named=DAYS, written=DAYS, changed=DAYS, since=DAYS, first=st.none() | DAYS)
def test_a_file_dated_before_a_range_by_its_name_has_its_spool_date_before_it(
    named: date, written: date, changed: date, since: date, first: date | None
) -> None:
    """The dated plan's shortcut (no stat() for a file named before its range) never drops a
    file whose spool date, from any mtime and ctime, is in the range."""
    name = f"{named}_x.jsonl"
    mtime, ctime = (int(_ts(d.isoformat(), 0) * NS) for d in (written, changed))
    if dated_before(name, since, first):
        assert spool_date_of(name, mtime, ctime, first=first) < since


def test_a_dated_plan_finds_what_the_whole_plan_finds_in_its_range(piper_env: Settings) -> None:
    raw = piper_env.raw_root
    hostile_spool(raw)  # a symlink loop, names that are not UTF-8: undated, reported by both
    os.symlink("old.jsonl", raw / "ws001" / "alice" / "2026-03-01_old.jsonl")  # dated loop
    for name, mtime in [
        ("ws002/carol/2026-03-01_a.jsonl", "2026-03-01"),
        ("ws002/carol/2026-03-04_a.jsonl", "2026-03-04"),
        ("ws002/carol/2026-03-05_a.jsonl", "2026-03-05"),
        ("ws002/carol/2099-01-01_a.jsonl", "2026-03-04"),  # a name after its ctime: mtime's
        ("ws002/carol/2019-06-01_a.jsonl", "2026-03-05"),  # before start_date: mtime's
        ("ws002/carol/session.jsonl", "2026-03-04"),
    ]:
        write_spool_file(raw, name, ev(1), mtime=_ts(mtime))
    everything = plan_spool(piper_env, dict)
    day = date(2026, 3, 4)
    # ctimes are now: the 2099 name falls back to today's date, outside both plans' ranges.
    for last in (day, date(2026, 3, 5), date.today()):
        dated = plan_spool(piper_env, dict, dates=(day, last))
        assert [p.file for p in dated.files] == [
            p.file for p in everything.files if day <= p.file.spool_date <= last
        ]
        # The dated loop is before the range: not stat()ed, not reported; the rest is.
        assert {i.source_file for i in everything.issues} - {
            i.source_file for i in dated.issues
        } == {"ws001/alice/2026-03-01_old.jsonl"}
