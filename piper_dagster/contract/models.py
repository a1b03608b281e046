"""Pydantic models of the envelope and the 18 payloads: the single source of truth for types and fields.

The vectorized validator (piper_dagster.ingest.validate) generates its SQL from these models,
and the per-line reference validator (piper_dagster.contract.reference) runs them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

MAX_LINE_BYTES = 1_048_576
MAX_EVENT_ID_CHARS = 128
DEFAULT_SHOW = "sandwich"
# The schema versions piper accepts (§3). Widening it here is all a new major version takes: both
# validators read it from the Envelope model (runbook: "The contract is behind").
SCHEMA_VERSION_PATTERN = r"^1\.[0-9]+$"
# Blank lines (§2): only these ASCII whitespace bytes (no NBSP or other Unicode spaces).
BLANK_WHITESPACE = " \t\r\x0b\x0c"
# A UTF-8 byte order mark at byte 0 of a file is not part of its first line (§2).
UTF8_BOM = b"\xef\xbb\xbf"


class Reason(StrEnum):
    """Rejection reasons; members are declared in the contract's order of precedence (§5)."""

    LINE_TOO_LONG = "line_too_long"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_TIMESTAMP = "invalid_timestamp"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"


class LineStatus(StrEnum):
    """What a line is when it is not rejected (§2): an event, a blank line, or NUL padding.

    A line's status is one of these or a Reason: blank lines and padding are neither data nor
    errors (counted, not quarantined)."""

    EVENT = "event"
    BLANK = "blank"
    NUL_PADDING = "nul_padding"


# The eleven checks of §5 in order; missing_field appears twice (envelope, then payload). Both
# validators order their checks by this tuple (see step_of).
REASON_ORDER: tuple[Reason, ...] = (
    Reason.LINE_TOO_LONG,
    Reason.INVALID_UTF8,
    Reason.INVALID_JSON,
    Reason.NOT_AN_OBJECT,
    Reason.MISSING_FIELD,
    Reason.UNSUPPORTED_SCHEMA_VERSION,
    Reason.UNKNOWN_EVENT_TYPE,
    Reason.INVALID_TIMESTAMP,
    Reason.MISSING_FIELD,
    Reason.WRONG_TYPE,
    Reason.INVALID_VALUE,
)


def step_of(reason: Reason, *, payload: bool = False) -> int:
    """0-based position of a reason's check in REASON_ORDER; `payload` picks the payload's
    missing_field (§5 step 9) rather than the envelope's (step 5)."""
    steps = [i for i, r in enumerate(REASON_ORDER) if r == reason]
    return steps[-1] if payload else steps[0]


# --- field kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How a field is checked in JSON terms; read by the SQL generator and the reference."""

    json: Literal["string", "integer", "number", "object"]
    nonneg: bool = False
    choices: tuple[str, ...] = ()


def _whole_number(value: Any) -> Any:
    # Contract §4: a float is accepted for an integer field only if it is whole.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _choices(*values: str) -> Any:
    allowed = frozenset(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}")
        return value

    return AfterValidator(check)


Text = Annotated[str, Kind("string")]
# Integers are stored as BIGINT: a count beyond the signed 64-bit range (9.2e18) is not a real
# count, and quarantining it (invalid_value, replayable) beats wedging the silver refresh of its
# day (docs/design.md).
INT64_MAX = 2**63 - 1
Count = Annotated[
    int,
    Kind("integer", nonneg=True),
    BeforeValidator(_whole_number),
    Field(ge=0, le=INT64_MAX),
]
Seconds = Annotated[float, Kind("number", nonneg=True), Field(ge=0, allow_inf_nan=False)]
Number = Annotated[float, Kind("number"), Field(allow_inf_nan=False)]


def _one_of(*values: str) -> Any:
    """A string field with a set of values: one declaration for the pydantic check, the SQL
    generator (Kind.choices) and the JSON Schema."""
    return Annotated[
        str,
        Kind("string", choices=values),
        _choices(*values),
        Field(json_schema_extra={"enum": list(values)}),
    ]


Status = _one_of("success", "failure")
SpoolStatus = _one_of("spooled", "rejected")


# --- timestamps (RFC 3339 §5.6) ------------------------------------------------------------------

# The form of §3 with the numeric ranges parse_rfc3339 checks (the calendar and year 0000 aside),
# for the vectorized validator (RE2 full match).
TS_PATTERN = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
_TS_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


