"""The telemetry contract (docs/contract.md) as code: models, reasons, validators."""

from piper_dagster.contract.models import (
    DEFAULT_SHOW,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    PUBLISH_TYPES,
    REASON_ORDER,
    STATUS_TYPES,
    TOOL_TYPES,
    Envelope,
    FieldSpec,
    Reason,
    event_json_schema,
    payload_field_specs,
)

__all__ = [
    "DEFAULT_SHOW",
    "ENVELOPE_FIELDS",
    "EVENT_TYPES",
    "MAX_EVENT_ID_CHARS",
    "MAX_LINE_BYTES",
    "PUBLISH_TYPES",
    "REASON_ORDER",
    "STATUS_TYPES",
    "TOOL_TYPES",
    "Envelope",
    "FieldSpec",
    "Reason",
    "event_json_schema",
    "payload_field_specs",
]
