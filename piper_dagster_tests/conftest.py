"""Shared fixtures: a real spool directory, a real data root, settings pointing at them, and
`dagster dev` on them (helpers: factories.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import DagsterDev


@pytest.fixture
def piper_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh spool and data root under tmp_path."""
    raw, data = tmp_path / "spool", tmp_path / "data"
    raw.mkdir()
    monkeypatch.setenv("PIPER_PATHS__RAW_ROOT", str(raw))
    monkeypatch.setenv("PIPER_PATHS__DATA_ROOT", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "0")
    monkeypatch.setenv("PIPER_INGEST__BATCH_BYTES", str(1 << 20))
    settings = load_settings()
    ensure_dagster_home(settings)
    return settings


@pytest.fixture
def warehouse(piper_env: Settings) -> Iterator[Callable[[], duckdb.DuckDBPyConnection]]:
    """Open the warehouse read-only for assertions: `with warehouse() as con: ...`."""

    def open_ro() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(piper_env.warehouse_path), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        return con

    yield open_ro


@pytest.fixture
def dagster_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`dagster dev` (webserver + daemon) on a fresh spool, data root and DAGSTER_HOME."""
    from dagster_graphql import DagsterGraphQLClient  # only the end-to-end tests need it

    raw, data, home = tmp_path / "spool", tmp_path / "data", tmp_path / "dagster_home"
    raw.mkdir()
    env = {
        "PIPER_PATHS__RAW_ROOT": str(raw),
        "PIPER_PATHS__DATA_ROOT": str(data),
        "PIPER_INGEST__SETTLE_SECONDS": "1",
        "PIPER_DAGSTER__SENSOR_INTERVAL_SECONDS": "3",
        "PIPER_DAGSTER__RETRY_AFTER_SECONDS": "20",
        "DAGSTER_HOME": str(home),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ensure_dagster_home(load_settings())
    server = DagsterDev(tmp_path, env)
    server.start()
    try:
        yield {
            "raw": raw,
            "data": data,
            "port": server.port,
            "server": server,
            "client": DagsterGraphQLClient("127.0.0.1", port_number=server.port),
            "log": server.log_path,
        }
    finally:
        server.stop()
