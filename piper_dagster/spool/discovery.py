"""Spool discovery (contract §1): which files exist, their spool date, and whether they settled.

Only stat() calls: this runs in the sensor tick as well as in the ingest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

_DATED_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})_")


@dataclass(frozen=True)
class SpoolFile:
    """One `.jsonl` file of the spool as stat() saw it."""

    source_file: str  # path relative to raw_root, '/'-separated: host/user/name.jsonl
    host: str
    user: str
    size: int
    mtime_ns: int
    spool_date: date

    def settled(self, now_ns: int, settle_seconds: float) -> bool:
        return now_ns - self.mtime_ns >= settle_seconds * 1e9


def spool_date_of(name: str, mtime_ns: int) -> date:
    """The date in a `YYYY-MM-DD_` name prefix, else the UTC date of the mtime."""
    m = _DATED_NAME.match(name)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass  # not a valid date: fall back to the mtime like any other name
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).date()


def _dirs(path: str) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    yield entry
    except FileNotFoundError:
        return  # removed while we looked: nothing to read there


def scan_spool(raw_root: Path) -> Iterator[SpoolFile]:
    """Every `<host>/<user>/*.jsonl` file under raw_root (other names are ignored)."""
    for host in _dirs(str(raw_root)):
        for user in _dirs(host.path):
            try:
                entries = list(os.scandir(user.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.name.endswith(".jsonl") or entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except FileNotFoundError:
                    continue  # deleted by the retention cleanup between listing and stat
                if not entry.is_file():
                    continue
                yield SpoolFile(
                    source_file=f"{host.name}/{user.name}/{entry.name}",
                    host=host.name,
                    user=user.name,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    spool_date=spool_date_of(entry.name, st.st_mtime_ns),
                )
