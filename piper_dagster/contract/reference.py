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

from piper_dagster.contract.introspect import own_reasons
from piper_dagster.contract.models import (
    BLANK_WHITESPACE,
    DEFAULT_SHOW,
    EVENT_TYPES,
    MAX_LINE_BYTES,
    REASON_ORDER,
    UTF8_BOM,
    Envelope,
    Reason,
    parse_rfc3339,
    step_of,
)

WHITESPACE = BLANK_WHITESPACE.encode("ascii")

# Every error of a line maps to its step in REASON_ORDER; the lowest step is the line's reason.
_OWN_REASONS = own_reasons()
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


def _envelope_step(err: dict[str, Any]) -> int:
    field = err["loc"][0] if err["loc"] else None
    etype = err["type"]
    if etype == "missing" or (err.get("input", 0) is None and field in _ENVELOPE_REQUIRED):
        return step_of(Reason.MISSING_FIELD)
    if field in _OWN_REASONS:
        return step_of(_OWN_REASONS[field])
    if etype in _TYPE_ERRORS:
        return step_of(Reason.WRONG_TYPE)
    return step_of(Reason.INVALID_VALUE)


def _payload_step(err: dict[str, Any]) -> int:
    etype = err["type"]
    if etype == "missing" or (err["loc"] and err.get("input", 0) is None):
        return step_of(Reason.MISSING_FIELD, payload=True)
    if etype in _TYPE_ERRORS:
        return step_of(Reason.WRONG_TYPE)
    return step_of(Reason.INVALID_VALUE)


def _step_reason(step: int) -> Reason:
    return REASON_ORDER[step]


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

    steps: list[int] = []
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


def split_file(data: bytes) -> list[bytes]:
    """The complete lines of a whole spool file (§1-2), terminators removed.

    A byte order mark at byte 0 is not part of the first line; a CR right before the LF (in the
    raw bytes, before NUL removal) belongs to the terminator; an unterminated tail is not a line
    yet.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    lines = data.split(b"\n")[:-1]  # the last piece is the unterminated tail (or empty)
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def classify_file(data: bytes) -> list[LineOutcome]:
    """Contract §2-5 applied to each complete line of a whole spool file."""
    return [classify_line(line) for line in split_file(data)]
