"""piper's SQLite event log: Dagster's SqliteEventLogStorage with its engines kept per shard.

Dagster 1.13's SqliteEventLogStorage builds a new SQLAlchemy engine (NullPool) for every
connection: a new sqlite connection, a cold compiled-SQL cache, a checkpoint of the WAL when the
last connection closes, and a synchronous=FULL fsync per commit, twice per asset event (the
run shard, then the index shard). That is ~33 ms per event whatever its size: a 365-day run of
the 14 assets records 5110 materializations, minutes of bookkeeping. Here each shard keeps its
engine and one pooled connection (the index shard always, run shards in a small LRU: a
long-lived webserver reading many runs keeps a bounded number of files open), and every
connection runs with synchronous=NORMAL (WAL: no corruption; a power loss may lose the last
commits, docs/design.md "Dagster's bookkeeping").

Configured in deploy/dagster.yaml (event_log_storage); the run and schedule storages stay
Dagster's defaults under DAGSTER_HOME.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster import StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

# Run shards whose engine (one open sqlite connection each) is kept: a run writes its own shard
# and the index; the UI reading a handful of runs at a time stays within this.
RUN_SHARD_ENGINES = 8


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    # WAL + NORMAL: a commit is durable at the next checkpoint, never torn (sqlite.org/wal.html).
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PiperSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one pooled engine per shard and synchronous=NORMAL."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        # DAGSTER_HOME (`dagster_home: {env: DAGSTER_HOME}`): the event logs go where Dagster's
        # default puts them, <DAGSTER_HOME>/history/runs, so an instance keeps its history.
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PiperSqliteEventLogStorage:
        base_dir = os.path.join(config_value["dagster_home"], "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made once (under self._db_lock)."""
        if self._engines_pid != os.getpid():
            # A forked child must not share the parent's sqlite connections: start afresh.
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is None:
            # QueuePool (SQLAlchemy's default for a sqlite file): _db_lock lets one connection
            # out at a time, so the pool holds one, reused by every thread.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            db.event.listen(engine, "connect", _relaxed_sync)
            self._engines[shard] = engine
            runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
            for old in runs[:-RUN_SHARD_ENGINES]:
                self._engines.pop(old).dispose()
        elif shard != INDEX_SHARD_NAME:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        # wipe() unlinks the run shards: an open connection would go on writing the deleted file.
        self._dispose_engines()
        super().wipe()

    def upgrade(self) -> None:
        self._dispose_engines()
        super().upgrade()

    def delete_events(self, run_id: str) -> None:
        """Delete the run's events, then its shard file: Dagster empties the file and leaves it
        (tens of KiB each, one per run: a year of routine runs would leave ~35,000 files behind
        `piper prune`, docs/design.md "Retention")."""
        super().delete_events(run_id)
        with self._db_lock:
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()
            self._initialized_dbs.discard(run_id)
            shard = self.path_for_shard(run_id)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(shard + suffix)

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
