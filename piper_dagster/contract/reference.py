"""Per-line reference validator: the contract applied one line at a time with the pydantic models.

Not the hot path (see piper_dagster.ingest.validate): it exists so property tests can compare the
vectorized validator against a plain reading of the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from piper_dagster.contract.models import (
    DEFAULT_SHOW,
    EVENT_TYPES,
    MAX_LINE_BYTES,
    Envelope,
    Reason,
    parse_rfc3339,
)

WHITESPACE = b" \t\r\x0b\x0c"

# Step numbers of contract §5 (1-based); the lowest step of all errors is the line's reason.
_STEP = {reason: i for i, reason in enumerate(Reason, start=1)}
_PAYLOAD_MISSING_STEP = _STEP[Reason.INVALID_TIMESTAMP] + 0.5  # §5 step 9 sits between 8 and 10
_ENVELOPE_REQUIRED = frozenset(
    name for name, info in Envelope.model_fields.items() if info.is_required()
)
_TYPE_ERRORS = {
    "string_type",
    "int_type",
    "float_type",
    "dict_type",
    "bool_type",
    "int_from_float",
    "float_parsing",
    "int_parsing",
    "model_type",
    "finite_number",
}


@dataclass(frozen=True)
class LineOutcome:
    kind: Literal["event", "invalid", "blank", "nul_padding"]
    reason: Reason | None = None
    event: dict[str, Any] | None = None
    ts: datetime | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # DuckDB's JSON reader keeps the first of duplicate keys; the reference matches it.
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _parse_json(text: str) -> Any:
    value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_first_key_wins)
    # Lone surrogates (\ud800) are not Unicode text; strict parsers reject them.
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def _envelope_step(err: dict[str, Any]) -> float:
    field = err["loc"][0] if err["loc"] else None
    etype = err["type"]
    if etype == "missing" or (err.get("input", 0) is None and field in _ENVELOPE_REQUIRED):
        return _STEP[Reason.MISSING_FIELD]
    if field == "schema_version":
        return _STEP[Reason.UNSUPPORTED_SCHEMA_VERSION]
    if field == "event_type":
        return _STEP[Reason.UNKNOWN_EVENT_TYPE]
    if field == "ts":
        return _STEP[Reason.INVALID_TIMESTAMP]
    if etype in _TYPE_ERRORS:
        return _STEP[Reason.WRONG_TYPE]
    return _STEP[Reason.INVALID_VALUE]


def _payload_step(err: dict[str, Any]) -> float:
    etype = err["type"]
    if etype == "missing" or (err["loc"] and err.get("input", 0) is None):
        return _PAYLOAD_MISSING_STEP
    if etype in _TYPE_ERRORS:
        return _STEP[Reason.WRONG_TYPE]
    return _STEP[Reason.INVALID_VALUE]


def _step_reason(step: float) -> Reason:
    if step == _PAYLOAD_MISSING_STEP:
        return Reason.MISSING_FIELD
    return list(Reason)[int(step) - 1]


def classify_line(line: bytes) -> LineOutcome:
    """Apply contract §2, §3 and §5 to one line (terminator already removed)."""
    had_nul = b"\x00" in line
    line = line.replace(b"\x00", b"")
    if had_nul and not line:
        return LineOutcome("nul_padding")
    if len(line) > MAX_LINE_BYTES:
        return LineOutcome("invalid", Reason.LINE_TOO_LONG)
    if not line.strip(WHITESPACE):
        return LineOutcome("blank")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return LineOutcome("invalid", Reason.INVALID_UTF8)
    try:
        obj = _parse_json(text)
    except (ValueError, RecursionError, UnicodeEncodeError):
        return LineOutcome("invalid", Reason.INVALID_JSON)
    if not isinstance(obj, dict):
        return LineOutcome("invalid", Reason.NOT_AN_OBJECT)

    steps: list[float] = []
    try:
        Envelope.model_validate(obj)
    except ValidationError as exc:
        steps += [_envelope_step(e) for e in exc.errors()]
    payload = obj.get("payload")
    event_type = obj.get("event_type")
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is not None and isinstance(payload, dict):
        try:
            model.model_validate(payload)
        except ValidationError as exc:
            steps += [_payload_step(e) for e in exc.errors()]
    if steps:
        return LineOutcome("invalid", _step_reason(min(steps)))
    if obj.get("show") is None:
        obj["show"] = DEFAULT_SHOW
    return LineOutcome("event", event=obj, ts=parse_rfc3339(obj["ts"]))
