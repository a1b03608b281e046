"""SQL files under sql/: loaded by name, never written as strings in Python."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"


@cache
def load_sql(name: str) -> str:
    """The text of sql/<name>.sql, e.g. load_sql('ddl/warehouse')."""
    return (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")
