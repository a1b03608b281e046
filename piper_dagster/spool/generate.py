"""Deterministic, realistic sample spools (contract telemetry-v1 §1): demo, tests, benchmarks.

`generate_spool` writes `<root>/<host>/<user>/<YYYY-MM-DD>_<name>.jsonl` files as the studio's
emitters would: artists' DCC sessions on their workstations, the Tractor poller, the storage
auditor; optionally with the damage a real spool shows (`DAMAGE_KINDS`). It returns a
`GenerateSummary` whose counts are exactly what a correct ingest must find.

`generate_bulk` writes many clean events fast (string templates, no pydantic, no json.dumps).

Counting conventions of `GenerateSummary`:

- `lines` counts complete lines (terminated by `\\n` or `\\r\\n`), so
  `lines == valid_events + duplicates + sum(invalid_by_reason) + blank_lines + nul_padding_lines`.
  An unterminated last line is not a line: it is counted in `unterminated_tails` only (an ingest
  must wait for its terminator, so it is neither valid nor invalid).
- A line holding NULs and other bytes is classified after NUL removal (a NUL run before an intact
  event is a valid event; a truncated line followed by NULs is `invalid_json`); only a line made of
  NULs alone is a NUL padding line.
- `skewed_events` counts distinct valid events that are clock-skewed (§6, 5 min tolerance) against
  the realistic mtime of their file, even when `mtime="now"` is asked.

Only the standard library and the contract models are used; everything random comes from
`random.Random` streams seeded from `GenerateOptions.seed`, so the same options give byte-identical
files (and identical mtimes when `mtime="realistic"`).
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from piper_dagster.contract.models import (
    EVENT_TYPES,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    PUBLISH_TYPES,
    TOOL_TYPES,
    Envelope,
    Reason,
    payload_field_specs,
)

REASON_KINDS: tuple[str, ...] = tuple(reason.value for reason in Reason)
DAMAGE_KINDS: tuple[str, ...] = (
    *REASON_KINDS,
    "duplicate",
    "nul_run",
    "crlf",
    "blank",
    "unterminated",
    "late",
)
# Damage kinds that are not rejection reasons but still produce invalid lines: a NUL run can
# replace the end of a line, whose surviving start is then unparsable JSON.
IMPLIED_REASONS: dict[str, frozenset[str]] = {"nul_run": frozenset({Reason.INVALID_JSON.value})}

SKEW_TOLERANCE = timedelta(minutes=5)
_LINE_TOO_LONG_MAX = 2  # each such line weighs more than 1 MiB: keep spools small

FARM_HOST, FARM_USER = "tractor01", "svc_tractor"
STORAGE_HOST, STORAGE_USER = "stor01", "svc_storage"


def expected_reasons(damage: Iterable[str]) -> frozenset[str]:
    """The rejection reasons (`invalid_by_reason` keys) that a spool with `damage` contains."""
    reasons: set[str] = set()
    for kind in damage:
        if kind in REASON_KINDS:
            reasons.add(kind)
        reasons |= IMPLIED_REASONS.get(kind, frozenset())
    return frozenset(reasons)


@dataclass(frozen=True)
class GenerateOptions:
    start: date
    days: int = 3
    artists: int = 12
    events_per_artist_day: int = 60
    farm: bool = True
    snapshot_minutes: int = 5
    storage: bool = True
    seed: int = 0
    damage: frozenset[str] = frozenset()
    damage_rate: float = 0.02
    skewed_hosts: int = 0
    skew_offset: timedelta = timedelta(hours=-72)
    mtime: Literal["realistic", "now"] = "realistic"

    def __post_init__(self) -> None:
        unknown = set(self.damage) - set(DAMAGE_KINDS)
        if unknown:
            raise ValueError(f"unknown damage kinds {sorted(unknown)}; known: {DAMAGE_KINDS}")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.artists < 0 or self.events_per_artist_day < 0:
            raise ValueError("artists and events_per_artist_day must be >= 0")
        if self.snapshot_minutes < 1:
            raise ValueError("snapshot_minutes must be >= 1")
        if not 0.0 <= self.damage_rate <= 1.0:
            raise ValueError("damage_rate must be in [0, 1]")
        if not 0 <= self.skewed_hosts <= self.artists:
            raise ValueError("skewed_hosts must be between 0 and artists")
        if "late" in self.damage and self.artists < 1:
            raise ValueError("late damage needs at least one artist")
        if self.mtime not in ("realistic", "now"):
            raise ValueError("mtime must be 'realistic' or 'now'")


@dataclass
class GenerateSummary:
    files: int
    lines: int
    bytes: int
    valid_events: int
    duplicates: int
    invalid_by_reason: dict[str, int]
    blank_lines: int
    nul_padding_lines: int
    unterminated_tails: int
    skewed_events: int
    # Extras: occurrences per requested damage kind (lines, NUL runs, files or late events, see
    # `generate_spool`), and distinct valid events per event_type.
    damage_counts: dict[str, int] = field(default_factory=dict)
    valid_by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- time ----------------------------------------------------------------------------------------

_US = 1_000_000
_MIN_US = 60 * _US
_HOUR_US = 3600 * _US
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
_TOL_US = int(SKEW_TOLERANCE.total_seconds()) * _US


def _day_us(day: date) -> int:
    return (day - _EPOCH_DATE).days * _DAY_US


def _date_of(t_us: int) -> date:
    return _EPOCH_DATE + timedelta(days=t_us // _DAY_US)


# (fraction digits, UTC offset in minutes, suffix, lower-case T/Z)
_TS_STYLES: dict[str, tuple[int, int, bool]] = {
    "ms_z": (3, 0, False),
    "us_utc": (6, 0, False),
    "s_z": (0, 0, False),
    "s_paris": (0, 60, False),
    "ms_ny": (3, -300, False),
    "ms_lower": (3, 0, True),
}


def _fmt_ts(t_us: int, style: str) -> tuple[str, int]:
    """RFC 3339 text of `t_us` in an emitter's style, and the instant that text denotes."""
    digits, offset_min, lower = _TS_STYLES[style]
    unit = 10 ** (6 - digits)
    t_us -= t_us % unit
    local = _EPOCH + timedelta(microseconds=t_us + offset_min * _MIN_US)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += f".{local.microsecond // unit:0{digits}d}"
    if offset_min == 0:
        suffix = "+00:00" if style == "us_utc" else "Z"
    else:
        sign = "+" if offset_min > 0 else "-"
        hours, minutes = divmod(abs(offset_min), 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    if lower:
        text, suffix = text.replace("T", "t"), suffix.lower()
    return text + suffix, t_us


def _is_skewed(ts_us: int, mtime_us: int, spool_day: date) -> bool:
    return ts_us > mtime_us + _TOL_US or ts_us < _day_us(spool_day) - _DAY_US


# --- vocabulary ----------------------------------------------------------------------------------

_FIRST_INITIALS = "abcdefghijklmnoprstvw"
_LAST_NAMES = (
    "doe", "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
    "leroy", "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand",
    "roux", "vincent", "fournier", "morel", "girard", "andre", "mercier", "dupont", "lambert",
    "bonnet", "francois", "martinez", "nguyen", "kim", "singh", "okafor", "silva", "rossi",
    "muller", "schmidt", "tanaka", "novak",
)  # fmt: skip
_ASSETS = (
    "chr_bun", "chr_patty", "chr_lettuce", "chr_tomato", "chr_cheese", "chr_pickle",
    "prp_knife", "prp_plate", "prp_toothpick", "prp_ketchup", "env_kitchen", "env_counter",
    "env_fridge", "veh_foodtruck",
)  # fmt: skip
_SEQUENCES = ("sq010", "sq020", "sq030", "sq040", "sq050", "sq060")
_SHOTS = tuple(f"sh{n:04d}" for n in range(10, 210, 10))
_DCC_VERSIONS = {
    "maya": ("2025.3", "2025.2", "2024.2"),
    "houdini": ("20.5.410", "20.5.332", "20.0.751"),
    "nuke": ("15.1v3", "15.0v5"),
    "katana": ("7.0v4", "6.5v3"),
    "substance_painter": ("10.1.2", "10.0.1"),
    "txmake": ("26.2", "26.1"),
}
_SESSION_PREFIX = {
    "maya": "maya",
    "houdini": "hou",
    "nuke": "nuke",
    "katana": "ktn",
    "substance_painter": "spp",
}
_SCENE_EXT = {
    "maya": "ma",
    "houdini": "hip",
    "nuke": "nk",
    "katana": "katana",
    "substance_painter": "spp",
}
# department -> session templates: (dcc, weight, {action event_type: weight})
_PROFILES: dict[str, tuple[tuple[str, float, dict[str, float]], ...]] = {
    "anim": (
        ("maya", 1.0, {"file.open": 8, "playblast.create": 18, "publish.anim.usd": 7,
                       "publish.customanim.usd": 2, "shot.setup": 3, "file.create": 2}),
    ),
    "layout": (
        ("maya", 1.0, {"shot.setup": 10, "file.open": 8, "playblast.create": 10,
                       "publish.camera.usd": 7, "publish.anim.usd": 2, "file.create": 3}),
    ),
    "lookdev": (
        ("substance_painter", 0.5, {"file.open": 5, "texture.export.substance": 25,
                                    "texture.convert.tex": 15, "file.create": 2}),
        ("maya", 0.3, {"file.open": 6, "publish.asset.usd": 6, "texture.convert.tex": 8,
                       "playblast.create": 2}),
        ("katana", 0.2, {"file.open": 8, "file.create": 3, "publish.asset.usd": 3}),
    ),
    "fx": (
        ("houdini", 1.0, {"file.open": 6, "build.houdini.component": 12, "file.create": 4,
                          "publish.customanim.usd": 3, "playblast.create": 3}),
    ),
    "modeling": (
        ("maya", 0.75, {"file.open": 8, "file.create": 6, "publish.asset.usd": 7,
                        "playblast.create": 2}),
        ("houdini", 0.25, {"file.open": 5, "build.houdini.component": 6,
                           "publish.asset.usd": 4}),
    ),
    "previs": (
        ("maya", 1.0, {"file.open": 6, "playblast.create": 12, "publish.previs_asset.usd": 6,
                       "publish.camera.usd": 3, "shot.setup": 5, "file.create": 3}),
    ),
    "lighting": (
        ("katana", 0.8, {"file.open": 10, "file.create": 3, "shot.setup": 4}),
        ("nuke", 0.2, {"file.open": 6, "file.create": 2}),
    ),
    "comp": (("nuke", 1.0, {"file.open": 12, "file.create": 6}),),
    "rigging": (("maya", 1.0, {"file.open": 10, "file.create": 5, "publish.asset.usd": 5}),),
}  # fmt: skip
# Department of artist i is _DEPARTMENTS[i % 12]: the first dozen cover every event type.
_DEPARTMENTS = (
    "anim", "layout", "lookdev", "fx", "modeling", "previs",
    "anim", "lighting", "comp", "rigging", "anim", "lookdev",
)  # fmt: skip
_SHOT_DEPTS = frozenset({"anim", "layout", "previs", "lighting", "comp"})

# event_type -> (median duration ms, sigma, failure rate)
_TOOL_TIMING: dict[str, tuple[float, float, float]] = {
    "dcc.launch": (20_000, 0.5, 0.02),
    "file.open": (25_000, 0.9, 0.03),
    "file.create": (1_500, 0.5, 0.01),
    "shot.setup": (40_000, 0.6, 0.05),
    "playblast.create": (75_000, 0.7, 0.04),
    "build.houdini.component": (140_000, 0.8, 0.08),
    "texture.export.substance": (60_000, 0.7, 0.03),
    "texture.convert.tex": (9_000, 0.8, 0.02),
}
_LAUNCH_MEDIAN_MS = {
    "maya": 35_000,
    "houdini": 18_000,
    "nuke": 6_000,
    "katana": 25_000,
    "substance_painter": 20_000,
}
# event_type -> (median duration ms, failure rate, median output bytes)
_PUBLISH_PROFILE: dict[str, tuple[float, float, float]] = {
    "publish.asset.usd": (60_000, 0.07, 250e6),
    "publish.anim.usd": (45_000, 0.09, 80e6),
    "publish.camera.usd": (8_000, 0.05, 2e6),
    "publish.customanim.usd": (30_000, 0.08, 40e6),
    "publish.previs_asset.usd": (20_000, 0.06, 15e6),
}
_TOOL_ERRORS = {
    "dcc.launch": ("license checkout failed: no such feature exists", "plugin load failed"),
    "file.open": (
        "permission denied",
        "file not found",
        "reference file missing",
        "échec de lecture: scène verrouillée",
    ),
    "file.create": ("permission denied", "disk quota exceeded"),
    "shot.setup": ("shot not found in ShotGrid", "frame range mismatch with editorial"),
    "playblast.create": ("out of GPU memory", "ffmpeg exited with status 1"),
    "build.houdini.component": ("cook error in /obj/geo1/boolean2", "invalid USD prim path"),
    "texture.export.substance": ("export preset missing", "UDIM tile 1012 out of range"),
    "texture.convert.tex": ("txmake: unsupported channel count", "txmake: cannot open input"),
}
_PUBLISH_ERRORS = (
    "USD layer locked by another session",
    "validation failed: non-manifold geometry",
    "validation failed: missing UVs",
    "disk quota exceeded",
    "timeout waiting for asset server",
    "missing reference: /groups/sandwich/assets/chr_bun/usd/v011/chr_bun.usda",
)

_STORAGE_ROOTS: dict[str, tuple[str, ...]] = {
    "/groups/sandwich": ("assets", "shots", "renders", "editorial", "publish", "reference"),
    "/scratch/sandwich": ("cache", "sim", "renders_tmp", "playblasts", "houdini_geo", "tmp"),
    "/groups/library": ("hdri", "textures", "megascans", "plugins", "sfx", "fonts"),
}
_RENDER_PASSES = ("beauty", "beauty", "fx_smoke", "shadow", "crowd", "precomp", "lookdev_turntable")


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _user_names(count: int, seed: int) -> list[str]:
    rng = random.Random(f"{seed}:names")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = rng.choice(_FIRST_INITIALS) + rng.choice(_LAST_NAMES)
        if name in seen:
            name += str(len(names))
        seen.add(name)
        names.append(name)
    return names


# --- emitters, records, files --------------------------------------------------------------------


@dataclass(frozen=True)
class _Emitter:
    """How one host's emitter writes its lines (all valid per the contract)."""

    version: str = "1.0"
    ts_style: str = "ms_z"
    spaced: bool = False
    ascii: bool = True
    show: bool = False
    session_last: bool = True
    null_error: bool = True
    null_session: bool = False

    def dumps(self, event: Any) -> str:
        seps = (", ", ": ") if self.spaced else (",", ":")
        return json.dumps(event, separators=seps, ensure_ascii=self.ascii)


def _artist_emitter(rng: random.Random) -> _Emitter:
    version = rng.choices(("1.0", "1.1", "1.2"), weights=(7, 2, 1))[0]
    return _Emitter(
        version=version,
        ts_style=rng.choices(
            ("ms_z", "us_utc", "s_paris", "ms_ny", "ms_lower"), weights=(14, 2, 2, 1, 1)
        )[0],
        spaced=rng.random() < 0.2,
        ascii=rng.random() < 0.5,
        show=rng.random() < 0.3,
        session_last=rng.random() < 0.5,
        null_error=rng.random() < 0.6,
        null_session=rng.random() < 0.15,
    )


@dataclass(eq=False)
class _Rec:
    kind: Literal["event", "invalid", "blank", "nul", "tail", "gone"]  # gone: replaced
    write_us: int
    event: dict[str, Any] | None = None
    ts_us: int = 0
    raw: bytes | None = None  # the line without terminator, when not rendered from `event`
    reason: str | None = None
    plain: bool = True  # an untouched valid event: may be picked for damage
    late: bool = False
    prefix: bytes = b""  # NULs before an intact event
    damage: str | None = None


@dataclass(eq=False)
class _File:
    host: str
    user: str
    day: date
    name: str
    emitter: _Emitter
    recs: list[_Rec] = field(default_factory=list)
    crlf: bool = False
    mtime_us: int = 0

    @property
    def relpath(self) -> str:
        return f"{self.host}/{self.user}/{self.day.isoformat()}_{self.name}.jsonl"

    def render(self, rec: _Rec) -> bytes:
        if rec.raw is not None:
            return rec.raw
        assert rec.event is not None
        return rec.prefix + self.emitter.dumps(rec.event).encode()

    def events(self) -> list[_Rec]:
        return [r for r in self.recs if r.kind == "event"]


class _Spool:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str, date, str], _File] = {}

    def file(self, host: str, user: str, day: date, name: str, emitter: _Emitter) -> _File:
        key = (host, user, day, name)
        if key not in self.files:
            self.files[key] = _File(host, user, day, name, emitter)
        return self.files[key]

    def has(self, host: str, user: str, day: date, name: str) -> bool:
        return (host, user, day, name) in self.files


