"""The one resource of the code location: piper's settings and its warehouse, behind one seam.

Assets, checks and sensors receive `PiperResource` (a parameter named `piper`) and never load
settings or open the DuckDB file themselves. The settings are read when a step or a tick uses
them, as piper's commands read them: an edited piper.toml takes effect at the next tick or run,
without reloading the code location. The warehouse is opened only through `warehouse()` and
`peek()` (piper_dagster/warehouse.py's locking underneath), so another backend (DuckLake on a
Postgres catalog, docs/design.md) would change this class and warehouse.py, not the assets.

Not dagster-duckdb's DuckDBResource: its `get_connection()` always opens read-write and retries
a lock for a fixed ~100 s, where piper needs read-only opens, a bounded wait the operator sets
(`dagster.wait_seconds`), a sensor open that never waits, and its schema and session set-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect, is_lock_conflict, operator_error

RESOURCE_KEY = "piper"


class PiperResource(dg.ConfigurableResource):
    """piper's settings (piper.toml, .env, PIPER_* variables) and its warehouse."""

    def settings(self) -> Settings:
        """The settings as they are now (read at use, never at import)."""
        return load_settings()

    @contextmanager
    def warehouse(
        self, settings: Settings | None = None, *, read_only: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse, read-write (schema ensured) or read-only, waiting for its lock."""
        path = (settings or self.settings()).warehouse_path
        with connect(path, read_only=read_only) as con:
            yield con

    def peek(self, settings: Settings) -> duckdb.DuckDBPyConnection | None:
        """A read-only connection for a sensor tick, or None when a run holds the write lock.

        A tick never waits: the next one comes soon, and a tick has 60 s in all. The caller
        checks that the warehouse exists (what a missing one means is its own), and closes."""
        try:
            return duckdb.connect(str(settings.warehouse_path), read_only=True)
        except duckdb.IOException as exc:
            if is_lock_conflict(str(exc)):
                return None
            # A damaged file is not "a run writing it": the tick fails with the one line.
            known = operator_error(exc, settings.warehouse_path)
            if known is not None:
                raise known from exc
            return None
