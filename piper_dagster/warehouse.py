"""The DuckDB warehouse: one file on local disk, one writer at a time (the `duckdb` pool)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from piper_dagster.sql import load_sql

if TYPE_CHECKING:
    from piper_dagster.settings import PrivacySettings


def prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Session settings every piper connection relies on, and the schema."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # logs, not a terminal
    con.execute(load_sql("ddl/warehouse"))
    upgrade(con)
    return con


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse made by older code up to the schema's invariants (after the DDL).

    The dedupe index (event_ids) of a warehouse made before it is built from silver_events, in
    one transaction: a crash leaves it empty, and the next connection builds it again. Checked
    with two one-row reads, so an up-to-date warehouse pays nothing."""
    indexed = con.execute("SELECT 1 FROM event_ids LIMIT 1").fetchone() is not None
    if indexed or con.execute("SELECT 1 FROM silver_events LIMIT 1").fetchone() is None:
        return
    log.info("building the dedupe index (event_ids) of the warehouse's events, once")
    with transaction(con):
        con.execute(load_sql("ddl/build_event_ids"))


# The storage format of a warehouse piper creates. DuckDB writes files readable by v1.0 unless
# told otherwise, and that format rewrites every table's metadata at each checkpoint: at 10 M
# events a tick's three checkpoints cost 0.05-0.1 s each instead of 0.01-0.05 (docs/design.md
# "A year at scale"). Readable by DuckDB 1.5 and later (piper's own, the Grafana plugin's 1.5.4).
STORAGE_VERSION = "v1.5.0"

SAY_EVERY_SECONDS = 30.0
LOCK_WAIT_SECONDS: float | None = None  # None: the `dagster.wait_seconds` setting
LOCK_POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


def define_macros(con: duckdb.DuckDBPyConnection, *, mask: bool, key: str) -> None:
    """The session's temporary macros: `piper_user(u)`, sql/macros/privacy.sql, silver.sql.

    `piper_user(u)` is the user name, or a keyed hash of it when users are masked.

    Service accounts (`svc_*`) are not people and stay readable: dq_active_users excludes them.
    A temporary macro: the key lives in the connection only, never in the warehouse.
    """
    if mask:
        # The key is hashed into the macro so the literal key never appears in SQL text.
        salt = hashlib.sha256(key.encode()).hexdigest()
        con.execute(
            "CREATE OR REPLACE TEMP MACRO piper_user(u) AS CASE WHEN starts_with(u, 'svc_') "
            f"THEN u ELSE 'u_' || left(sha256('{salt}' || u), 16) END"
        )
        con.execute(load_sql("macros/privacy"))
    else:
        con.execute("CREATE OR REPLACE TEMP MACRO piper_user(u) AS u")
        con.execute("CREATE OR REPLACE TEMP MACRO piper_source_file(path) AS path")
        con.execute("CREATE OR REPLACE TEMP MACRO piper_path(path, raw_user, raw_folder) AS path")
    con.execute(load_sql("macros/silver"))


def use_privacy(con: duckdb.DuckDBPyConnection, privacy: PrivacySettings) -> None:
    """The one session set-up of every connection that reads or writes silver: define_macros
    with the configured privacy (masked users or not, and the key)."""
    define_macros(con, mask=privacy.mask_users, key=privacy.user_hash_key.get_secret_value())


class WarehouseError(Exception):
    """The warehouse cannot be used: missing, not piper's, unreadable, or locked for too long.

    Its message is one line for the operator (the CLI prints it and exits 2)."""


class WaitTimeout(WarehouseError):
    """A wait (the warehouse lock, the `duckdb` pool slot) passed `dagster.wait_seconds`."""


class WarehouseDamaged(WarehouseError):
    """The warehouse file is corrupt or truncated: rebuilt from the spool, never waited for."""


class DiskFull(WarehouseError):
    """A write failed for lack of space (the warehouse, its WAL, Parquet, quarantine files)."""


RUNBOOK = "docs/runbook.md"
# DuckDB's words for a damaged database file (1.5): a checksum mismatch ("Corrupt database file:
# ... in block at location N": note the "lock" in "block"), a file shorter than its own
# metadata says (truncated), a header that is not DuckDB's.
_DAMAGED = ("corrupt database file", "not a valid duckdb database file")
_SHORT_READ = "could not read enough bytes from file"
_NO_SPACE = ("no space left on device", "disk quota exceeded")
_QUOTED = re.compile(r'"([^"]+)"')


