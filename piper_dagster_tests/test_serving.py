"""The serving layer: complete versions, an atomic flip, old versions kept for readers in flight,
published by every gold run, and read without a single error while Dagster writes."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from piper_dagster.grafana.deployment import PLUGIN_DUCKDB_VERSION
from piper_dagster.serving import (
    CURRENT,
    SERVED,
    SERVED_TABLES,
    VERSIONS,
    current_version,
    init_sql,
    prune,
    publish,
)
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.demo_warehouse import (
    generate,
    insert_check_results,
    materialize_all,
    plugin_command,
    plugin_query,
    provisioned_init,
)
from piper_dagster_tests.factories import REPO_ROOT


def _views(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(init_sql(settings.serving_dir))
    return con


def test_first_publication_serves_every_table_even_empty(piper_env: Settings) -> None:
    publication = publish(piper_env)
    serving = piper_env.serving_dir
    assert current_version(serving) == publication.version
    assert os.readlink(serving / CURRENT) == f"{VERSIONS}/{publication.version}"  # relative
    assert {p.stem for p in publication.path.glob("*.parquet")} == set(SERVED)
    manifest = json.loads((publication.path / "manifest.json").read_text())
    assert manifest == {"version": publication.version, "rows": publication.rows}
    con = _views(piper_env)
    for table in SERVED_TABLES:
        # Every view binds, with its time column, before any data arrived.
        columns = [c[0] for c in con.execute(f"DESCRIBE {table.name}").fetchall()]
        assert table.time_column in columns, table.name
    assert con.execute("SELECT version FROM serving_publication").fetchall() == [
        (publication.version,)
    ]


def test_each_publication_flips_current_and_keeps_recent_versions(piper_env: Settings) -> None:
    first = publish(piper_env)
    second = publish(piper_env)
    assert second.version > first.version
    assert current_version(piper_env.serving_dir) == second.version
    # Superseded a moment ago: kept for readers that resolved `current` before the flip.
    assert first.path.is_dir()
    con = _views(piper_env)
    assert con.execute("SELECT version FROM serving_publication").fetchone() == (second.version,)


def test_connections_opening_at_once_all_set_up_their_views(piper_env: Settings) -> None:
    """The plugin runs initSql on every connection its pool opens to one in-memory DuckDB, and a
    dashboard's panels open several at once: not one may fail (shared views conflicted)."""
    publication = publish(piper_env)
    queries = [f"SELECT count(*) FROM {t.name}" for t in SERVED_TABLES] * 2
    report = plugin_query(init_sql(piper_env.serving_dir), queries, connections=16)
    assert report["init_errors"] == [None] * 16
    counts = [r.get("rows") or r["error"] for r in report["results"]]
    assert counts == [[(publication.rows[t.name],)] for t in SERVED_TABLES] * 2


def test_before_the_first_publication_a_new_connection_recovers(piper_env: Settings) -> None:
    """A view binds its file when created: without a publication initSql fails, and the plugin's
    next connection (the failed one is not pooled) succeeds once the files exist."""
    db = duckdb.connect()
    with pytest.raises(duckdb.IOException, match="No files found"):
        db.cursor().execute(init_sql(piper_env.serving_dir))
    publication = publish(piper_env)
    con = db.cursor()
    con.execute(init_sql(piper_env.serving_dir))
    assert con.execute("SELECT version FROM serving_publication").fetchone() == (
        publication.version,
    )


def test_prune_keeps_the_newest_and_recently_superseded_versions(tmp_path: Path) -> None:
    versions = tmp_path / VERSIONS
    names = [f"20260301T00000{i}000000Z-1" for i in range(6)]
    now = time.time()
    for i, name in enumerate(names):
        (versions / name).mkdir(parents=True)
        age = 3600 - i * 600  # each superseded 10 minutes after the previous one
        os.utime(versions / name, (now - age, now - age))
    os.symlink(f"{VERSIONS}/{names[1]}", tmp_path / CURRENT)  # a rollback: current is old
    (versions / ".crashed.tmp").mkdir()
    os.utime(versions / ".crashed.tmp", (now - 7200, now - 7200))
    removed = prune(tmp_path, keep_versions=2, keep_seconds=1500)
    # names[0]: superseded (by names[1]) 50 min ago -> removed; names[1] is current; names[2]:
    # superseded 30 min ago -> removed; names[3]: superseded 20 min ago -> kept (25 min grace).
    assert removed == [names[0], names[2]]
    assert sorted(p.name for p in versions.iterdir()) == [names[1], *names[3:]]