# The UTC instants a valid ts can denote: RFC 3339's four-digit years, as a datetime holds them
# (parse_rfc3339 refuses year 0000 and an offset that leaves this range).
TS_UTC_RANGE = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with offset into an aware UTC datetime (microseconds truncated)."""
    m = _TS_RE.fullmatch(value)
    if m is None:
        raise ValueError("not an RFC 3339 timestamp with offset")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if year == 0 or hour > 23 or minute > 59 or second > 59:
        raise ValueError("time out of range")
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    if m.group(8):
        tz = UTC
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError("offset out of range")
        sign = 1 if m.group(9) == "+" else -1
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError("year out of range in UTC") from None


def _check_ts(value: str) -> str:
    parse_rfc3339(value)
    return value


Timestamp = Annotated[
    str, AfterValidator(_check_ts), Field(json_schema_extra={"format": "date-time"})
]


# --- payloads ------------------------------------------------------------------------------------


class Payload(BaseModel):
    """Base of the payload models: strict JSON types, unknown fields kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    # Pairs (a, b) with the rule a <= b when both are present (an invalid_value otherwise).
    at_most: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Payload:
        for small, big in self.at_most:
            a, b = getattr(self, small), getattr(self, big)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{small} must be <= {big}")
        return self


class PublishPayload(Payload):
    status: Status
    duration_ms: Count
    output_bytes: Count
    asset: Text
    department: Text | None = None
    usd_path: Text | None = None
    error: Text | None = None


class ToolPayload(Payload):
    status: Status
    duration_ms: Count
    dcc: Text
    dcc_version: Text | None = None
    path: Text | None = None
    error: Text | None = None


class TractorJobSpoolPayload(Payload):
    job_id: Text
    status: SpoolStatus
    task_count: Count
    title: Text | None = None
    priority: Number | None = None


class TractorFarmSnapshotPayload(Payload):
    at_most: ClassVar[tuple[tuple[str, str], ...]] = (("active_blades", "total_blades"),)
    total_blades: Count
    active_blades: Count
    errored_jobs: Count
    active_jobs: Count | None = None
    queued_tasks: Count | None = None


class RenderStatsSummaryPayload(Payload):
    at_most: ClassVar[tuple[tuple[str, str], ...]] = (("frames_failed", "frames_total"),)
    job_id: Text
    status: Status
    frames_total: Count
    frames_failed: Count
    cpu_seconds: Seconds
    wall_seconds: Seconds | None = None
    peak_rss_bytes: Count | None = None


class StorageScanSummaryPayload(Payload):
    root: Text
    total_bytes: Count
    file_count: Count
    scan_duration_ms: Count | None = None


class StorageScanBucketPayload(Payload):
    root: Text
    bucket: Text
    bytes: Count
    file_count: Count


PUBLISH_TYPES: tuple[str, ...] = (
    "publish.asset.usd",
    "publish.anim.usd",
    "publish.camera.usd",
    "publish.customanim.usd",
    "publish.previs_asset.usd",
)
TOOL_TYPES: tuple[str, ...] = (
    "dcc.launch",
    "file.open",
    "file.create",
    "shot.setup",
    "playblast.create",
    "build.houdini.component",
    "texture.export.substance",
    "texture.convert.tex",
)

# The 18 event types, in the contract's order, with their payload model.
EVENT_TYPES: dict[str, type[Payload]] = {
    **dict.fromkeys(PUBLISH_TYPES, PublishPayload),
    **dict.fromkeys(TOOL_TYPES, ToolPayload),
    "tractor.job.spool": TractorJobSpoolPayload,
    "tractor.farm.snapshot": TractorFarmSnapshotPayload,
    "render.stats.summary": RenderStatsSummaryPayload,
    "storage.scan.summary": StorageScanSummaryPayload,
    "storage.scan.bucket": StorageScanBucketPayload,
}

# Types whose status is success-or-failure (the denominator of dq_error_rate, contract §7).
STATUS_TYPES: tuple[str, ...] = (*PUBLISH_TYPES, *TOOL_TYPES, "render.stats.summary")

# The same 18 names as a Literal, for the envelope model and its JSON Schema.
EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


# --- envelope ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnReason:
    """Marks an envelope field whose every failure (type or value) has a reason of its own in §5
    instead of wrong_type / invalid_value."""

    reason: Reason


class Envelope(BaseModel):
    """The fields every event carries (§3); `payload` is checked against EVENT_TYPES[event_type]."""

    model_config = ConfigDict(extra="allow", strict=True)

    schema_version: Annotated[
        str, OwnReason(Reason.UNSUPPORTED_SCHEMA_VERSION), Field(pattern=SCHEMA_VERSION_PATTERN)
    ]
    event_id: Annotated[str, Kind("string"), Field(min_length=1, max_length=MAX_EVENT_ID_CHARS)]
    event_type: Annotated[EventType, OwnReason(Reason.UNKNOWN_EVENT_TYPE)]
    ts: Annotated[Timestamp, OwnReason(Reason.INVALID_TIMESTAMP)]
    host: Annotated[str, Kind("string"), Field(min_length=1)]
    user: Annotated[str, Kind("string"), Field(min_length=1)]
    show: Text | None = None
    session_id: Text | None = None
    payload: Annotated[dict[str, Any], Kind("object")]


ENVELOPE_FIELDS: tuple[str, ...] = tuple(Envelope.model_fields)
