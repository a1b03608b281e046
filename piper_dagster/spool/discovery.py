"""Spool discovery (contract §1): which files exist, their spool date, and whether they settled.

Only stat() calls: this runs in the sensor tick as well as in the ingest. No entry of the spool
may stop it: a name that is not UTF-8, a symlink loop, a folder or file piper may not read is
a SpoolIssue (skipped and reported by the planner's callers), and every other file is found.
"""

from __future__ import annotations

import os
import re
import stat as st_mode
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

_DATED_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})_")

# What a SpoolIssue is about (spool_anomalies.kind): the first three are never read.
UNREADABLE_NAME = "unreadable_name"  # a file or folder name that is not UTF-8
UNREADABLE = "unreadable"  # an OSError on the entry: symlink loop, permission denied, I/O error
BEFORE_START_DATE = "before_start_date"  # every date it could take is before ingest.start_date
FUTURE_MTIME = "future_mtime"  # read (settled by its ctime), but reported: its mtime is a lie
SKIPPED_KINDS = frozenset({UNREADABLE_NAME, UNREADABLE, BEFORE_START_DATE})


def printable(name: str) -> str:
    """A spool path as text any log, terminal or DuckDB column takes: the bytes of a name that
    is not UTF-8 (os.fsdecode's surrogate escapes) and control characters written as \\xNN."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in text)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # a surrogate escape (an undecodable byte) cannot be encoded
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class SpoolIssue:
    """A spool entry that is skipped (or read but suspicious), with why, for the operator."""

    source_file: str  # printable(): host/user/name, or the folder's path ('.': raw_root)
    kind: str
    detail: str  # what is wrong and what fixes it

    @property
    def skipped(self) -> bool:
        return self.kind in SKIPPED_KINDS

    def as_dict(self) -> dict[str, str]:
        return {"source_file": self.source_file, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class SpoolFile:
    """One `.jsonl` file of the spool as stat() saw it."""

    source_file: str  # path relative to raw_root, '/'-separated: host/user/name.jsonl
    host: str
    user: str
    size: int
    mtime_ns: int
    spool_date: date
    # The inode's change time: set by the file server's clock on every write (and utime()
    # calls), never settable by a user. None: not known (files built by hand in tests).
    ctime_ns: int | None = field(default=None, compare=False)

    @property
    def written_ns(self) -> int:
        """The latest time the file can have been written: its mtime, unless that is after its
        ctime (a write sets both; an mtime beyond the ctime was set by hand, e.g. `touch -d`,
        a copy keeping a wrong mtime), then the ctime. Settling and the clock-skew rule use it."""
        return self.mtime_ns if self.ctime_ns is None else min(self.mtime_ns, self.ctime_ns)

    def settled(self, now_ns: int, settle_seconds: float) -> bool:
        return now_ns - self.written_ns >= settle_seconds * 1e9


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_NS = 86_400 * 10**9


def _utc_date(ns: int) -> date:
    # Integer days since the epoch: a year of spool files is stat()ed on every sensor tick, and
    # datetime.fromtimestamp cost twice this per file.
    return date.fromordinal(_EPOCH_ORDINAL + ns // _DAY_NS)


def name_date(name: str) -> date | None:
    """The date in a valid `YYYY-MM-DD_` name prefix, None without one."""
    m = _DATED_NAME.match(name)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None  # not a valid date (2026-02-30): like any other name


def spool_date_of(
    name: str, mtime_ns: int, ctime_ns: int | None = None, first: date | None = None
) -> date:
    """The file's spool date (docs/contract.md "The spool", piper's reading).

    The contract's date is the `YYYY-MM-DD_` name prefix, else the UTC date of the mtime. A name
    date that is impossible falls back to the mtime's like an invalid one: after the file's
    ctime (nothing is opened on a day after the kernel last changed the file: a 2099 name) or
    before `first` (ingest.start_date: no partition holds it, e.g. the name given by a host
    whose clock battery died, whose events contract §6 then dates by the spool date). An mtime
    after the ctime (`touch -d`, a copy keeping a wrong mtime) gives way to the ctime the same
    way (SpoolFile.written_ns). Judged against the file's own times, never against today: the
    date is the same at every scan while the file is not written. With no date in the
    partitions (an old file restored into the spool: old name, old mtime), the contract's date
    that is possible: the caller reports it (lower ingest.start_date) rather than re-date its
    events."""
    written = _utc_date(mtime_ns if ctime_ns is None else min(mtime_ns, ctime_ns))
    named = name_date(name)
    if named is not None and ctime_ns is not None and named > _utc_date(ctime_ns):
        named = None  # impossible: after the file's last change
    if named is not None and (first is None or named >= first):
        return named
    if first is not None and written < first and named is not None:
        return named  # before the partitions either way: the name's, as the contract says
    return written


@dataclass
class SpoolSurvey:
    """What a walk of the spool found: the `.jsonl` files, and the entries it had to skip."""

    files: list[SpoolFile] = field(default_factory=list)
    issues: list[SpoolIssue] = field(default_factory=list)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _dirs(path: str, rel: str, survey: SpoolSurvey) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """The sub-folders of `path` (`rel`: its path relative to raw_root), the unusable reported."""
    what = "the spool root" if rel == "." else "the folder"
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except FileNotFoundError:
        return  # removed while we looked: nothing to read there
    except OSError as exc:
        survey.issues.append(
            SpoolIssue(
                printable(rel),
                UNREADABLE,
                f"{what} cannot be listed ({_reason(exc)}): nothing in it is read;"
                " give piper read and search permission",
            )
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        sub = entry.name if rel == "." else f"{rel}/{entry.name}"
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as exc:
            survey.issues.append(SpoolIssue(printable(sub), UNREADABLE, _reason(exc)))
            continue
        if not is_dir:
            continue
        if not _is_utf8(entry.name):
            survey.issues.append(
                SpoolIssue(
                    printable(sub),
                    UNREADABLE_NAME,
                    "a folder name that is not UTF-8: nothing in it is read; rename it",
                )
            )
            continue
        yield sub, entry


def dated_before(name: str, day: date, first: date | None) -> bool:
    """True if a file named `name` has a spool date before `day` whatever its times say.

    A valid name date N on or after `first` is the spool date unless N is after the file's
    ctime; then the written date, before N. So N < day puts the spool date before day either
    way (a name before `first`, or after `day`, can fall back to any written date)."""
    named = name_date(name)
    return named is not None and named < day and (first is None or named >= first)


def survey_spool(
    raw_root: Path, *, first: date | None = None, since: date | None = None
) -> SpoolSurvey:
    """Every `<host>/<user>/*.jsonl` file under raw_root (other names are ignored), and the
    entries that cannot be read; `first`: ingest.start_date, for the spool dates.

    `since`: only files whose spool date can be `since` or later. The others are not stat()ed:
    a run for today's partition plans from today's files, not from a year of them."""
    survey = SpoolSurvey()
    for host_rel, host in _dirs(str(raw_root), ".", survey):
        for user_rel, user in _dirs(host.path, host_rel, survey):
            try:
                with os.scandir(user.path) as it:
                    entries = list(it)
            except FileNotFoundError:
                continue
            except OSError as exc:
                survey.issues.append(
                    SpoolIssue(
                        printable(user_rel),
                        UNREADABLE,
                        f"the folder cannot be listed ({_reason(exc)}): nothing in it is read;"
                        " give piper read and search permission",
                    )
                )
                continue
            for entry in entries:
                if not entry.name.endswith(".jsonl") or entry.name.startswith("."):
                    continue
                rel = f"{user_rel}/{entry.name}"
                if not _is_utf8(entry.name):
                    survey.issues.append(
                        SpoolIssue(
                            printable(rel),
                            UNREADABLE_NAME,
                            "a file name that is not UTF-8: not read; rename it",
                        )
                    )
                    continue
                if since is not None and dated_before(entry.name, since, first):
                    continue
                s = _stat(entry, rel, survey)
                if s is None:
                    continue
                survey.files.append(
                    SpoolFile(
                        source_file=rel,
                        host=host.name,
                        user=user.name,
                        size=s.st_size,
                        mtime_ns=s.st_mtime_ns,
                        spool_date=spool_date_of(entry.name, s.st_mtime_ns, s.st_ctime_ns, first),
                        ctime_ns=s.st_ctime_ns,
                    )
                )
    return survey


def _stat(entry: os.DirEntry[str], rel: str, survey: SpoolSurvey) -> os.stat_result | None:
    """The entry's stat() if it is a regular file piper may read; else None (reported if it
    is a problem, silently if it simply went away or is not a file)."""
    try:
        s = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        if entry.is_symlink():
            survey.issues.append(
                SpoolIssue(printable(rel), UNREADABLE, "a symlink to a missing file")
            )
        return None  # else deleted by the retention cleanup between listing and stat
    except OSError as exc:  # ELOOP (a symlink loop), EACCES, EIO...
        survey.issues.append(
            SpoolIssue(
                printable(rel), UNREADABLE, f"cannot stat it ({_reason(exc)}): fix or remove it"
            )
        )
        return None
    if not st_mode.S_ISREG(s.st_mode):
        return None  # a folder or a device named *.jsonl: not a spool file
    if not os.access(entry.path, os.R_OK):
        survey.issues.append(
            SpoolIssue(printable(rel), UNREADABLE, "permission denied: give piper read permission")
        )
        return None
    return s


def scan_spool(raw_root: Path, *, first: date | None = None) -> Iterator[SpoolFile]:
    """Every readable `<host>/<user>/*.jsonl` file under raw_root (survey_spool without the
    issues)."""
    yield from survey_spool(raw_root, first=first).files