def _envelope(
    emitter: _Emitter,
    rng: random.Random,
    event_type: str,
    t_us: int,
    host: str,
    user: str,
    payload: dict[str, Any],
    session_id: str | None = None,
    event_id: str | None = None,
) -> tuple[dict[str, Any], int]:
    ts, ts_us = _fmt_ts(t_us, emitter.ts_style)
    event: dict[str, Any] = {
        "schema_version": emitter.version,
        "event_id": event_id or _uuid(rng),
        "event_type": event_type,
        "ts": ts,
        "host": host,
        "user": user,
    }
    if emitter.show:
        event["show"] = "sandwich"
    has_session = session_id is not None or emitter.null_session
    if has_session and not emitter.session_last:
        event["session_id"] = session_id
    event["payload"] = payload
    if has_session and emitter.session_last:
        event["session_id"] = session_id
    if emitter.version != "1.0":
        event["x_emitter"] = f"piper-plugin/{emitter.version}.{rng.randint(0, 9)}"
    return event, ts_us


# --- artists -------------------------------------------------------------------------------------


@dataclass
class _Artist:
    index: int
    host: str
    user: str
    dept: str
    emitter: _Emitter
    rng: random.Random
    offset_us: int  # clock skew of the host (0 if its clock is right)
    contexts: list[str]
    versions: dict[str, str]
    night_owl: bool


def _context_paths(artist: _Artist, context: str, dcc: str) -> tuple[str, str]:
    """(work dir, stem) of a session's context (an asset or a shot)."""
    if context.startswith("sq"):
        seq, shot = context.split("_")
        return f"/groups/sandwich/shots/{seq}/{shot}/{artist.dept}/work/{artist.user}", context
    return f"/groups/sandwich/assets/{context}/{artist.dept}/work/{artist.user}", context


