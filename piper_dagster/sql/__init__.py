"""The SQL files of this package (piper_dagster/sql/<layer>/<name>.sql): loaded by name, never
written as strings in Python. They ship inside the package (a wheel carries them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parent


@cache
def load_sql(name: str) -> str:
    """The text of sql/<name>.sql, e.g. load_sql('ddl/warehouse')."""
    return (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")