def is_lock_conflict(message: str) -> bool:
    """Another process holds the file's lock (DuckDB: 'Could not set lock on file ...:
    Conflicting lock is held in ... (PID n)'): worth waiting for, unlike anything else."""
    text = message.lower()
    return "could not set lock on file" in text or "conflicting lock" in text


def _size(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"


def disk_full(where: Path) -> DiskFull:
    """The one line for a write that found no space at `where`, with the space free there now."""
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return DiskFull(
        f"the disk is full: could not write {where} ({_size(usage.free)} free of"
        f" {_size(usage.total)} on its file system now): free space there (or move"
        " paths.data_root to a bigger disk), then run the command again; nothing partial was"
        f" committed, the rerun finishes the work ({RUNBOOK}#the-disk-is-full)"
    )


def damaged(path: Path, detail: str) -> WarehouseDamaged:
    """The one line for a damaged warehouse file: no wait, no traceback, the rebuild procedure."""
    return WarehouseDamaged(
        f"the warehouse {path} is damaged ({detail}): rebuild it from the spool: move it away,"
        " `piper init`, `piper backfill --start D --end D` over the spool dates"
        f" ({RUNBOOK}#the-warehouse-is-damaged)"
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def operator_error(exc: BaseException, path: Path) -> WarehouseError | None:
    """The one-line error for a failure the operator must act on (the warehouse at `path`
    damaged, a disk full), found anywhere in exc's chain (a failed ROLLBACK after a failed
    COMMIT hides the cause in __context__); None for anything else (a bug: its traceback)."""
    for e in _chain(exc):
        if isinstance(e, WarehouseError):
            return e
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return disk_full(Path(e.filename) if e.filename else path.parent)
        if not isinstance(e, duckdb.Error):
            continue
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        text = message.lower()
        quoted = _QUOTED.search(message)
        if any(m in text for m in _NO_SPACE):
            return disk_full(Path(quoted.group(1)) if quoted else path.parent)
        if any(m in text for m in _DAMAGED):
            return damaged(path, message)
        if _SHORT_READ in text and (quoted is None or quoted.group(1).startswith(str(path))):
            return damaged(path, message)
    return None


def _wait_seconds() -> float:
    # Read when needed: the settings module must not be imported before the CLI reports its errors.
    from piper_dagster.settings import load_settings

    return float(load_settings().dagster.wait_seconds)


def _memory_limit() -> str:
    # Every connection is bounded, not only the ingest's: a refresh of a year of silver or a
    # publish otherwise takes DuckDB's default (80 % of RAM) and the process passes 1 GiB.
    from piper_dagster.settings import load_settings

    return load_settings().ingest.memory_limit


def _open(
    path: Path, read_only: bool, wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting while another process holds the file's lock.

    One writer or several readers at a time (DuckDB): a reader (the CLI, a test) and a run, or
    two runs outside the `duckdb` pool, take turns instead of failing. The wait says once what
    it waits for (DuckDB names the holder's pid), then every 30 s, and ends after
    `dagster.wait_seconds` (or `wait_seconds`, a caller's shorter bound: a sensor tick). A killed
    holder's lock goes with its process: no reaping needed.
    """
    started = time.monotonic()
    said_at: float | None = None
    bound: float | None = None
    while True:
        try:
            if read_only:
                return duckdb.connect(str(path), read_only=True)
            return duckdb.connect(
                str(path), config={"storage_compatibility_version": STORAGE_VERSION}
            )
        except duckdb.IOException as exc:
            message = str(exc).splitlines()[0]
            if not is_lock_conflict(message):
                known = operator_error(exc, path)
                if known is not None:
                    raise known from exc
                raise WarehouseError(f"cannot open the warehouse {path}: {message}") from exc
            if bound is None:
                bound = wait_seconds
            if bound is None:
                bound = LOCK_WAIT_SECONDS if LOCK_WAIT_SECONDS is not None else _wait_seconds()
            now = time.monotonic()
            if now - started >= bound:
                raise WaitTimeout(
                    f"the warehouse {path} is still locked after {bound:.0f} s ({message}): a run"
                    " is writing it (see the Dagster UI) or a shell holds it; try again later"
                    " (dagster.wait_seconds sets how long piper waits)"
                ) from exc
            if said_at is None or now - said_at >= SAY_EVERY_SECONDS:
                since = time.strftime("%H:%M:%S", time.gmtime(time.time() - (now - started)))
                log.warning(
                    f"{'waiting' if said_at is None else 'still waiting'} for the warehouse lock"
                    f" since {since} UTC ({message}); giving up after {bound:.0f} s"
                )
                said_at = now
            time.sleep(LOCK_POLL_SECONDS)


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Leave a self-contained file (no WAL) for readers and backups.

    Connections of one process share one database: while another of them (a thread) has a write
    transaction open, CHECKPOINT refuses. That is harmless: the WAL is still durable, and the last
    connection to close checkpoints. FORCE CHECKPOINT would abort the other writer instead.
    """
    try:
        con.execute("CHECKPOINT")
    except duckdb.TransactionException as exc:
        if "other write transactions" not in str(exc):
            raise


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage format of the connection's database file, e.g. 'v1.0.0+'."""
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name ="
        " current_database()"
    ).fetchone()
    return str(row[0]) if row and row[0] else "unknown"


@dataclass(frozen=True)
class StorageUpgrade:
    before: str
    after: str
    bytes_before: int
    bytes_after: int
    seconds: float


def upgrade_storage(path: Path) -> StorageUpgrade | None:
    """Rewrite the warehouse in STORAGE_VERSION's format (None: it already is).

    Holds the warehouse's lock throughout (no run can write meanwhile): checkpoints it, copies
    every table, sequence and row into `<name>.upgrade` beside it, checks each table's row count
    and puts the copy in place with one rename before letting go of the old file (a crash leaves
    the old warehouse as it was, and a leftover copy that the next attempt replaces)."""
    started = time.monotonic()
    tmp = path.with_name(path.name + ".upgrade")
    with connect(path, create=False) as con:
        before = storage_version(con)
        if before.startswith(STORAGE_VERSION):
            return None
        checkpoint(con)
        for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
            stale.unlink(missing_ok=True)
        quoted = str(tmp).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS upgraded (STORAGE_VERSION '{STORAGE_VERSION}')")
        try:
            source = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            con.execute(f'COPY FROM DATABASE "{source}" TO upgraded')
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [source]
                ).fetchall()
            ]
            for table in tables:
                old, new = (
                    con.execute(f'SELECT count(*) FROM "{db}".main."{table}"').fetchone()
                    for db in (source, "upgraded")
                )
                if old != new:
                    raise WarehouseError(
                        f"the storage upgrade of {path} copied {new} rows of {table} instead of"
                        f" {old}: nothing was changed; report it"
                    )
            con.execute("CHECKPOINT upgraded")
        finally:
            con.execute("DETACH DATABASE IF EXISTS upgraded")
        bytes_before = path.stat().st_size
        tmp.replace(path)  # the old file stays open (and locked) until this block ends
    with connect(path, read_only=True) as con:
        after = storage_version(con)
    return StorageUpgrade(
        before, after, bytes_before, path.stat().st_size, time.monotonic() - started
    )


def _require_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    # A reader cannot create the schema: a file without it is not (yet) piper's warehouse.
    sql = "SELECT 1 FROM duckdb_tables() WHERE table_name = 'spool_files'"
    if con.execute(sql).fetchone() is None:
        raise WarehouseError(f"{path} is not a piper warehouse (no tables): run `piper init`")


@contextmanager
def connect(
    path: Path, *, read_only: bool = False, create: bool = True, wait_seconds: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with piper's settings, creating it if needed (read-write, `create`).
    A lock held by another process is waited for `wait_seconds` (None: dagster.wait_seconds)."""
    if (read_only or not create) and not path.exists():
        raise WarehouseError(f"no warehouse at {path} yet: run `piper init` and `piper ingest`")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, wait_seconds)
    try:
        try:
            con.execute("SET memory_limit = ?", [_memory_limit()])
            if read_only:
                con.execute("SET TimeZone = 'UTC'")
                _require_schema(con, path)
            else:
                prepare(con)
            yield con
            if not read_only:
                checkpoint(con)
        except (duckdb.Error, OSError) as exc:
            # Damage found at query time, a full disk anywhere in the block: one line.
            known = operator_error(exc, path)
            if known is None or known is exc:
                raise
            raise known from exc
    finally:
        con.close()


@contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, *, commit: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction around the block: COMMIT at its end, ROLLBACK if it raises (anything,
    Ctrl-C included). `commit=False` rolls back at the end too: a dry run sees its own writes,
    then leaves nothing."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        if commit:
            con.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (a full disk) or a fatal error has already ended the transaction: the
        # ROLLBACK then fails too, and its error must not hide the cause (raised below).
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    if not commit:
        con.execute("ROLLBACK")
