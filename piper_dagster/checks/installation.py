"""`piper doctor --installation`: the installation itself, one row per item, no Dagster here.

The rows that need Dagster (the instance, its storage, the daemon, the sensors) are made by
piper_dagster/defs/installation.py; the CLI puts both in one report. A row never raises: what
goes wrong is the row's FAIL, with the fix in its hint.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piper_dagster.checks.doctor import EXIT_CODES
from piper_dagster.checks.outcome import Status, worst
from piper_dagster.settings import AlertsSettings, Settings

RUNBOOK = "docs/runbook.md#piper-doctor---installation"

# The rows, in the order they are printed: one per item (issue #15 item 6).
ITEMS = (
    "settings",
    "spool",
    "data_root_local",
    "data_root_writable",
    "free_space",
    "dagster_instance",
    "dagster_storage",
    "daemon_heartbeat",
    "sensors",
    "alert_channels",
)

# File systems reached over the network: DuckDB's locking and mmap are not safe there, and a
# network hiccup stalls every write (docs/design.md: data_root on local disk).
NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "afs",
    "9p",
    "ceph",
    "glusterfs",
    "lustre",
    "gpfs",
    "beegfs",
    "fuse.sshfs",
    "fuse.glusterfs",
    "fuse.s3fs",
    "fuse.rclone",
    "fuse.gcsfuse",
}
CONNECT_TIMEOUT_SECONDS = 3.0  # every network probe (postgres, alert channels) is bounded


@dataclass(frozen=True)
class Row:
    """One item of the installation: its verdict, what was found, and what to do."""

    item: str
    status: Status
    value: str
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "status": str(self.status),
            "value": self.value,
            "hint": self.hint,
        }


@dataclass
class InstallationReport:
    as_of: datetime
    rows: list[Row]

    @property
    def status(self) -> Status:
        return worst([r.status for r in self.rows])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "exit_code": self.exit_code,
            "as_of": self.as_of.isoformat(),
            "results": [r.as_dict() for r in self.rows],
        }


def format_installation(report: InstallationReport) -> str:
    """An aligned table as `piper doctor`'s: status, item, what was found, hint."""
    header = ("STATUS", "ITEM", "VALUE", "HINT")
    rows = [header]
    for r in report.rows:
        hint = r.hint
        if r.status not in (Status.PASS, Status.SKIP) and r.hint:
            hint += f" (see {RUNBOOK})"
        rows.append((str(r.status), r.item, r.value, hint))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    counts = {s: sum(r.status == s for r in report.rows) for s in Status}
    lines.append("")
    lines.append(
        f"{report.status}: {counts[Status.PASS]} pass, {counts[Status.SKIP]} skip,"
        f" {counts[Status.WARN]} warn, {counts[Status.FAIL]} fail"
        f" (installation, as of {report.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    return "\n".join(lines)


def skipped(items: Iterable[str], why: str) -> list[Row]:
    """The rows that could not be checked, saying why (SKIP: not judged)."""
    return [Row(item, Status.SKIP, "-", why) for item in items]


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def spool_row(settings: Settings) -> Row:
    """The spool directory exists and piper can list it."""
    raw = settings.raw_root
    fix = "set paths.raw_root (PIPER_PATHS__RAW_ROOT) to the spool, or mount it"
    if not raw.is_dir():
        return Row("spool", Status.FAIL, str(raw), f"not a directory; {fix}")
    try:
        with os.scandir(raw) as entries:
            hosts = sum(1 for e in entries if e.is_dir())
    except OSError as exc:
        return Row("spool", Status.FAIL, str(raw), f"cannot be read ({exc.strerror}); {fix}")
    return Row("spool", Status.PASS, f"{raw} ({hosts} host folders)")


def mount_of(path: Path, mounts: str) -> tuple[str, str] | None:
    """(mount point, file system type) of the mount holding `path`, from /proc/mounts' text."""
    best: tuple[str, str] | None = None
    target = str(path)
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and tabs in mount points as octal (\040, \011).
        point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        # The longest mount point holding the path wins; the last mounted, for the same point.
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fields[2])
    return best


