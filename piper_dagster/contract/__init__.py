"""The telemetry contract (docs/contract.md) as code: models, reasons, validators."""

from piper_dagster.contract.introspect import (
    FieldSpec,
    event_json_schema,
    payload_field_specs,
    schema_version_pattern,
)
from piper_dagster.contract.models import (
    DEFAULT_SHOW,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    PUBLISH_TYPES,
    REASON_ORDER,
    SCHEMA_VERSION_PATTERN,
    STATUS_TYPES,
    TOOL_TYPES,
    UTF8_BOM,
    Envelope,
    Reason,
    step_of,
)

__all__ = [
    "DEFAULT_SHOW",
    "ENVELOPE_FIELDS",
    "EVENT_TYPES",
    "MAX_EVENT_ID_CHARS",
    "MAX_LINE_BYTES",
    "PUBLISH_TYPES",
    "REASON_ORDER",
    "SCHEMA_VERSION_PATTERN",
    "STATUS_TYPES",
    "TOOL_TYPES",
    "UTF8_BOM",
    "Envelope",
    "FieldSpec",
    "Reason",
    "event_json_schema",
    "payload_field_specs",
    "schema_version_pattern",
    "step_of",
]
