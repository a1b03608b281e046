"""The production instance: Dagster storage in a real Postgres server started on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.defs.partitions import range_tags
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import defs, ev, write_spool_file

pytestmark = pytest.mark.slow


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        pytest.fail(f"{name} not found: install PostgreSQL (.ci/run does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway Postgres cluster on 127.0.0.1, as the user running the tests (or postgres)."""
    # Not under pytest's tmp_path: as root, the server runs as `postgres`, who cannot enter it.
    tmp_path = Path(tempfile.mkdtemp(prefix="piper-pg-"))
    data = tmp_path / "pgdata"
    port = _free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(tmp_path, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "piper", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    ctl = [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(tmp_path / "pg.log")]
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={tmp_path}"
    subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)
    try:
        subprocess.run(
            [*run_as, "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "piper", "dagster"],
            check=True,
            capture_output=True,
        )
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_USERNAME": "piper",
            "DAGSTER_PG_PASSWORD": "",
        }
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_runs_are_recorded_in_postgres(
    piper_env: Settings, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch, warehouse
) -> None:
    for key, value in postgres.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIPER_DAGSTER__STORAGE", "postgres")
    settings = load_settings()
    home = ensure_dagster_home(settings)
    assert "postgres_db" in (home / "dagster.yaml").read_text()
    write_spool_file(settings.raw_root, "ws001/a/2026-03-04_x.jsonl", ev(1) + ev(2))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize(
            [defs().get_assets_def("spool_events")],
            instance=instance,
            tags=range_tags(date(2026, 3, 4), date(2026, 3, 4)),
        )
        assert result.success
    psql = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            postgres["DAGSTER_PG_PORT"],
            "-U",
            "piper",
            "-d",
            "dagster",
            "-tAc",
            "SELECT count(*) FROM runs",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert psql.stdout.strip() == "1"
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (2,)


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-03-01"))
def pg_tiny() -> None:
    """A partitioned asset standing for piper's (the run history is what matters here)."""


def test_prune_deletes_old_routine_runs_in_postgres(
    piper_env: Settings, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.storage.tags import SENSOR_NAME_TAG

    from piper_dagster.defs.keys import SPOOL_SENSOR
    from piper_dagster.defs.retention import prune_runs

    for key, value in postgres.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIPER_DAGSTER__STORAGE", "postgres")
    settings = load_settings()
    ensure_dagster_home(settings)
    job = dg.Definitions(
        assets=[pg_tiny], jobs=[dg.define_asset_job("pg_tiny_job", [pg_tiny])]
    ).resolve_job_def("pg_tiny_job")
    routine = {SENSOR_NAME_TAG: SPOOL_SENSOR}
    with dg.DagsterInstance.get() as instance:
        assert instance.get_tick_retention_settings(InstigatorType.SENSOR)[TickStatus.SKIPPED] == 1
        runs = [
            job.execute_in_process(instance=instance, partition_key=day, tags=routine).run_id
            for day in ("2026-03-01", "2026-03-01", "2026-03-02")
        ]
        far = datetime.now(UTC) + timedelta(days=40)
        assert prune_runs(instance, settings, dry_run=False, now=far).rows == 1
        assert [instance.get_run_by_id(r) is None for r in runs] == [True, False, False]
        assert instance.get_materialized_partitions(dg.AssetKey("pg_tiny")) == {
            "2026-03-01",
            "2026-03-02",
        }
