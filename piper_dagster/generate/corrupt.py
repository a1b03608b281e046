"""Broken lines: each variant derives from a valid event one line with exactly one defect."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from piper_dagster.contract.introspect import payload_field_specs
from piper_dagster.contract.models import EVENT_TYPES, MAX_EVENT_ID_CHARS, MAX_LINE_BYTES, Envelope
from piper_dagster.generate.clock import EPOCH, US
from piper_dagster.generate.draws import uuid4
from piper_dagster.generate.emitter import Emitter

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
VARIANTS: dict[str, tuple[str, ...]] = {
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


def variant_applies(variant: str, event: dict[str, Any]) -> bool:
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


def sized_line(event: dict[str, Any], emitter: Emitter, size: int) -> bytes:
    """`event` with a `log` payload field padded so that its line is exactly `size` bytes."""
    event["payload"]["log"] = ""
    need = size - len(emitter.dumps(event).encode())
    repeat = _LOG_CHUNK * (need // len(_LOG_CHUNK) + 1)
    event["payload"]["log"] = repeat[:need]
    line = emitter.dumps(event).encode()
    assert len(line) == size, (len(line), size)
    return line


def ts_parts(ts_us: int) -> tuple[str, str]:
    dt = EPOCH + timedelta(microseconds=ts_us)
    return dt.strftime("%Y-%m-%d"), dt.strftime("%H:%M:%S")


def corrupt(
    variant: str, event: dict[str, Any], ts_us: int, emitter: Emitter, rng: random.Random
) -> bytes:
    """One line derived from the valid `event` with exactly one defect: the variant's reason."""
    ev = json.loads(json.dumps(event))
    line = _broken_text(variant, ev, emitter, rng)
    if line is not None:
        return line
    _break_field(variant, ev, ts_us, rng)
    return emitter.dumps(ev).encode()


def _broken_text(
    variant: str, ev: dict[str, Any], emitter: Emitter, rng: random.Random
) -> bytes | None:
    """The line of a variant that breaks the text itself (size, encoding, syntax, shape)."""
    dumps = emitter.dumps
    payload = ev["payload"]
    text = dumps(ev)
    # line_too_long
    if variant == "huge_log_min":
        return sized_line(ev, emitter, MAX_LINE_BYTES + 1)
    if variant == "huge_log":
        return sized_line(ev, emitter, MAX_LINE_BYTES + rng.randint(2, 150_000))
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
        ev["event_id"] = uuid4(rng)
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
    return None


def _break_field(variant: str, ev: dict[str, Any], ts_us: int, rng: random.Random) -> None:
    """Break one field of `ev` in place (missing, version, type, timestamp, value)."""
    payload = ev["payload"]
    # missing_field
    if variant in ("drop_envelope", "null_envelope", "drop_payload_field", "null_payload_field"):
        # The same break on either level: a required field dropped, or set to JSON null.
        envelope = variant.endswith("_envelope")
        obj = ev if envelope else payload
        required = (
            _ENVELOPE_REQUIRED
            if envelope
            else [s.name for s in _SPECS[ev["event_type"]] if s.required]
        )
        name = rng.choice(required)
        if variant.startswith("drop_"):
            del obj[name]
        else:
            obj[name] = None
        return
    # unsupported_schema_version
    if variant.startswith("sv"):
        ev["schema_version"] = _BAD_SCHEMA_VERSIONS[int(variant[2:])]
        return
    # unknown_event_type
    if variant.startswith("et"):
        bad = _BAD_EVENT_TYPES[int(variant[2:])]
        if bad == "case":
            bad = ev["event_type"].title()
        ev["event_type"] = bad
        return
    # invalid_timestamp
    day, hms = ts_parts(ts_us)
    timestamps = {
        "space": f"{day} {hms}.{ts_us // 1000 % 1000:03d}Z",
        "no_offset": f"{day}T{hms}.{ts_us // 1000 % 1000:03d}",
        "second_60": f"{day}T{hms[:6]}60Z",
        "epoch": ts_us // US,
        "epoch_ms_string": str(ts_us // 1000),
        "slashes": f"{day[8:10]}/{day[5:7]}/{day[:4]} {hms}",
        "hour_24": f"{day}T24:00:00Z",
        "date_only": day,
        "no_seconds": f"{day}T{hms[:5]}Z",
    }
    if variant in timestamps:
        ev["ts"] = timestamps[variant]
        return
    # wrong_type
    if variant in ("number_as_string", "fractional_int", "bool_int"):
        name = rng.choice(_fields(ev, ("integer",)))
        value = int(payload[name])
        payload[name] = {
            "number_as_string": rng.choice((str(value), f"{value // 1000}s")),
            "fractional_int": value + 0.5,
            "bool_int": True,
        }[variant]
        return
    if variant == "host_number":
        ev["host"] = int(ev["host"].lstrip("abcdefghijklmnopqrstuvwxyz") or "0")
        return
    if variant == "user_list":
        ev["user"] = [ev["user"]]
        return
    if variant == "payload_string":
        ev["payload"] = json.dumps(payload)
        return
    if variant == "payload_list":
        ev["payload"] = [payload]
        return
    if variant == "status_number":
        payload["status"] = rng.choice((0, 1, True))
        return
    if variant == "string_field_number":
        name = rng.choice(_fields(ev, ("string",)))
        payload[name] = rng.randint(1, 9_999_999)
        return
    if variant == "session_number":
        ev["session_id"] = rng.randint(1, 65_535)
        return
    if variant == "event_id_number":
        ev["event_id"] = rng.getrandbits(48)
        return
    # invalid_value
    if variant == "negative":
        name = rng.choice(_fields(ev, ("integer", "number"), nonneg=True))
        kind = next(s.kind for s in _SPECS[ev["event_type"]] if s.name == name)
        payload[name] = -rng.randint(1, 5000) if kind.json == "integer" else -rng.uniform(0.5, 99)
        return
    if variant == "status":
        if ev["event_type"] == "tractor.job.spool":
            payload["status"] = rng.choice(_BAD_SPOOL_STATUSES)
        else:
            payload["status"] = rng.choice(_BAD_STATUSES)
        return
    if variant == "at_most":
        if ev["event_type"] == "tractor.farm.snapshot":
            payload["active_blades"] = payload["total_blades"] + rng.randint(1, 50)
        else:
            payload["frames_failed"] = payload["frames_total"] + rng.randint(1, 10)
        return
    if variant in ("empty_event_id", "empty_host", "empty_user"):
        ev[variant.removeprefix("empty_")] = ""
        return
    if variant == "long_event_id":
        size = rng.choice((MAX_EVENT_ID_CHARS + 1, 200, 320))
        ev["event_id"] = (ev["event_id"] * (size // len(ev["event_id"]) + 1))[:size]
        return
    raise AssertionError(f"unknown variant {variant}")
