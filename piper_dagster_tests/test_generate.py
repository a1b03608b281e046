"""Tests of the sample-spool generator: every count of its summary is re-derived from the files by
an independent, deliberately plain reading of the contract (§1, §2, §5, §6)."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from piper_dagster.contract.models import (
    EVENT_TYPES,
    MAX_LINE_BYTES,
    PUBLISH_TYPES,
    TOOL_TYPES,
    Envelope,
    Reason,
)
from piper_dagster.generate.bulk import generate_bulk
from piper_dagster.generate.options import (
    DAMAGE_KINDS,
    REASON_KINDS,
    GenerateOptions,
    expected_reasons,
)
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.generate.summary import GenerateSummary

MONDAY = date(2026, 3, 2)
SMALL = {"artists": 4, "days": 2, "events_per_artist_day": 30, "snapshot_minutes": 30}
PATH_RE = re.compile(r"^[^/]+/[^/]+/\d{4}-\d{2}-\d{2}_[^/]+\.jsonl$")
TS_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)
ENVELOPE_REQUIRED = ("schema_version", "event_id", "event_type", "ts", "host", "user", "payload")


# --- an independent reading of the contract ---------------------------------------------------------


def parse_ts(value: Any) -> datetime | None:
    """RFC 3339 §5.6 with an offset, written from the contract text (not from the models)."""
    if not isinstance(value, str):
        return None
    m = TS_RE.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if h > 23 or mi > 59 or s > 59:
        return None
    try:
        local = datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
    frac = m.group(7)
    micro = int(frac[1:7].ljust(6, "0")) if frac else 0
    offset = timedelta(0)
    if m.group(8):
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
        offset = offset if m.group(8) == "+" else -offset
    return (local + timedelta(microseconds=micro) - offset).replace(tzinfo=UTC)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def classify(raw: bytes) -> tuple[str, dict[str, Any] | None]:
    """'valid', 'blank', 'nul' or the §5 reason of one line (terminator removed)."""
    line = raw.replace(b"\x00", b"")
    if raw and not line:
        return "nul", None
    if len(line) > MAX_LINE_BYTES:
        return "line_too_long", None
    if not line.strip(b" \t"):
        return "blank", None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        obj = json.loads(text)
    except ValueError:
        return "invalid_json", None
    if not isinstance(obj, dict):
        return "not_an_object", None
    if any(obj.get(name) is None for name in ENVELOPE_REQUIRED):
        return "missing_field", None
    version = obj["schema_version"]
    if not isinstance(version, str) or not re.fullmatch(r"1\.[0-9]+", version):
        return "unsupported_schema_version", None
    event_type = obj["event_type"]
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return "unknown_event_type", None
    if parse_ts(obj["ts"]) is None:
        return "invalid_timestamp", None
    model = EVENT_TYPES[event_type]
    payload = obj["payload"]
    if isinstance(payload, dict):
        required = [n for n, info in model.model_fields.items() if info.is_required()]
        if any(payload.get(n) is None for n in required):
            return "missing_field", None
    errors: list[dict[str, Any]] = []
    try:
        Envelope.model_validate(obj)
    except ValidationError as exc:
        errors += exc.errors()
    if isinstance(payload, dict):
        try:
            model.model_validate(payload)
        except ValidationError as exc:
            errors += exc.errors()
    if errors:
        if any(e["type"].endswith("_type") for e in errors):
            return "wrong_type", None
        return "invalid_value", None
    return "valid", obj


@dataclass
class Scan:
    files: int = 0
    lines: int = 0
    bytes: int = 0
    valid_events: int = 0
    duplicates: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    blank_lines: int = 0
    nul_padding_lines: int = 0
    unterminated_tails: int = 0
    skewed_events: int = 0
    valid_by_type: Counter[str] = field(default_factory=Counter)
    # (spool date, file mtime, ts, host, event) of each distinct valid event
    events: list[tuple[date, datetime, datetime, str, dict[str, Any]]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "lines": self.lines,
            "bytes": self.bytes,
            "valid_events": self.valid_events,
            "duplicates": self.duplicates,
            "invalid_by_reason": dict(self.invalid_by_reason),
            "blank_lines": self.blank_lines,
            "nul_padding_lines": self.nul_padding_lines,
            "unterminated_tails": self.unterminated_tails,
            "skewed_events": self.skewed_events,
            "valid_by_type": dict(self.valid_by_type),
        }


def scan(root: Path) -> Scan:
    out = Scan()
    seen: set[str] = set()
    for path in sorted(p for p in root.rglob("*.jsonl") if p.is_file()):
        assert PATH_RE.match(path.relative_to(root).as_posix())
        data = path.read_bytes()
        mtime = datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, UTC)
        spool_day = date.fromisoformat(path.name[:10])
        out.files += 1
        out.bytes += len(data)
        *lines, tail = data.split(b"\n")
        if tail:
            out.unterminated_tails += 1
        for raw in lines:
            out.lines += 1
            kind, obj = classify(raw.removesuffix(b"\r"))
            if kind == "nul":
                out.nul_padding_lines += 1
            elif kind == "blank":
                out.blank_lines += 1
            elif kind != "valid":
                out.invalid_by_reason[kind] += 1
            else:
                assert obj is not None
                if obj["event_id"] in seen:
                    out.duplicates += 1
                    continue
                seen.add(obj["event_id"])
                out.valid_events += 1
                out.valid_by_type[obj["event_type"]] += 1
                ts = parse_ts(obj["ts"])
                assert ts is not None
                if ts > mtime + timedelta(minutes=5) or ts < day_start(spool_day) - timedelta(
                    hours=24
                ):
                    out.skewed_events += 1
                out.events.append((spool_day, mtime, ts, obj["host"], obj))
    return out


def assert_matches(summary: GenerateSummary, found: Scan) -> None:
    expected = summary.as_dict()
    expected.pop("damage_counts")
    assert found.counts() == expected
    assert summary.lines == (
        summary.valid_events
        + summary.duplicates
        + sum(summary.invalid_by_reason.values())
        + summary.blank_lines
        + summary.nul_padding_lines
    )


# --- clean spools ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    root = tmp_path_factory.mktemp("clean")
    return root, generate_spool(root, GenerateOptions(start=MONDAY))


def test_clean_spool_every_line_validates_against_the_models(
    clean: tuple[Path, GenerateSummary],
) -> None:
    root, summary = clean
    n = 0
    for path in root.rglob("*.jsonl"):
        data = path.read_bytes()
        assert data.endswith(b"\n") and b"\r" not in data and b"\x00" not in data
        for line in data.decode("utf-8").splitlines():
            obj = json.loads(line)
            envelope = Envelope.model_validate(obj)
            EVENT_TYPES[envelope.event_type].model_validate(obj["payload"])
            n += 1
    assert n == summary.valid_events == summary.lines
    assert summary.duplicates == summary.blank_lines == summary.nul_padding_lines == 0
    assert summary.invalid_by_reason == {} and summary.unterminated_tails == 0
    assert summary.skewed_events == 0
    assert_matches(summary, scan(root))


def test_clean_spool_is_realistic(clean: tuple[Path, GenerateSummary]) -> None:
    root, summary = clean
    assert set(summary.valid_by_type) == set(EVENT_TYPES)  # 5 publish, 8 tool types and the rest
    found = scan(root)
    hosts = {host for *_, host, _ in found.events}
    assert {f"ws{i:03d}" for i in range(1, 13)} | {"tractor01", "stor01"} == hosts
    # about 60 events per artist and weekday (3 weekdays here), plus the farm and storage
    artist_events = sum(1 for *_, host, _ in found.events if host.startswith("ws"))
    assert 0.7 * 12 * 3 * 60 < artist_events < 1.3 * 12 * 3 * 60
    snapshots = summary.valid_by_type["tractor.farm.snapshot"]
    assert snapshots == 3 * 24 * 12
    assert summary.valid_by_type["storage.scan.summary"] == 3 * 3
    assert 3 * 3 * 4 <= summary.valid_by_type["storage.scan.bucket"] <= 3 * 3 * 6
    publishes = [e for *_, e in found.events if e["event_type"] in PUBLISH_TYPES]
    failures = [p["payload"] for p in publishes if p["payload"]["status"] == "failure"]
    assert 0 < len(failures) < 0.25 * len(publishes)
    assert all(p["output_bytes"] == 0 and p["error"] for p in failures)
    tools = [e for *_, e in found.events if e["event_type"] in TOOL_TYPES]
    assert {t["payload"]["dcc"] for t in tools} >= {"maya", "houdini", "nuke", "txmake"}
    sessions = {e.get("session_id") for e in publishes + tools} - {None}
    assert all(re.fullmatch(r"[a-z]+-[0-9a-f]{4}", s) for s in sessions)
    for spool_day, mtime, ts, _, _ in found.events:
        # no late events, and realistic mtimes: every file looks settled after its last event
        assert ts.date() >= spool_day and ts <= mtime
    renders = [e["payload"] for *_, e in found.events if e["event_type"] == "render.stats.summary"]
    assert all(r["frames_failed"] <= r["frames_total"] and r["cpu_seconds"] > 0 for r in renders)
    # storage grows day over day
    buckets: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for _, _, ts, _, e in found.events:
        if e["event_type"] == "storage.scan.bucket":
            key = (e["payload"]["root"], e["payload"]["bucket"])
            buckets.setdefault(key, []).append((ts, e["payload"]["bytes"]))
    for series in buckets.values():
        sizes = [b for _, b in sorted(series)]
        assert sizes == sorted(sizes) and len(sizes) == 3


def test_same_options_give_identical_files(tmp_path: Path) -> None:
    options = GenerateOptions(
        start=MONDAY, **SMALL, damage=frozenset(DAMAGE_KINDS), skewed_hosts=1, seed=7
    )
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert generate_spool(a, options) == generate_spool(b, options)

    def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
        return {
            p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*.jsonl")
        }

    assert snapshot(a) == snapshot(b)
    generate_spool(c, GenerateOptions(start=MONDAY, **SMALL, seed=8))
    assert snapshot(c) != snapshot(a)


# --- damage ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_each_damage_kind(tmp_path: Path, kind: str) -> None:
    summary = generate_spool(
        tmp_path, GenerateOptions(start=MONDAY, **SMALL, damage=frozenset({kind}))
    )
    found = scan(tmp_path)
    assert_matches(summary, found)
    assert summary.damage_counts[kind] > 0
    assert set(summary.damage_counts) == {kind}
    assert set(summary.invalid_by_reason) == expected_reasons({kind})
    data = b"".join(p.read_bytes() for p in tmp_path.rglob("*.jsonl"))
    if kind in REASON_KINDS:
        assert summary.invalid_by_reason == {kind: summary.damage_counts[kind]}
    if kind == "line_too_long":
        sizes = [len(line) for line in data.split(b"\n")]
        assert MAX_LINE_BYTES in sizes and MAX_LINE_BYTES + 1 in sizes  # the two boundaries
    elif kind == "duplicate":
        assert summary.duplicates == summary.damage_counts[kind] > 0
        # exact same lines, some of them re-sent in another file
        files_of: dict[bytes, set[Path]] = {}
        for p in tmp_path.rglob("*.jsonl"):
            for line in p.read_bytes().splitlines():
                files_of.setdefault(line, set()).add(p)
        assert any(len(files) > 1 for files in files_of.values())
    elif kind == "nul_run":
        assert summary.nul_padding_lines > 0 and b"\x00" in data
        assert summary.invalid_by_reason == {
            "invalid_json": summary.invalid_by_reason["invalid_json"]
        }
    elif kind == "crlf":
        assert b"\r\n" in data and summary.damage_counts["crlf"] >= 1
    elif kind == "blank":
        assert summary.blank_lines == summary.damage_counts["blank"] > 0
    elif kind == "unterminated":
        assert summary.unterminated_tails == summary.damage_counts["unterminated"] > 0
    elif kind == "late":
        late = [(d, ts) for d, _, ts, _, _ in found.events if ts.date() < d]
        assert len(late) == summary.damage_counts["late"]
        within = [1 for d, ts in late if ts >= day_start(d) - timedelta(hours=24)]
        # most late events are within the 24 h window; a few (a laptop's old events) are skewed
        assert len(within) > len(late) / 2
        assert summary.skewed_events == len(late) - len(within) > 0


def test_invalid_lines_of_each_reason_get_that_reason(tmp_path: Path) -> None:
    """Every damage kind at once, at a high rate: the per-reason counts still hold exactly."""
    options = GenerateOptions(
        start=MONDAY,
        days=3,
        artists=6,
        damage=frozenset(DAMAGE_KINDS),
        damage_rate=0.05,
        skewed_hosts=1,
    )
    summary = generate_spool(tmp_path, options)
    assert_matches(summary, scan(tmp_path))
    assert set(summary.invalid_by_reason) == set(REASON_KINDS) == expected_reasons(DAMAGE_KINDS)
    for kind in REASON_KINDS:
        if kind == "invalid_json":  # NUL runs also leave unparsable lines
            assert summary.invalid_by_reason[kind] > summary.damage_counts[kind] > 0
        else:
            assert summary.invalid_by_reason[kind] == summary.damage_counts[kind] > 0
    assert all(summary.damage_counts[k] > 0 for k in DAMAGE_KINDS)
    assert summary.as_dict()["invalid_by_reason"] == summary.invalid_by_reason
    assert {r.value for r in Reason} == set(REASON_KINDS)


@pytest.mark.parametrize(
    ("offset", "all_skewed"), [(timedelta(hours=-72), True), (timedelta(hours=3), False)]
)
def test_skewed_hosts(tmp_path: Path, offset: timedelta, all_skewed: bool) -> None:
    options = GenerateOptions(start=MONDAY, **SMALL, skewed_hosts=2, skew_offset=offset)
    summary = generate_spool(tmp_path, options)
    found = scan(tmp_path)
    assert_matches(summary, found)
    straight = generate_spool(tmp_path / "straight", GenerateOptions(start=MONDAY, **SMALL))
    assert straight.valid_events == summary.valid_events and straight.skewed_events == 0
    shifted_hosts = {
        host
        for (_, _, ts, host, e), (_, _, ts0, _, _) in zip(
            found.events, scan(tmp_path / "straight").events, strict=True
        )
        if ts != ts0
    }
    assert len(shifted_hosts) == 2
    on_hosts = sum(1 for *_, host, _ in found.events if host in shifted_hosts)
    if all_skewed:
        assert summary.skewed_events == on_hosts
    else:
        # a clock 3 h ahead: only events written in the last 3 h of a file are after its mtime
        assert 0 < summary.skewed_events < on_hosts


def test_mtime_now_keeps_the_write_time(tmp_path: Path) -> None:
    before = time.time()
    summary = generate_spool(tmp_path / "now", GenerateOptions(start=MONDAY, **SMALL, mtime="now"))
    mtimes = [p.stat().st_mtime for p in (tmp_path / "now").rglob("*.jsonl")]
    assert all(m >= before - 5 for m in mtimes)
    realistic = generate_spool(tmp_path / "real", GenerateOptions(start=MONDAY, **SMALL))
    assert summary == realistic
    for p in (tmp_path / "real").rglob("*.jsonl"):
        assert (
            date.fromisoformat(p.name[:10]) <= datetime.fromtimestamp(p.stat().st_mtime, UTC).date()
        )
        assert os.stat(p).st_mtime_ns % 1_000_000_000 == 0


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown damage"):
        GenerateOptions(start=MONDAY, damage=frozenset({"fire"}))
    with pytest.raises(ValueError):
        GenerateOptions(start=MONDAY, artists=2, skewed_hosts=3)
    with pytest.raises(ValueError):
        GenerateOptions(start=MONDAY, days=0)
    assert expected_reasons({"nul_run", "blank"}) == {"invalid_json"}


# --- bulk --------------------------------------------------------------------------------------------


def test_bulk(tmp_path: Path) -> None:
    summary = generate_bulk(tmp_path, events=20_000, files=90, start=MONDAY, seed=3)
    found = scan(tmp_path)
    assert_matches(summary, found)
    assert summary.files == 90 and summary.valid_events == summary.lines == 20_000
    assert set(summary.valid_by_type) == set(EVENT_TYPES)
    assert 230 <= summary.bytes / summary.lines <= 330
    assert len({d for d, *_ in found.events}) == 2
    again = tmp_path / "again"
    assert generate_bulk(again, events=20_000, files=90, start=MONDAY, seed=3) == summary
    first = sorted(p for p in tmp_path.glob("*/*/*.jsonl"))
    assert [p.read_bytes() for p in first] == [
        (again / p.relative_to(tmp_path)).read_bytes() for p in first
    ]