class _ArtistWriter:
    """Builds the sessions (and their spool files) of one artist."""

    def __init__(self, spool: _Spool, artist: _Artist) -> None:
        self.spool = spool
        self.a = artist
        self.version_counter: dict[str, int] = {}

    def _session_id(self, dcc: str, day: date) -> str:
        rng = self.a.rng
        while True:
            sid = f"{_SESSION_PREFIX[dcc]}-{rng.getrandbits(16):04x}"
            if not self.spool.has(self.a.host, self.a.user, day, sid):
                return sid

    def _version(self, key: str) -> int:
        self.version_counter[key] = self.version_counter.get(key, self.a.rng.randint(1, 9)) + 1
        return self.version_counter[key]

    def payload(self, event_type: str, dcc: str, context: str) -> dict[str, Any]:
        a, rng = self.a, self.a.rng
        emitter = a.emitter
        workdir, stem = _context_paths(a, context, dcc)
        if event_type in PUBLISH_TYPES:
            median, fail_rate, median_bytes = _PUBLISH_PROFILE[event_type]
            failed = rng.random() < fail_rate
            duration = _lognormal(rng, median, 0.8)
            if event_type in ("publish.asset.usd", "publish.previs_asset.usd"):
                asset = context if not context.startswith("sq") else rng.choice(_ASSETS)
            else:
                asset = context if context.startswith("sq") else f"sq010_{rng.choice(_SHOTS)}"
            payload: dict[str, Any] = {
                "status": "failure" if failed else "success",
                "duration_ms": int(duration * rng.uniform(0.05, 0.6) if failed else duration),
                "output_bytes": 0 if failed else int(_lognormal(rng, median_bytes, 1.0)),
                "asset": asset,
                "department": a.dept,
            }
            kind = event_type.split(".")[1]
            if not failed:
                version = self._version(f"{asset}:{kind}")
                if asset.startswith("sq"):
                    seq, shot = asset.split("_")
                    payload["usd_path"] = (
                        f"/groups/sandwich/shots/{seq}/{shot}/usd/{kind}/v{version:03d}/"
                        f"{asset}_{kind}.usd"
                    )
                else:
                    payload["usd_path"] = (
                        f"/groups/sandwich/assets/{asset}/usd/v{version:03d}/{asset}.usda"
                    )
                if emitter.null_error:
                    payload["error"] = None
            else:
                payload["error"] = rng.choice(_PUBLISH_ERRORS)
            return payload
        median, sigma, fail_rate = _TOOL_TIMING[event_type]
        if event_type == "dcc.launch":
            median = _LAUNCH_MEDIAN_MS.get(dcc, median)
        failed = rng.random() < fail_rate
        duration = _lognormal(rng, median, sigma)
        if failed:
            duration *= rng.uniform(0.05, 0.6)
        tool_dcc = dcc
        if event_type == "texture.convert.tex":
            tool_dcc = "txmake"
        elif event_type == "build.houdini.component":
            tool_dcc = "houdini"
        elif event_type == "texture.export.substance":
            tool_dcc = "substance_painter"
        duration_ms: int | float = int(duration)
        if emitter.version != "1.0" and rng.random() < 0.2:
            duration_ms = float(int(duration))  # a whole float is a valid integer (§4)
        payload = {
            "status": "failure" if failed else "success",
            "duration_ms": duration_ms,
            "dcc": tool_dcc,
            "dcc_version": a.versions[tool_dcc],
        }
        ext = _SCENE_EXT.get(dcc, "ma")
        if event_type in ("file.open", "file.create"):
            version = self._version(f"{stem}:{dcc}")
            payload["path"] = f"{workdir}/{stem}_{a.dept}_v{version:03d}.{ext}"
        elif event_type == "playblast.create":
            payload["path"] = f"{workdir}/playblasts/{stem}_{a.dept}_v{rng.randint(1, 40):03d}.mov"
        elif event_type == "texture.export.substance":
            payload["path"] = f"{workdir}/textures/{stem}_baseColor.1001.exr"
        elif event_type == "texture.convert.tex":
            payload["path"] = f"{workdir}/textures/{stem}_baseColor.{rng.randint(1001, 1012)}.tex"
        elif event_type == "build.houdini.component":
            payload["path"] = f"{workdir}/components/{stem}_component.usd"
        elif event_type == "shot.setup" and stem.startswith("sq"):
            payload["path"] = workdir
        if failed:
            payload["error"] = rng.choice(_TOOL_ERRORS[event_type])
        elif emitter.null_error:
            payload["error"] = None
        if emitter.version == "1.2":
            payload["x_mem_peak_mb"] = rng.randint(800, 48_000)
        return payload

    def session(
        self,
        start_us: int,
        n_events: int,
        file_day: date,
        gap_mean_us: float,
        flush_until_us: int | None = None,
    ) -> _File:
        """One DCC session: launch, open/create, then work; its events go to one file.

        Events written before `flush_until_us` (an emitter that opens its file lazily) are
        written at that instant.
        """
        a, rng = self.a, self.a.rng
        templates = _PROFILES[a.dept]
        dcc, _, actions = rng.choices(templates, weights=[t[1] for t in templates])[0]
        sid = self._session_id(dcc, file_day)
        f = self.spool.file(a.host, a.user, file_day, sid, a.emitter)
        context = rng.choice(a.contexts)
        t = start_us
        for i in range(max(n_events, 1)):
            if i == 0:
                event_type = "dcc.launch"
            elif i == 1:
                event_type = "file.open" if rng.random() < 0.8 else "file.create"
            else:
                event_type = _weighted(rng, actions)
                if rng.random() < 0.1:
                    context = rng.choice(a.contexts)
            payload = self.payload(event_type, dcc, context)
            t += int(payload["duration_ms"]) * 1000
            self.add(f, event_type, t, payload, sid, flush_until_us)
            t += int(rng.expovariate(1.0 / gap_mean_us)) + 5 * _US
        return f

    def add(
        self,
        f: _File,
        event_type: str,
        true_us: int,
        payload: dict[str, Any],
        session_id: str | None,
        flush_until_us: int | None = None,
        late: bool = False,
        write_us: int | None = None,
    ) -> None:
        a = self.a
        event, ts_us = _envelope(
            a.emitter,
            a.rng,
            event_type,
            true_us + a.offset_us,
            a.host,
            a.user,
            payload,
            session_id,
        )
        if write_us is None:
            write_us = true_us + a.rng.randint(0, 2 * _US)
            if flush_until_us is not None and write_us < flush_until_us:
                write_us = flush_until_us
        f.recs.append(_Rec("event", write_us, event, ts_us, late=late))


def _make_artists(options: GenerateOptions) -> list[_Artist]:
    names = _user_names(options.artists, options.seed)
    skew_rng = random.Random(f"{options.seed}:skew")
    skewed = set(skew_rng.sample(range(options.artists), options.skewed_hosts))
    offset_us = int(options.skew_offset.total_seconds() * _US)
    artists = []
    for i in range(options.artists):
        rng = random.Random(f"{options.seed}:artist:{i}")
        dept = _DEPARTMENTS[i % len(_DEPARTMENTS)]
        if dept in _SHOT_DEPTS:
            contexts = [f"{rng.choice(_SEQUENCES)}_{rng.choice(_SHOTS)}" for _ in range(3)]
        else:
            contexts = rng.sample(_ASSETS, 3)
        versions = {dcc: rng.choice(v) for dcc, v in _DCC_VERSIONS.items()}
        artists.append(
            _Artist(
                index=i,
                host=f"ws{i + 1:03d}",
                user=names[i],
                dept=dept,
                emitter=_artist_emitter(rng),
                rng=rng,
                offset_us=offset_us if i in skewed else 0,
                contexts=contexts,
                versions=versions,
                night_owl=rng.random() < 0.1,
            )
        )
    return artists


