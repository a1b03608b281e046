"""Shared fixtures: a real spool directory, a real data root, settings pointing at them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project's own copies of the upstream contract (docs/design.md: "The contract's copy").
CONTRACT_TEXT = REPO_ROOT / "docs" / "upstream" / "telemetry-v1.md"
EXAMPLES = REPO_ROOT / "piper_dagster_tests" / "data" / "contract" / "examples"

# The end of the examples' day: settled, and after every example event (so none is skewed).
SETTLED_MTIME = datetime(2026, 3, 5, tzinfo=UTC).timestamp()


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


def write_spool_file(
    raw_root: Path,
    rel: str,
    data: bytes,
    *,
    mtime: float | None = SETTLED_MTIME,
    append: bool = False,
) -> Path:
    """Write (or append to) a spool file and give it a settled mtime."""
    path = raw_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab" if append else "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def warehouse(piper_env: Settings) -> Iterator[Callable[[], duckdb.DuckDBPyConnection]]:
    """Open the warehouse read-only for assertions: `with warehouse() as con: ...`."""

    def open_ro() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(piper_env.warehouse_path), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        return con

    yield open_ro