def data_root_local_row(settings: Settings, mounts_file: Path = Path("/proc/mounts")) -> Row:
    """The data root is on a local file system (DuckDB's single-writer lock needs one)."""
    root = _existing(settings.data_root).resolve()
    try:
        found = mount_of(root, mounts_file.read_text())
    except OSError:
        found = None
    if found is None:
        return Row("data_root_local", Status.SKIP, str(root), f"cannot tell: no {mounts_file}")
    point, fstype = found
    value = f"{settings.data_root} on {fstype} ({point})"
    if fstype in NETWORK_FS:
        return Row(
            "data_root_local",
            Status.WARN,
            value,
            "a network file system: DuckDB's lock and writes need a local disk; move"
            " paths.data_root (PIPER_PATHS__DATA_ROOT) to a local disk (the spool may stay on NFS)",
        )
    return Row("data_root_local", Status.PASS, value)


def data_root_writable_row(settings: Settings) -> Row:
    """piper can create files in its data root (without creating the root itself)."""
    root = settings.data_root
    fix = "make it writable by piper's user, or set paths.data_root (PIPER_PATHS__DATA_ROOT)"
    if not root.exists():
        parent = _existing(root)
        if os.access(parent, os.W_OK | os.X_OK):
            return Row(
                "data_root_writable",
                Status.WARN,
                str(root),
                f"does not exist yet: `piper init` creates it (in {parent}, writable)",
            )
        return Row(
            "data_root_writable", Status.FAIL, str(root), f"cannot be created in {parent}; {fix}"
        )
    probe = root / f".piper-doctor-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Row("data_root_writable", Status.FAIL, str(root), f"{exc.strerror}; {fix}")
    return Row("data_root_writable", Status.PASS, str(root))


def free_space_row(settings: Settings, dagster_home: Path) -> Row:
    """Free space where piper writes (the data root, and DAGSTER_HOME if on another disk)."""
    warn_gib = settings.checks.free_space_warn_gib
    fail_gib = settings.checks.free_space_fail_gib
    places = [_existing(settings.data_root)]
    home = _existing(dagster_home)
    if home.stat().st_dev != places[0].stat().st_dev:
        places.append(home)
    worst_free: tuple[float, Path] | None = None
    for place in places:
        free = shutil.disk_usage(place).free
        if worst_free is None or free < worst_free[0]:
            worst_free = (free, place)
    assert worst_free is not None
    free, place = worst_free
    value = f"{_gib(free)} free at {place}"
    where = "paths.data_root" if place == places[0] else "DAGSTER_HOME"
    fix = f"free space there or move {where} to a bigger disk"
    if free < fail_gib * 2**30:
        return Row("free_space", Status.FAIL, value, f"below {fail_gib:g} GiB; {fix}")
    if free < warn_gib * 2**30:
        return Row("free_space", Status.WARN, value, f"below {warn_gib:g} GiB; {fix}")
    return Row("free_space", Status.PASS, value)


def tcp_reachable(host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str | None:
    """None if a TCP connection to host:port opens within `timeout`, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except OSError as exc:
        return exc.strerror or str(exc)


def alert_channels_row(alerts: AlertsSettings) -> Row:
    """Every configured alert channel answers a TCP connect (bounded); SKIP if none is set."""
    targets: list[tuple[str, str, int]] = []
    problems: list[str] = []
    for name in ("webhook_url", "slack_webhook_url", "teams_webhook_url"):
        url = getattr(alerts, name).get_secret_value()
        if not url:
            continue
        parts = urlsplit(url)
        if not parts.hostname:
            problems.append(f"{name}: not a URL")
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        targets.append((name, parts.hostname, port))
    if alerts.smtp_host:
        targets.append(("smtp", alerts.smtp_host, alerts.smtp_port))
    if not targets and not problems:
        return Row("alert_channels", Status.SKIP, "-", "no alert channel configured ([alerts])")
    for name, host, port in targets:
        why = tcp_reachable(host, port)
        if why is not None:
            problems.append(f"{name} {host}:{port}: {why}")
    value = ", ".join(f"{name} {host}:{port}" for name, host, port in targets) or "-"
    if problems:
        return Row(
            "alert_channels",
            Status.FAIL,
            value,
            "unreachable: " + "; ".join(problems) + " (no alert would reach anyone: check the"
            " address in [alerts] / PIPER_ALERTS__*, the proxy and the firewall)",
        )
    return Row("alert_channels", Status.PASS, value)


def core_rows(settings: Settings, dagster_home: Path) -> dict[str, Row]:
    """The rows that need no Dagster, by item."""
    rows = [
        spool_row(settings),
        data_root_local_row(settings),
        data_root_writable_row(settings),
        free_space_row(settings, dagster_home),
        alert_channels_row(settings.alerts),
    ]
    return {r.item: r for r in rows}