def test_a_gold_run_publishes_what_the_warehouse_holds(piper_env: Settings) -> None:
    generate(piper_env, start=date(2026, 3, 2), days=2)
    result = materialize_all(date(2026, 3, 1), date(2026, 3, 3))
    mats = result.asset_materializations_for_node("gold_models")
    versions = {m.metadata["serving_version"].value for m in mats}
    (version,) = versions
    assert current_version(piper_env.serving_dir) == version
    con = _views(piper_env)
    with connect(piper_env.warehouse_path, read_only=True) as wh:
        for table in SERVED_TABLES:
            if not table.name.startswith("gold_"):
                continue
            served = con.execute(f"SELECT * FROM {table.name} ORDER BY ALL").fetchall()
            assert served == wh.execute(f"SELECT * FROM {table.name} ORDER BY ALL").fetchall()
            assert served, table.name


def _start_reader(settings: Settings, tmp: Path) -> tuple[subprocess.Popen, Path, Path]:
    init, stop, out = tmp / "init.sql", tmp / "reader.stop", tmp / "reader.jsonl"
    init.write_text(provisioned_init(settings))
    proc = subprocess.Popen(plugin_command("poll", str(init), str(stop), str(out)), cwd=REPO_ROOT)
    return proc, stop, out


def _stop_reader(proc: subprocess.Popen, stop: Path, out: Path) -> list[dict]:
    stop.touch()
    assert proc.wait(timeout=60) == 0
    header, *polls = (json.loads(line) for line in out.read_text().splitlines())
    assert header["duckdb"] == PLUGIN_DUCKDB_VERSION, header  # exactly the plugin's
    return polls


@pytest.mark.slow
def test_a_reader_polling_during_a_backfill_sees_no_error_and_the_new_data(
    piper_env: Settings, tmp_path: Path
) -> None:
    """A reader like Grafana's plugin (DuckDB 1.5, in memory, views from the provisioned initSql)
    polls every served view while two multi-day Dagster runs write the warehouse and publish, and
    while a publisher flips `current` as fast as it can."""
    start = date(2026, 3, 2)
    generate(piper_env, start=start, days=6)
    initial = publish(piper_env)  # what `piper init` leaves: Grafana reads from day one
    proc, stop, out = _start_reader(piper_env, tmp_path)
    try:
        time.sleep(1.0)
        materialize_all(start - timedelta(days=1), start + timedelta(days=2))
        middle = current_version(piper_env.serving_dir)
        materialize_all(start + timedelta(days=3), start + timedelta(days=5))
        insert_check_results(piper_env, start, 6)
        # Flip after flip while the reader reads: every read must still be a whole version.
        stress = [publish(piper_env).version for _ in range(25)]
        time.sleep(1.0)
    finally:
        polls = _stop_reader(proc, stop, out)
    errors = [p for p in polls if "error" in p]
    assert errors == [], errors[:5]
    seen = [p["version"] for p in polls]
    assert seen[0] == initial.version
    assert {initial.version, middle, stress[-1]} <= set(seen)
    # Versions only move forward, and every poll saw one version's rows whole.
    assert seen == sorted(seen)
    assert len(polls) > 50
    final = [p for p in polls if p["version"] == stress[-1] and not p["torn"]]
    assert final, "the reader never saw the last publication"
    with connect(piper_env.warehouse_path, read_only=True) as wh:
        for table in SERVED:
            if table.startswith("gold_"):
                (rows,) = wh.execute(f"SELECT count(*) FROM {table}").fetchone()
                assert rows > 0
                assert {p["counts"][table] for p in final} == {rows}, table
        (checks,) = wh.execute("SELECT count(*) FROM pipeline_check_results").fetchone()
    assert {p["counts"]["pipeline_check_results"] for p in final} == {checks}
    by_version: dict[str, set[str]] = {}
    for p in polls:
        if p["torn"]:
            continue
        by_version.setdefault(p["version"], set()).add(json.dumps(p["counts"], sort_keys=True))
    # One version, one content: no poll mixed files of two versions of a table.
    assert all(len(contents) == 1 for contents in by_version.values()), by_version


@pytest.mark.slow
def test_concurrent_publishers_leave_the_newest_version_current(piper_env: Settings) -> None:
    """A gold run and a checks schedule may publish at once: the lock orders the flips."""
    publish(piper_env)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                results.append(publish(piper_env).version)
        except BaseException as exc:  # a thread's exception would otherwise only be a warning
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 15
    assert current_version(piper_env.serving_dir) == max(results)