def _gen_artist(spool: _Spool, artist: _Artist, options: GenerateOptions) -> None:
    writer = _ArtistWriter(spool, artist)
    rng = artist.rng
    per_day = options.events_per_artist_day
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        weekend = day.weekday() >= 5
        if weekend:
            works = rng.random() < 0.25
            target = per_day * 0.6 * _lognormal(rng, 1.0, 0.25)
        else:
            works = rng.random() < 0.97
            target = per_day * _lognormal(rng, 1.0, 0.2)
        n = round(target)
        if not works or n < 2:
            continue
        k = 1 if n < 12 else rng.choice((1, 2, 2, 3))
        parts = [n // k + (1 if j < n % k else 0) for j in range(k)]
        workday_us = 9 * _HOUR_US
        t = _day_us(day) + int((7.5 + rng.uniform(0.0, 2.0)) * _HOUR_US)
        for part in parts:
            span = workday_us * part / n
            writer.session(t, part, day, gap_mean_us=span / max(part, 1))
            t += int(span) + int(rng.uniform(0.2, 1.0) * _HOUR_US)
        if artist.night_owl and not weekend and rng.random() < 0.5:
            start_us = _day_us(day) + int(rng.uniform(21.0, 23.5) * _HOUR_US)
            writer.session(start_us, rng.randint(4, 12), day, gap_mean_us=6 * _MIN_US)


def _gen_late(
    spool: _Spool, artists: list[_Artist], options: GenerateOptions, rng: random.Random, target: int
) -> None:
    """`late` damage: sessions whose file opens after midnight, and a laptop syncing days later."""
    days = [options.start + timedelta(days=d) for d in range(options.days)]
    produced = 0
    candidates = [a for a in artists if a.offset_us == 0] or artists
    for _ in range(200):
        if produced and produced >= 0.7 * target:
            break
        artist = rng.choice(candidates)
        day = rng.choice(days)
        midnight = _day_us(day)
        writer = _ArtistWriter(spool, artist)
        start_us = midnight - int(rng.uniform(15.0, 55.0) * _MIN_US)
        flush_us = midnight + rng.randint(5, 60) * _US
        f = writer.session(start_us, rng.randint(8, 16), day, 4 * _MIN_US, flush_until_us=flush_us)
        for r in f.recs:
            r.late = r.ts_us < midnight
            produced += r.late
    # A laptop used offline (on a train, at home) syncs its spool days later: the file opened
    # at the sync holds events of the day before (not skewed) and older ones (skewed, §6).
    artist = rng.choice(artists)
    laptop = _Artist(
        index=artist.index,
        host=f"lt{artist.index + 1:03d}",
        user=artist.user,
        dept=artist.dept,
        emitter=_Emitter(ts_style="ms_z"),
        rng=random.Random(f"{options.seed}:laptop"),
        offset_us=0,
        contexts=artist.contexts,
        versions=artist.versions,
        night_owl=False,
    )
    writer = _ArtistWriter(spool, laptop)
    day = rng.choice(days)
    sync_us = _day_us(day) + int(rng.uniform(8.0, 9.5) * _HOUR_US)
    f = spool.file(laptop.host, laptop.user, day, f"sync-{rng.getrandbits(16):04x}", laptop.emitter)
    n = max(2, round(0.3 * target))
    n_old = max(1, n // 4)
    templates = _PROFILES[laptop.dept]
    dcc = templates[0][0]
    times = sorted(
        [_day_us(day - timedelta(days=rng.randint(2, 10))) for _ in range(n_old)]
        + [_day_us(day - timedelta(days=1))] * (n - n_old)
    )
    for i, day_start in enumerate(times):
        t = day_start + int(rng.uniform(12.0, 22.0) * _HOUR_US)
        event_type = "dcc.launch" if i == 0 else _weighted(rng, templates[0][2])
        payload = writer.payload(event_type, dcc, rng.choice(laptop.contexts))
        writer.add(f, event_type, t, payload, None, late=True, write_us=sync_us + i * 1000)
    f.recs.sort(key=lambda r: r.write_us)


# --- farm and storage ----------------------------------------------------------------------------


def _gen_farm(spool: _Spool, options: GenerateOptions, n_artists: int) -> None:
    rng = random.Random(f"{options.seed}:farm")
    emitter = _Emitter(ts_style="ms_z", session_last=True, null_error=False)
    job_no = 8_800_000 + rng.randint(0, 99_999)
    errored = rng.randint(0, 4)
    end_us = _day_us(options.start + timedelta(days=options.days))
    renders: list[tuple[int, dict[str, Any]]] = []
    step_us = options.snapshot_minutes * _MIN_US
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        day_us = _day_us(day)
        weekend = day.weekday() >= 5
        poller = spool.file(FARM_HOST, FARM_USER, day, "tractor-poller", emitter)
        jobs = spool.file(FARM_HOST, FARM_USER, day, "tractor-jobs", emitter)
        total = 384 if rng.random() < 0.2 else 400
        for slot_us in range(0, _DAY_US, step_us):
            hour = slot_us / _HOUR_US
            night = hour >= 19 or hour < 8
            base = (0.9 if night else 0.62) * (0.7 if weekend else 1.0)
            load = min(1.0, max(0.05, base + rng.gauss(0, 0.05)))
            active = min(total, round(total * load))
            errored = min(15, max(0, errored + rng.choice((-1, 0, 0, 0, 1))))
            payload = {
                "total_blades": total,
                "active_blades": active,
                "errored_jobs": errored,
                "active_jobs": int(15 + 60 * load + rng.randint(-5, 5)),
                "queued_tasks": int(
                    _lognormal(rng, 8000, 0.5) if load > 0.85 else rng.randint(0, 2000)
                ),
            }
            t = day_us + slot_us + rng.randint(200_000, 3_000_000)
            event, ts_us = _envelope(
                emitter, rng, "tractor.farm.snapshot", t, FARM_HOST, FARM_USER, payload
            )
            poller.recs.append(_Rec("event", t + rng.randint(0, 500_000), event, ts_us))
        n_jobs = max(
            1, round(max(1, n_artists) * (0.3 if weekend else 1.5) * rng.uniform(0.7, 1.3))
        )
        spool_times = sorted(
            day_us + int(min(23.9, max(8.0, rng.gauss(16.5, 2.5))) * _HOUR_US)
            for _ in range(n_jobs)
        )
        for spool_us in spool_times:
            job_no += rng.randint(1, 40)
            job_id = f"J{job_no}"
            frames = rng.choice((48, 72, 96, 120, 144, 180, 240))
            layers = rng.choice((1, 1, 2, 3))
            shot = f"{rng.choice(_SEQUENCES)}_{rng.choice(_SHOTS)}"
            rejected = rng.random() < 0.03
            payload = {
                "job_id": job_id,
                "status": "rejected" if rejected else "spooled",
                "task_count": frames * layers,
                "title": f"{shot} {rng.choice(_RENDER_PASSES)} v{rng.randint(1, 30):03d}",
                "priority": rng.choice((50, 100, 100, 100, 200, 500)),
            }
            event, ts_us = _envelope(
                emitter, rng, "tractor.job.spool", spool_us, FARM_HOST, FARM_USER, payload
            )
            jobs.recs.append(_Rec("event", spool_us + rng.randint(0, 900_000), event, ts_us))
            if rejected:
                continue
            wall = min(30 * 3600.0, _lognormal(rng, 3.5 * 3600, 0.6))
            frames_total = frames * layers
            failed = rng.random() < 0.08
            if failed:
                frames_failed = rng.randint(1, max(1, frames_total // rng.choice((1, 4, 10))))
            else:
                frames_failed = rng.randint(1, 3) if rng.random() < 0.1 else 0
            cpu = frames_total * _lognormal(rng, 1300.0, 0.7) * (0.5 if failed else 1.0)
            summary = {
                "job_id": job_id,
                "status": "failure" if failed else "success",
                "frames_total": frames_total,
                "frames_failed": min(frames_failed, frames_total),
                "cpu_seconds": round(cpu, 1),
                "wall_seconds": round(wall, 1),
                "peak_rss_bytes": int(_lognormal(rng, 24 * 2**30, 0.5)),
            }
            finish_us = spool_us + int(wall * _US)
            if finish_us < end_us - _MIN_US:
                renders.append((finish_us, summary))
    for finish_us, summary in renders:
        day = _date_of(finish_us)
        jobs = spool.file(FARM_HOST, FARM_USER, day, "tractor-jobs", emitter)
        event, ts_us = _envelope(
            emitter, rng, "render.stats.summary", finish_us, FARM_HOST, FARM_USER, summary
        )
        jobs.recs.append(_Rec("event", finish_us + rng.randint(0, 900_000), event, ts_us))
    for f in spool.files.values():
        if f.host == FARM_HOST:
            f.recs.sort(key=lambda r: r.write_us)


def _gen_storage(spool: _Spool, options: GenerateOptions) -> None:
    rng = random.Random(f"{options.seed}:storage")
    emitter = _Emitter(ts_style="s_z", spaced=True)
    state: dict[tuple[str, str], list[float]] = {}
    buckets = {root: rng.sample(pool, rng.randint(4, 6)) for root, pool in _STORAGE_ROOTS.items()}
    for root, names in buckets.items():
        for bucket in names:
            size = _lognormal(rng, 40e12, 1.0)
            state[(root, bucket)] = [size, size / _lognormal(rng, 8e6, 0.8)]
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        f = spool.file(STORAGE_HOST, STORAGE_USER, day, "storage-audit", emitter)
        t = _day_us(day) + int(rng.uniform(1.5, 2.5) * _HOUR_US)
        for root, names in buckets.items():
            root_start = t
            total_bytes = total_files = 0
            for bucket in names:
                size, count = state[(root, bucket)]
                if d > 0:
                    growth = rng.uniform(0.001, 0.03 if "render" in bucket else 0.012)
                    size *= 1 + growth
                    count *= 1 + growth * rng.uniform(0.5, 1.2)
                    state[(root, bucket)] = [size, count]
                t += int(_lognormal(rng, 6 * _MIN_US, 0.6))
                payload = {
                    "root": root,
                    "bucket": bucket,
                    "bytes": int(size),
                    "file_count": int(count),
                }
                total_bytes += int(size)
                total_files += int(count)
                event_id = f"scan:{day.isoformat()}:{root}:{bucket}"
                event, ts_us = _envelope(
                    emitter, rng, "storage.scan.bucket", t, STORAGE_HOST, STORAGE_USER, payload,
                    event_id=event_id,
                )  # fmt: skip
                f.recs.append(_Rec("event", t + rng.randint(0, 200_000), event, ts_us))
            t += int(rng.uniform(2, 20) * _US)
            payload = {
                "root": root,
                "total_bytes": total_bytes,
                "file_count": total_files,
                "scan_duration_ms": (t - root_start) // 1000,
            }
            event, ts_us = _envelope(
                emitter, rng, "storage.scan.summary", t, STORAGE_HOST, STORAGE_USER, payload,
                event_id=f"scan:{day.isoformat()}:{root}",
            )  # fmt: skip
            f.recs.append(_Rec("event", t + rng.randint(0, 200_000), event, ts_us))


# --- damage ---------------------------------------------------------------------------------------

_SPECS = {event_type: payload_field_specs(model) for event_type, model in EVENT_TYPES.items()}
_ENVELOPE_REQUIRED = tuple(n for n, info in Envelope.model_fields.items() if info.is_required())
_LOG_CHUNK = (
    "  File /opt/autodesk/maya2025/lib/python3.11/site-packages/pxr/Usd/__init__.py, "
    "line 42, in Save | UsdStage.Save: layer write failed, retrying | "
)
_BAD_SCHEMA_VERSIONS: tuple[Any, ...] = (
    "2.0", "1", "0.9", "1.0.1", "v1.0", "1.x", "1.", " 1.0", "1.0-beta", 1.0, 1,
)  # fmt: skip
_BAD_EVENT_TYPES: tuple[Any, ...] = (
    "dcc.crash", "publish.asset", "file.opened", "", "dcc.launch ", "render.stats", 7,
    ["dcc.launch"], "case",
)  # fmt: skip
_BAD_STATUSES = ("ok", "SUCCESS", "failed", "done", "Success", "")
_BAD_SPOOL_STATUSES = ("success", "queued", "Spooled", "")

# reason kind -> variants; each variant is applied to one valid event picked from the spool
_VARIANTS: dict[str, tuple[str, ...]] = {
    "line_too_long": ("huge_log_min", "huge_log"),
    "invalid_utf8": ("latin1", "ff", "truncated_multibyte", "lone_lead"),
    "invalid_json": (
        "truncated", "trailing_brace", "glued", "python_repr", "missing_comma", "unescaped_quote",
    ),
    "not_an_object": ("array_wrapped", "double_encoded", "null", "pair"),
    "missing_field": (
        "drop_envelope", "null_envelope", "drop_payload_field", "null_payload_field",
    ),
    "unsupported_schema_version": tuple(f"sv{i}" for i in range(len(_BAD_SCHEMA_VERSIONS))),
    "unknown_event_type": tuple(f"et{i}" for i in range(len(_BAD_EVENT_TYPES))),
    "invalid_timestamp": (
        "space", "no_offset", "second_60", "epoch", "epoch_ms_string", "slashes", "hour_24",
        "date_only", "no_seconds",
    ),
    "wrong_type": (
        "number_as_string", "fractional_int", "bool_int", "host_number", "user_list",
        "payload_string", "payload_list", "status_number", "string_field_number",
        "session_number", "event_id_number",
    ),
    "invalid_value": (
        "negative", "status", "at_most", "empty_event_id", "empty_host", "empty_user",
        "long_event_id",
    ),
}  # fmt: skip


def _fields(event: dict[str, Any], json_kinds: tuple[str, ...], **flags: Any) -> list[str]:
    """Payload fields of `event` that are present and of one of `json_kinds` (and Kind `flags`)."""
    payload = event["payload"]
    out = []
    for spec in _SPECS[event["event_type"]]:
        if spec.kind.json not in json_kinds or payload.get(spec.name) is None:
            continue
        if spec.kind.json == "string" and spec.kind.choices and not flags.get("status", False):
            continue
        if flags.get("status") and not spec.kind.choices:
            continue
        if flags.get("nonneg") and not spec.kind.nonneg:
            continue
        out.append(spec.name)
    return out


def _applies(variant: str, event: dict[str, Any]) -> bool:
    event_type = event["event_type"]
    if variant in ("number_as_string", "fractional_int", "bool_int"):
        return bool(_fields(event, ("integer",)))
    if variant in ("status_number", "status"):
        return bool(_fields(event, ("string",), status=True))
    if variant == "string_field_number":
        return bool(_fields(event, ("string",)))
    if variant == "negative":
        return bool(_fields(event, ("integer", "number"), nonneg=True))
    if variant == "at_most":
        return event_type in ("tractor.farm.snapshot", "render.stats.summary")
    return True


def _sized_line(event: dict[str, Any], emitter: _Emitter, size: int) -> bytes:
    """`event` with a `log` payload field padded so that its line is exactly `size` bytes."""
    event["payload"]["log"] = ""
    need = size - len(emitter.dumps(event).encode())
    repeat = _LOG_CHUNK * (need // len(_LOG_CHUNK) + 1)
    event["payload"]["log"] = repeat[:need]
    line = emitter.dumps(event).encode()
    assert len(line) == size, (len(line), size)
    return line


def _ts_parts(ts_us: int) -> tuple[str, str]:
    dt = _EPOCH + timedelta(microseconds=ts_us)
    return dt.strftime("%Y-%m-%d"), dt.strftime("%H:%M:%S")


def _corrupt(
    variant: str, event: dict[str, Any], ts_us: int, emitter: _Emitter, rng: random.Random
) -> bytes:
    """One line derived from the valid `event` with exactly one defect: the variant's reason."""
    ev = json.loads(json.dumps(event))
    dumps = emitter.dumps
    payload = ev["payload"]
    text = dumps(ev)
    # line_too_long
    if variant == "huge_log_min":
        return _sized_line(ev, emitter, MAX_LINE_BYTES + 1)
    if variant == "huge_log":
        return _sized_line(ev, emitter, MAX_LINE_BYTES + rng.randint(2, 150_000))
    # invalid_utf8: bytes that are not UTF-8 inside a string value
    if variant in ("latin1", "ff", "truncated_multibyte", "lone_lead"):
        inject = {"latin1": b"\xe9", "ff": b"\xff\xfe", "truncated_multibyte": b"\xe2\x82",
                  "lone_lead": b"\xc3"}[variant]  # fmt: skip
        targets = [ev["user"], ev["host"]] + [
            v for k, v in payload.items() if isinstance(v, str) and v.isascii() and k != "status"
        ]
        needle = json.dumps(rng.choice(targets)).encode()
        line = text.encode()
        at = line.index(needle) + len(needle) - 1
        return line[:at] + inject + line[at:]
    # invalid_json
    if variant == "truncated":
        return text[: rng.randint(max(1, len(text) // 3), len(text) - 1)].encode()
    if variant == "trailing_brace":
        return (text + rng.choice(("}", ",", " x", "\t{"))).encode()
    if variant == "glued":
        ev["event_id"] = _uuid(rng)
        return (text + dumps(ev)).encode()
    if variant == "python_repr":
        return repr(ev).encode()
    if variant == "missing_comma":
        return text.replace(",", "", 1).encode()
    if variant == "unescaped_quote":
        host = ev["host"]
        return text.replace(json.dumps(host), f'"{host[:2]}"{host[2:]}"', 1).encode()
    # not_an_object
    if variant == "array_wrapped":
        return f"[{text}]".encode()
    if variant == "double_encoded":
        return json.dumps(text).encode()
    if variant == "null":
        return b"null"
    if variant == "pair":
        return json.dumps([ev["event_type"], ev["host"]]).encode()
    # missing_field
    if variant in ("drop_envelope", "null_envelope"):
        name = rng.choice(_ENVELOPE_REQUIRED)
        if variant == "drop_envelope":
            del ev[name]
        else:
            ev[name] = None
        return dumps(ev).encode()
    if variant in ("drop_payload_field", "null_payload_field"):
        required = [s.name for s in _SPECS[ev["event_type"]] if s.required]
        name = rng.choice(required)
        if variant == "drop_payload_field":
            del payload[name]
        else:
            payload[name] = None
        return dumps(ev).encode()
    # unsupported_schema_version
    if variant.startswith("sv"):
        ev["schema_version"] = _BAD_SCHEMA_VERSIONS[int(variant[2:])]
        return dumps(ev).encode()
    # unknown_event_type
    if variant.startswith("et"):
        bad = _BAD_EVENT_TYPES[int(variant[2:])]
        if bad == "case":
            bad = ev["event_type"].title()
        ev["event_type"] = bad
        return dumps(ev).encode()
    # invalid_timestamp
    day, hms = _ts_parts(ts_us)
    timestamps = {
        "space": f"{day} {hms}.{ts_us // 1000 % 1000:03d}Z",
        "no_offset": f"{day}T{hms}.{ts_us // 1000 % 1000:03d}",
        "second_60": f"{day}T{hms[:6]}60Z",
        "epoch": ts_us // _US,
        "epoch_ms_string": str(ts_us // 1000),
        "slashes": f"{day[8:10]}/{day[5:7]}/{day[:4]} {hms}",
        "hour_24": f"{day}T24:00:00Z",
        "date_only": day,
        "no_seconds": f"{day}T{hms[:5]}Z",
    }
    if variant in timestamps:
        ev["ts"] = timestamps[variant]
        return dumps(ev).encode()
    # wrong_type
    if variant in ("number_as_string", "fractional_int", "bool_int"):
        name = rng.choice(_fields(ev, ("integer",)))
        value = int(payload[name])
        payload[name] = {
            "number_as_string": rng.choice((str(value), f"{value // 1000}s")),
            "fractional_int": value + 0.5,
            "bool_int": True,
        }[variant]
        return dumps(ev).encode()
    if variant == "host_number":
        ev["host"] = int(ev["host"].lstrip("abcdefghijklmnopqrstuvwxyz") or "0")
        return dumps(ev).encode()
    if variant == "user_list":
        ev["user"] = [ev["user"]]
        return dumps(ev).encode()
    if variant == "payload_string":
        ev["payload"] = json.dumps(payload)
        return dumps(ev).encode()
    if variant == "payload_list":
        ev["payload"] = [payload]
        return dumps(ev).encode()
    if variant == "status_number":
        payload["status"] = rng.choice((0, 1, True))
        return dumps(ev).encode()
    if variant == "string_field_number":
        name = rng.choice(_fields(ev, ("string",)))
        payload[name] = rng.randint(1, 9_999_999)
        return dumps(ev).encode()
    if variant == "session_number":
        ev["session_id"] = rng.randint(1, 65_535)
        return dumps(ev).encode()
    if variant == "event_id_number":
        ev["event_id"] = rng.getrandbits(48)
        return dumps(ev).encode()
    # invalid_value
    if variant == "negative":
        name = rng.choice(_fields(ev, ("integer", "number"), nonneg=True))
        kind = next(s.kind for s in _SPECS[ev["event_type"]] if s.name == name)
        payload[name] = -rng.randint(1, 5000) if kind.json == "integer" else -rng.uniform(0.5, 99)
        return dumps(ev).encode()
    if variant == "status":
        if ev["event_type"] == "tractor.job.spool":
            payload["status"] = rng.choice(_BAD_SPOOL_STATUSES)
        else:
            payload["status"] = rng.choice(_BAD_STATUSES)
        return dumps(ev).encode()
    if variant == "at_most":
        if ev["event_type"] == "tractor.farm.snapshot":
            payload["active_blades"] = payload["total_blades"] + rng.randint(1, 50)
        else:
            payload["frames_failed"] = payload["frames_total"] + rng.randint(1, 10)
        return dumps(ev).encode()
    if variant in ("empty_event_id", "empty_host", "empty_user"):
        ev[variant.removeprefix("empty_")] = ""
        return dumps(ev).encode()
    if variant == "long_event_id":
        size = rng.choice((MAX_EVENT_ID_CHARS + 1, 200, 320))
        ev["event_id"] = (ev["event_id"] * (size // len(ev["event_id"]) + 1))[:size]
        return dumps(ev).encode()
    raise AssertionError(f"unknown variant {variant}")


class _Damager:
    def __init__(self, spool: _Spool, options: GenerateOptions) -> None:
        self.spool = spool
        self.options = options
        self.rng = random.Random(f"{options.seed}:damage")
        self.files = [
            spool.files[k] for k in sorted(spool.files, key=lambda k: spool.files[k].relpath)
        ]
        self.owner: dict[int, _File] = {}
        pool: list[_Rec] = []
        for f in self.files:
            for rec in f.recs:
                if rec.kind == "event":
                    self.owner[id(rec)] = f
                    pool.append(rec)
        self.rng.shuffle(pool)
        self.pool = pool
        self.base_events = len(pool)
        self.replaced = 0
        self.counts: dict[str, int] = {}

    def count_for(self, units: int) -> int:
        return max(1, round(self.options.damage_rate * units))

    def pick(self, pred: Callable[[_Rec], bool] = lambda r: True) -> _Rec | None:
        n = len(self.pool)
        if n == 0:
            return None
        start = self.rng.randrange(n)
        for k in range(n):
            rec = self.pool[(start + k) % n]
            if rec.plain and rec.kind == "event" and pred(rec):
                rec.plain = False
                return rec
        return None

    def pick_any(self, pred: Callable[[_Rec], bool] = lambda r: True) -> _Rec | None:
        """Any untouched valid event still in its file (already the source of a broken copy or
        of a duplicate, maybe): for damage that leaves the event itself valid."""
        candidates = [
            r
            for r in self.pool
            if r.kind == "event" and r.raw is None and not r.prefix and r.damage is None
        ]
        candidates = [r for r in candidates if pred(r)]
        return self.rng.choice(candidates) if candidates else None

    @staticmethod
    def insert(f: _File, pos: int, rec: _Rec) -> None:
        limit = len(f.recs) - (1 if f.recs and f.recs[-1].kind == "tail" else 0)
        f.recs.insert(max(0, min(pos, limit)), rec)

    def bump(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def fresh(self, like: _Rec, f: _File) -> tuple[dict[str, Any], int]:
        """A new event like `like` (a few seconds later), that will never be a valid line."""
        assert like.event is not None
        ev = json.loads(json.dumps(like.event))
        ev["event_id"] = _uuid(self.rng)
        ts, ts_us = _fmt_ts(like.ts_us + self.rng.randint(1, 30) * _US, f.emitter.ts_style)
        ev["ts"] = ts
        return ev, ts_us

    def reasons(self, kind: str) -> None:
        variants = list(_VARIANTS[kind])
        self.rng.shuffle(variants)
        n = self.count_for(self.base_events)
        boundaries = self.base_events >= 50  # valid lines at the limits, in larger spools
        if kind == "line_too_long":
            n = min(n, _LINE_TOO_LONG_MAX)
            variants = ["huge_log_min", "huge_log"]  # the exact boundary (MAX + 1 bytes) first
            # and a valid line of exactly MAX_LINE_BYTES bytes (the boundary, still valid)
            rec = self.pick() if boundaries else None
            if rec is not None and rec.event is not None:
                _sized_line(rec.event, self.owner[id(rec)].emitter, MAX_LINE_BYTES)
                rec.damage = "boundary"
        if kind == "invalid_value":
            # a valid event_id of exactly MAX_EVENT_ID_CHARS characters
            rec = self.pick() if boundaries else None
            if rec is not None and rec.event is not None:
                eid = rec.event["event_id"]
                rec.event["event_id"] = (eid * (MAX_EVENT_ID_CHARS // len(eid) + 1))[
                    :MAX_EVENT_ID_CHARS
                ]
                rec.damage = "boundary"
        for i in range(n):
            # the next variant that applies to some event; when no untouched event is left,
            # a broken copy of an event that stays valid
            for j in range(len(variants)):
                variant = variants[(i + j) % len(variants)]

                def applies(r: _Rec, v: str = variant) -> bool:
                    return _applies(v, r.event or {})

                rec, replace = self.pick(applies), True
                if rec is None:
                    rec, replace = self.pick_any(applies), False
                if rec is not None:
                    break
            if rec is None:
                break
            assert rec.event is not None
            f = self.owner[id(rec)]
            raw = _corrupt(variant, rec.event, rec.ts_us, f.emitter, self.rng)
            bad = _Rec("invalid", rec.write_us, raw=raw, reason=kind, plain=False, damage=kind)
            replace = replace and self.replaced < self.base_events // 2  # keep most events
            if replace and (self.rng.random() < 0.75 or kind == "line_too_long"):
                # the emitter wrote a broken line instead of the event
                f.recs[f.recs.index(rec)] = bad
                rec.kind = "gone"
                self.replaced += 1
            else:
                # a broken copy next to the valid event: quarantined although its id is known
                pos = f.recs.index(rec) + self.rng.choice((0, 1))
                self.insert(f, pos, bad)
            self.bump(kind)

    def nul_runs(self) -> None:
        n = max(3, self.count_for(self.base_events))
        order = ["truncated", "padding", "leading"]
        for i in range(n):
            variant = (
                order[i] if i < 3 else self.rng.choice(("truncated", "padding", "leading", "glued"))
            )
            nuls = b"\x00" * self.rng.choice((1, 7, 512, 1024, 4096, self.rng.randint(2, 4096)))
            rec = self.pick() if variant == "leading" else None
            if variant == "leading" and rec is None:
                variant = "padding"  # no untouched event left
            if rec is not None:
                rec.prefix = nuls  # NULs, then an intact event on the same line: valid
                self.bump("nul_run")
                continue
            f = self.rng.choice([f for f in self.files if f.events()])
            events = f.events()
            like = self.rng.choice(events)
            pos = f.recs.index(like) + 1
            if variant == "padding":
                rec = _Rec("nul", like.write_us, raw=nuls, plain=False, damage="nul_run")
            else:
                ev, _ = self.fresh(like, f)
                text = f.emitter.dumps(ev)
                cut = text[: self.rng.randint(1, len(text) - 1)].encode()
                raw = cut + nuls
                if variant == "glued":
                    ev2, _ = self.fresh(like, f)
                    raw += f.emitter.dumps(ev2).encode()
                rec = _Rec("invalid", like.write_us, raw=raw, reason=Reason.INVALID_JSON.value,
                           plain=False, damage="nul_run")  # fmt: skip
            self.insert(f, pos, rec)
            self.bump("nul_run")

    def blanks(self) -> None:
        for _ in range(self.count_for(self.base_events)):
            f = self.rng.choice(self.files)
            pos = self.rng.randrange(len(f.recs) + 1)
            write_us = f.recs[max(0, pos - 1)].write_us
            raw = self.rng.choice((b"", b"", b" ", b"\t", b"   ", b" \t "))
            self.insert(f, pos, _Rec("blank", write_us, raw=raw, plain=False, damage="blank"))
            self.bump("blank")

    def crlf(self) -> None:
        for f in self.rng.sample(self.files, min(len(self.files), self.count_for(len(self.files)))):
            f.crlf = True
            self.bump("crlf")

    def unterminated(self) -> None:
        candidates = [f for f in self.files if f.events()]
        n = min(len(candidates), self.count_for(len(self.files)))
        for f in self.rng.sample(candidates, n):
            like = f.events()[-1]
            ev, _ = self.fresh(like, f)
            text = f.emitter.dumps(ev)
            roll = self.rng.random()
            if roll < 0.7:
                raw = text[: self.rng.randint(1, len(text) - 1)].encode()  # crash mid-line
            elif f.crlf and roll < 0.85:
                raw = text.encode() + b"\r"  # crash between \r and \n
            else:
                raw = text.encode()  # crash just before the newline
            write_us = max(r.write_us for r in f.recs) + self.rng.randint(1, 3) * _US
            f.recs.append(_Rec("tail", write_us, raw=raw, plain=False, damage="unterminated"))
            self.bump("unterminated")

    def duplicates(self) -> None:
        by_owner: dict[tuple[str, str], list[_File]] = {}
        for f in self.files:
            by_owner.setdefault((f.host, f.user), []).append(f)
        for _ in range(self.count_for(self.base_events)):
            rec = self.pick() or self.pick_any()
            if rec is None:
                break
            f = self.owner[id(rec)]
            line = f.render(rec)
            assert rec.event is not None
            skewed = _is_skewed(rec.ts_us, f.mtime_us, f.day)
            copies = 2 if self.rng.random() < 0.1 else 1
            for _ in range(copies):
                target, pos = f, f.recs.index(rec) + 1 + self.rng.randint(0, 5)
                if self.rng.random() < 0.4:
                    others = [
                        g
                        for g in by_owner[(f.host, f.user)]
                        if g is not f
                        and g.emitter == f.emitter
                        and g.recs
                        and min(r.write_us for r in g.recs) >= rec.write_us
                        and _is_skewed(rec.ts_us, g.mtime_us, g.day) == skewed
                        and (not skewed or g.day == f.day)  # same event_date either way
                        and not _near_mtime_boundary(rec.ts_us, g.mtime_us)
                        and not _near_day_boundary(rec.ts_us, g.day)
                    ]
                    if others:
                        # re-sent at the start of a later session of the same emitter
                        target = self.rng.choice(others)
                        pos = self.rng.randint(0, min(2, len(target.recs)))
                limit = min(pos, len(target.recs))
                write_us = max(
                    [r.write_us for r in target.recs[:limit]] or [target.recs[0].write_us]
                )
                dup = _Rec("event", min(write_us, target.mtime_us - _US), rec.event, rec.ts_us,
                           raw=line, plain=False, damage="duplicate")  # fmt: skip
                self.insert(target, pos, dup)
                self.bump("duplicate")


def _near_mtime_boundary(ts_us: int, mtime_us: int) -> bool:
    return abs(ts_us - (mtime_us + _TOL_US)) <= _US


def _near_day_boundary(ts_us: int, day: date) -> bool:
    return abs(ts_us - (_day_us(day) - _DAY_US)) <= _US


def _settle_mtimes(files: Iterable[_File], rng: random.Random) -> None:
    """Each file's mtime: its last write plus a few seconds, in whole seconds, and at least 1 s
    away from any of its events' `ts + tolerance`."""
    for f in files:
        last = max(r.write_us for r in f.recs)
        mtime = (last // _US + 1 + rng.randint(1, 4)) * _US
        while any(_near_mtime_boundary(r.ts_us, mtime) for r in f.recs if r.kind == "event"):
            mtime += 2 * _US
        f.mtime_us = mtime


def _clear_day_boundaries(files: Iterable[_File]) -> None:
    """Move any event within 1 s of its file's 24 h threshold (§6) 3 s later."""
    for f in files:
        for rec in f.recs:
            if (
                rec.kind == "event"
                and rec.event is not None
                and _near_day_boundary(rec.ts_us, f.day)
            ):
                ts, ts_us = _fmt_ts(rec.ts_us + 3 * _US, f.emitter.ts_style)
                rec.event["ts"], rec.ts_us = ts, ts_us
                rec.write_us = max(rec.write_us, ts_us)


# --- the spool -----------------------------------------------------------------------------------


def generate_spool(root: Path, options: GenerateOptions) -> GenerateSummary:
    """Write a sample spool under `root` and return what a correct ingest must find in it.

    Damage (`options.damage`) is counted per kind in `damage_counts`: reason kinds, `blank` and
    `duplicate` in lines (at least `damage_rate` of the valid events, at least one; at most two
    `line_too_long` lines), `nul_run` in NUL runs (at least three: a truncated line + NULs,
    a NUL-only line, NULs before an intact event), `crlf` and `unterminated` in files (a
    `damage_rate` share of the files, at least one), `late` in valid events dated before their
    file's spool date. `line_too_long` also writes one valid line of exactly MAX_LINE_BYTES bytes
    and `invalid_value` one valid event whose event_id has exactly MAX_EVENT_ID_CHARS characters.
    Files already under `root` with other names are left alone (and not counted).
    """
    root = Path(root)
    damage = frozenset(options.damage)
    spool = _Spool()
    artists = _make_artists(options)
    if options.events_per_artist_day > 0:
        for artist in artists:
            _gen_artist(spool, artist, options)
    if options.farm:
        _gen_farm(spool, options, options.artists)
    if options.storage:
        _gen_storage(spool, options)
    base_events = sum(len(f.recs) for f in spool.files.values())
    if "late" in damage:
        late_rng = random.Random(f"{options.seed}:late")
        target = max(4, round(options.damage_rate * base_events))
        _gen_late(spool, artists, options, late_rng, target)
    if damage and not any(f.recs for f in spool.files.values()):
        raise ValueError("damage needs events: enable artists, farm or storage")
    _clear_day_boundaries(spool.files.values())

    damager = _Damager(spool, options)
    if "crlf" in damage:
        damager.crlf()
    for kind in REASON_KINDS:
        if kind in damage:
            damager.reasons(kind)
    if "nul_run" in damage:
        damager.nul_runs()
    if "blank" in damage:
        damager.blanks()
    if "unterminated" in damage:
        damager.unterminated()
    _settle_mtimes(damager.files, random.Random(f"{options.seed}:mtime"))
    if "duplicate" in damage:
        damager.duplicates()

    summary, late = _write_and_count(root, damager.files, options.mtime == "realistic")
    damager.counts["late"] = late
    summary.damage_counts = {k: damager.counts.get(k, 0) for k in DAMAGE_KINDS if k in damage}
    return summary


def _write_and_count(
    root: Path, files: list[_File], set_mtime: bool
) -> tuple[GenerateSummary, int]:
    """Write the files; count their lines as an ingest must; and count the late events."""
    summary = GenerateSummary(0, 0, 0, 0, 0, {}, 0, 0, 0, 0)
    seen: dict[str, bool] = {}
    late = 0
    for f in sorted(files, key=lambda f: f.relpath):
        term = b"\r\n" if f.crlf else b"\n"
        parts: list[bytes] = []
        for rec in f.recs:
            line = f.render(rec)
            if rec.kind == "tail":
                parts.append(line)
                summary.unterminated_tails += 1
                continue
            parts.append(line + term)
            summary.lines += 1
            if rec.kind == "event":
                assert rec.event is not None
                eid = rec.event["event_id"]
                skewed = _is_skewed(rec.ts_us, f.mtime_us, f.day)
                if eid in seen:
                    assert seen[eid] == skewed, "a duplicate must not change the skew verdict"
                    summary.duplicates += 1
                    continue
                seen[eid] = skewed
                summary.valid_events += 1
                summary.skewed_events += skewed
                event_type = rec.event["event_type"]
                summary.valid_by_type[event_type] = summary.valid_by_type.get(event_type, 0) + 1
                if rec.late and _date_of(rec.ts_us) < f.day:
                    late += 1
            elif rec.kind == "invalid":
                assert rec.reason is not None
                summary.invalid_by_reason[rec.reason] = (
                    summary.invalid_by_reason.get(rec.reason, 0) + 1
                )
            elif rec.kind == "blank":
                summary.blank_lines += 1
            elif rec.kind == "nul":
                summary.nul_padding_lines += 1
        data = b"".join(parts)
        path = root / f.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if set_mtime:
            ns = f.mtime_us * 1000
            os.utime(path, ns=(ns, ns))
        summary.files += 1
        summary.bytes += len(data)
    summary.invalid_by_reason = dict(sorted(summary.invalid_by_reason.items()))
    summary.valid_by_type = {
        t: summary.valid_by_type[t] for t in EVENT_TYPES if t in summary.valid_by_type
    }
    return summary, late


# --- bulk -----------------------------------------------------------------------------------------

# Artists' event mix of generate_bulk, in percent.
_BULK_ARTIST_MIX: dict[str, int] = {
    "file.open": 22, "dcc.launch": 7, "file.create": 7, "playblast.create": 14, "shot.setup": 6,
    "build.houdini.component": 6, "texture.export.substance": 7, "texture.convert.tex": 15,
    "publish.asset.usd": 5, "publish.anim.usd": 5, "publish.camera.usd": 2,
    "publish.customanim.usd": 2, "publish.previs_asset.usd": 2,
}  # fmt: skip
_BULK_POOL: tuple[str, ...] = tuple(t for t, w in _BULK_ARTIST_MIX.items() for _ in range(w))
assert len(_BULK_POOL) == 100 and set(_BULK_ARTIST_MIX) == {*PUBLISH_TYPES, *TOOL_TYPES}
_BULK_DCC = {
    "build.houdini.component": "houdini",
    "texture.export.substance": "substance_painter",
    "texture.convert.tex": "txmake",
}
_UUID_VARIANT = "89ab"


def _bulk_ts(day_iso: str, t: float) -> str:
    s = int(t)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{day_iso}T{h:02d}:{m:02d}:{sec:02d}.{int((t - s) * 1000):03d}Z"


def _bulk_artist(
    rng: random.Random,
    out: list[str],
    n: int,
    day_iso: str,
    window: tuple[float, float],
    artist: tuple[str, str, str, str, str],
    counts: dict[str, int],
) -> float:
    host, user, dept, dcc, sid = artist
    rnd, gauss, bits = rng.random, rng.gauss, rng.getrandbits
    exp = math.exp
    head = f'","host":"{host}","user":"{user}","session_id":"{sid}","payload":{{'
    versions = {d: rng.choice(v) for d, v in _DCC_VERSIONS.items()}
    ctx = f"{rng.choice(_SEQUENCES)}_{rng.choice(_SHOTS)}"
    seq, shot = ctx.split("_")
    work = f"/groups/sandwich/shots/{seq}/{shot}/{dept}/work"
    tool_tail: dict[str, str] = {}
    for event_type in TOOL_TYPES:
        tool_dcc = _BULK_DCC.get(event_type, dcc)
        tool_tail[event_type] = f',"dcc":"{tool_dcc}","dcc_version":"{versions[tool_dcc]}"'
        if event_type == "file.open":
            path = f"{work}/{ctx}_{dept}_v{rng.randint(1, 60):03d}.{_SCENE_EXT[dcc]}"
            tool_tail[event_type] += f',"path":"{path}"'
    assets = [rng.choice(_ASSETS) for _ in range(3)]
    shots = [ctx] + [f"{rng.choice(_SEQUENCES)}_{rng.choice(_SHOTS)}" for _ in range(2)]
    targets: dict[str, list[tuple[str, str]]] = {}
    for event_type in PUBLISH_TYPES:
        kind = event_type.split(".")[1]
        if event_type in ("publish.asset.usd", "publish.previs_asset.usd"):
            targets[event_type] = [
                (a, f"/groups/sandwich/assets/{a}/usd/v{rng.randint(2, 40):03d}/{a}.usda")
                for a in assets
            ]
        else:
            targets[event_type] = [
                (s, f"/groups/sandwich/shots/{s[:5]}/{s[6:]}/usd/{kind}/"
                    f"v{rng.randint(2, 40):03d}/{s}_{kind}.usd")
                for s in shots
            ]  # fmt: skip
    w0, w1 = window
    step = (w1 - w0) / n
    t = w0
    for j in range(n):
        t = w0 + (j + rnd()) * step
        h = f"{bits(128):032x}"
        eid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[bits(2)]}{h[17:20]}-{h[20:]}"
        event_type = _BULK_POOL[int(rnd() * 100)]
        counts[event_type] += 1
        if event_type in _PUBLISH_PROFILE:
            median, fail_rate, median_bytes = _PUBLISH_PROFILE[event_type]
            duration = int(median * exp(0.8 * gauss(0.0, 1.0)))
            choices = targets[event_type]
            target, usd = choices[int(rnd() * len(choices))]
            if rnd() < fail_rate:
                error = _PUBLISH_ERRORS[int(rnd() * len(_PUBLISH_ERRORS))]
                payload = (
                    f'"status":"failure","duration_ms":{duration // 4},"output_bytes":0,'
                    f'"asset":"{target}","department":"{dept}","error":"{error}"}}'
                )
            else:
                size = int(median_bytes * exp(gauss(0.0, 1.0)))
                payload = (
                    f'"status":"success","duration_ms":{duration},"output_bytes":{size},'
                    f'"asset":"{target}","department":"{dept}","usd_path":"{usd}","error":null}}'
                )
        else:
            median, sigma, fail_rate = _TOOL_TIMING[event_type]
            duration = int(median * exp(sigma * gauss(0.0, 1.0)))
            if rnd() < fail_rate:
                errors = _TOOL_ERRORS[event_type]
                error = errors[int(rnd() * len(errors))]
                payload = (
                    f'"status":"failure","duration_ms":{duration // 4}{tool_tail[event_type]},'
                    f'"error":"{error}"}}'
                )
            else:
                payload = f'"status":"success","duration_ms":{duration}{tool_tail[event_type]}}}'
        out.append(
            f'{{"schema_version":"1.0","event_id":"{eid}","event_type":"{event_type}",'
            f'"ts":"{_bulk_ts(day_iso, t)}{head}{payload}}}\n'
        )
    return t


def _bulk_farm(
    rng: random.Random, out: list[str], n: int, day_iso: str, job_no: int, counts: dict[str, int]
) -> float:
    rnd, gauss, bits = rng.random, rng.gauss, rng.getrandbits
    head = f'","host":"{FARM_HOST}","user":"{FARM_USER}","payload":{{'
    step = 86_000.0 / n
    t = 0.0
    for j in range(n):
        t = 60.0 + (j + rnd()) * step
        h = f"{bits(128):032x}"
        eid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[bits(2)]}{h[17:20]}-{h[20:]}"
        roll = rnd()
        if roll < 0.7:
            event_type = "tractor.farm.snapshot"
            hour = t / 3600
            load = min(1.0, max(0.05, (0.9 if hour >= 19 or hour < 8 else 0.62) + gauss(0, 0.05)))
            active = min(400, int(400 * load))
            queued = int(8000 * math.exp(0.5 * gauss(0, 1))) if load > 0.85 else int(rnd() * 2000)
            payload = (
                f'"total_blades":400,"active_blades":{active},"errored_jobs":{int(rnd() * 8)},'
                f'"active_jobs":{int(15 + 60 * load)},"queued_tasks":{queued}}}'
            )
        elif roll < 0.85:
            event_type = "tractor.job.spool"
            job_no += 1
            frames = (48, 72, 96, 120, 144, 180, 240)[int(rnd() * 7)]
            shot = f"{_SEQUENCES[int(rnd() * 6)]}_{_SHOTS[int(rnd() * 20)]}"
            status = "rejected" if rnd() < 0.03 else "spooled"
            payload = (
                f'"job_id":"J{job_no}","status":"{status}","task_count":{frames},'
                f'"title":"{shot} beauty v{int(rnd() * 30) + 1:03d}",'
                f'"priority":{(50, 100, 100, 200)[int(rnd() * 4)]}}}'
            )
        else:
            event_type = "render.stats.summary"
            frames = (48, 72, 96, 120, 144, 180, 240)[int(rnd() * 7)]
            failed = rnd() < 0.08
            frames_failed = 1 + int(rnd() * frames / 4) if failed else 0
            cpu = frames * 1300.0 * math.exp(0.7 * gauss(0, 1))
            wall = 12_600.0 * math.exp(0.6 * gauss(0, 1))
            payload = (
                f'"job_id":"J{job_no - int(rnd() * 50)}",'
                f'"status":"{"failure" if failed else "success"}","frames_total":{frames},'
                f'"frames_failed":{frames_failed},"cpu_seconds":{cpu:.1f},'
                f'"wall_seconds":{wall:.1f},"peak_rss_bytes":{int(2.4e10 * (0.5 + rnd()))}}}'
            )
        counts[event_type] += 1
        out.append(
            f'{{"schema_version":"1.0","event_id":"{eid}","event_type":"{event_type}",'
            f'"ts":"{_bulk_ts(day_iso, t)}{head}{payload}}}\n'
        )
    return t


def _bulk_storage(
    rng: random.Random, out: list[str], n: int, day_iso: str, counts: dict[str, int]
) -> float:
    bits = rng.getrandbits
    head = f'","host":"{STORAGE_HOST}","user":"{STORAGE_USER}","payload":{{'
    cycle: list[tuple[str, str | None]] = []
    base: dict[tuple[str, str], tuple[float, float]] = {}
    for root, pool in _STORAGE_ROOTS.items():
        for bucket in pool[: rng.randint(4, 6)]:
            size = 40e12 * math.exp(rng.gauss(0, 1))
            base[(root, bucket)] = (size, size / 8e6)
            cycle.append((root, bucket))
        cycle.append((root, None))
    step = 80_000.0 / n
    t = 0.0
    for j in range(n):
        t = 3600.0 + (j + rng.random()) * step
        growth = 1 + 0.002 * (j // len(cycle))
        root, bucket = cycle[j % len(cycle)]
        h = f"{bits(128):032x}"
        eid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[bits(2)]}{h[17:20]}-{h[20:]}"
        if bucket is None:
            event_type = "storage.scan.summary"
            sizes = [
                (int(s * growth), int(c * growth)) for (r, _), (s, c) in base.items() if r == root
            ]
            payload = (
                f'"root":"{root}","total_bytes":{sum(s for s, _ in sizes)},'
                f'"file_count":{sum(c for _, c in sizes)},"scan_duration_ms":{int(step * 1000)}}}'
            )
        else:
            event_type = "storage.scan.bucket"
            size, count = base[(root, bucket)]
            payload = (
                f'"root":"{root}","bucket":"{bucket}","bytes":{int(size * growth)},'
                f'"file_count":{int(count * growth)}}}'
            )
        counts[event_type] += 1
        out.append(
            f'{{"schema_version":"1.0","event_id":"{eid}","event_type":"{event_type}",'
            f'"ts":"{_bulk_ts(day_iso, t)}{head}{payload}}}\n'
        )
    return t


def generate_bulk(
    root: Path, *, events: int, files: int, start: date, seed: int = 0, days: int | None = None
) -> GenerateSummary:
    """Write `events` clean, valid events in `files` files (benchmarks): no damage, no skew.

    Files are spread over `days` days (default: about 40 files a day, at most 30 days) and,
    per day, over the farm
    poller, the storage auditor and artists' workstations (two session files per artist).
    Lines are built from string templates; event types follow a realistic mix.
    """
    if files < 1 or events < files:
        raise ValueError("need files >= 1 and events >= files")
    root = Path(root)
    rng = random.Random(f"{seed}:bulk")
    days = days or max(1, min(30, files // 40))
    per_day = -(-files // days)
    roles = ["farm", "storage"] if per_day >= 8 else ["farm"] if per_day >= 4 else []
    names = _user_names(per_day, seed)
    counts = dict.fromkeys(EVENT_TYPES, 0)
    summary = GenerateSummary(0, 0, 0, 0, 0, {}, 0, 0, 0, 0)
    # Events per file: one each, the rest by weight; the farm poller of a day writes about a
    # quarter of its events (a snapshot every few minutes), like generate_spool's spools.
    farm_weight = max(1.0, 0.3 * (per_day - len(roles)))
    weights = [farm_weight if i // days == 0 and roles else 1.0 for i in range(files)]
    share = [(events - files) * w / sum(weights) for w in weights]
    sizes = [1 + int(x) for x in share]
    for i in sorted(range(files), key=lambda i: int(share[i]) - share[i])[: events - sum(sizes)]:
        sizes[i] += 1
    job_no = 8_800_000
    for i in range(files):
        day = start + timedelta(days=i % days)
        day_iso = day.isoformat()
        slot = i // days
        n = sizes[i]
        out: list[str] = []
        if slot < len(roles) and roles[slot] == "farm":
            host, user, name = FARM_HOST, FARM_USER, "tractor-poller"
            last = _bulk_farm(rng, out, n, day_iso, job_no, counts)
            job_no += n
        elif slot < len(roles):
            host, user, name = STORAGE_HOST, STORAGE_USER, "storage-audit"
            last = _bulk_storage(rng, out, n, day_iso, counts)
        else:
            index = (slot - len(roles)) // 2
            session = (slot - len(roles)) % 2
            dept = _DEPARTMENTS[index % len(_DEPARTMENTS)]
            dcc = _PROFILES[dept][0][0]
            host, user = f"ws{index + 1:03d}", names[index]
            # a bijection of i on 16 bits: distinct session ids for a host and day
            name = f"{_SESSION_PREFIX[dcc]}-{(i * 40503) & 0xFFFF:04x}"
            window = (8 * 3600.0, 13 * 3600.0) if session == 0 else (14 * 3600.0, 19.5 * 3600.0)
            artist = (host, user, dept, dcc, name)
            last = _bulk_artist(rng, out, n, day_iso, window, artist, counts)
        data = "".join(out).encode()
        path = root / host / user / f"{day_iso}_{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        mtime_ns = (_day_us(day) // _US + int(last) + 1 + rng.randint(1, 4)) * 1_000_000_000
        os.utime(path, ns=(mtime_ns, mtime_ns))
        summary.files += 1
        summary.bytes += len(data)
    summary.lines = summary.valid_events = events
    summary.valid_by_type = {t: c for t, c in counts.items() if c}
    return summary
