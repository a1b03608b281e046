"""The generated parts of docs/contract.md: field tables, reasons and gold metrics from their sources.

docs/contract.md is prose written by hand with blocks between `<!-- BEGIN generated:NAME -->` and
`<!-- END generated:NAME -->` markers. `piper contract docs` rewrites those blocks from the
contract models (and the gold metrics from the metrics catalog); `--check` and a test fail when
the committed file differs from what the models say, so the tables cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from piper_dagster.contract.introspect import (
    FieldSpec,
    envelope_object_fields,
    envelope_text_fields,
    own_reasons,
    payload_field_specs,
    schema_version_pattern,
)
from piper_dagster.contract.models import (
    DEFAULT_SHOW,
    EVENT_TYPES,
    MAX_LINE_BYTES,
    REASON_ORDER,
    Envelope,
    Payload,
    Reason,
    step_of,
)
from piper_dagster.settings import PROJECT_ROOT, ConfigError

CONTRACT_DOC = PROJECT_ROOT / "docs" / "contract.md"

_BLOCK = re.compile(
    r"(<!-- BEGIN generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- END generated:(?P=name) -->)",
    re.DOTALL,
)

# What each check of §5 looks at, in piper's words (the order comes from REASON_ORDER).
_REASON_TEXT: dict[Reason, str] = {
    Reason.LINE_TOO_LONG: f"over {MAX_LINE_BYTES:,} bytes after NUL removal (not parsed)",
    Reason.INVALID_UTF8: "the line's bytes are not UTF-8",
    Reason.INVALID_JSON: "not strict JSON (RFC 8259), or something after the value",
    Reason.NOT_AN_OBJECT: "JSON, but not an object",
    Reason.UNSUPPORTED_SCHEMA_VERSION: "`schema_version` is not a string of an accepted version",
    Reason.UNKNOWN_EVENT_TYPE: "`event_type` is not a string naming one of the event types",
    Reason.INVALID_TIMESTAMP: "`ts` is not an RFC 3339 string with an offset",
    Reason.WRONG_TYPE: "a field of the wrong JSON type (or a payload that is not an object)",
    Reason.INVALID_VALUE: "right type, wrong value (a rule of the tables above)",
}


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = [_row(*header), _row(*("---" for _ in header))]
    lines += [_row(*r) for r in rows]
    return "\n".join(lines) + "\n"


def _own_rule(reason: Reason, model: type[BaseModel]) -> str:
    if reason == Reason.UNSUPPORTED_SCHEMA_VERSION:
        rule = f"matches `{schema_version_pattern(model)}`"
    elif reason == Reason.UNKNOWN_EVENT_TYPE:
        rule = f"one of the {len(EVENT_TYPES)} event types below (case matters)"
    else:
        rule = "RFC 3339 with an offset (`Z` or `±hh:mm`)"
    return f"{rule}; else `{reason}`"


def envelope_table(model: type[BaseModel] = Envelope) -> str:
    """The envelope's fields: JSON type, required, rule."""
    own = own_reasons(model)
    texts = {f.name: f for f in envelope_text_fields(model)}
    objects = envelope_object_fields(model)
    rows = []
    for name, info in model.model_fields.items():
        required = "yes" if info.is_required() else "no"
        if name in own:
            rows.append((f"`{name}`", "string", required, _own_rule(own[name], model)))
        elif name in objects:
            rows.append((f"`{name}`", "object", required, "its fields per event type, below"))
        else:
            f = texts[name]
            rules = []
            if f.min_length == 1:
                rules.append("non-empty")
            elif f.min_length:
                rules.append(f"at least {f.min_length} characters")
            if f.max_length is not None:
                rules.append(f"at most {f.max_length} characters")
            if name == "show":
                rules.append(f'absent or null: `"{DEFAULT_SHOW}"`')
            rows.append((f"`{name}`", "string", required, ", ".join(rules)))
    return _table(("field", "JSON type", "required", "rule"), rows)


def _payload_rule(spec: FieldSpec, model: type[Payload]) -> str:
    rules = []
    if spec.kind.choices:
        rules.append("one of " + ", ".join(f'`"{c}"`' for c in spec.kind.choices))
    if spec.kind.nonneg:
        rules.append(">= 0")
    rules += [f"<= `{big}`" for small, big in model.at_most if small == spec.name]
    return ", ".join(rules)


def _group_title(model: type[Payload], types: list[str]) -> str:
    if len(types) == 1:
        return f"`{types[0]}`"
    name = model.__name__.removesuffix("Payload")
    return f"{name} ({len(types)}): " + ", ".join(f"`{t}`" for t in types)


def payload_tables() -> str:
    """One table per payload model, titled with its event types."""
    groups: dict[type[Payload], list[str]] = {}
    for event_type, model in EVENT_TYPES.items():
        groups.setdefault(model, []).append(event_type)
    parts = []
    for model, types in groups.items():
        rows = [
            (
                f"`{s.name}`",
                s.kind.json,
                "yes" if s.required else "no",
                _payload_rule(s, model),
            )
            for s in payload_field_specs(model)
        ]
        parts.append(
            f"#### {_group_title(model, types)}\n\n"
            + _table(("field", "JSON type", "required", "rule"), rows)
        )
    return "\n".join(parts)


def reasons_list() -> str:
    """The checks of §5 in the order they apply."""
    lines = []
    for i, reason in enumerate(REASON_ORDER, start=1):
        if reason == Reason.MISSING_FIELD:
            what = "envelope" if i - 1 == step_of(reason) else "payload (per its event type)"
            text = f"a required field of the {what} is absent or null"
        else:
            text = _REASON_TEXT[reason]
        lines.append(f"{i}. `{reason}`: {text}")
    return "\n".join(lines) + "\n"


def gold_table() -> str:
    """The gold metrics from the metrics catalog: model, grain, metric, unit, meaning."""
    from piper_dagster.catalog import grain_columns, load_catalog

    rows = []
    for entry in load_catalog():
        grain = ", ".join(grain_columns(entry.model))
        rows.append((f"`{entry.model}`", grain, f"`{entry.name}`", entry.unit, entry.description))
    return _table(("model", "grain", "metric", "unit", "meaning"), rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "envelope": envelope_table,
    "payloads": payload_tables,
    "reasons": reasons_list,
    "gold": gold_table,
}


def render(text: str) -> str:
    """`text` with every generated block rewritten; an unknown block name is an error."""

    def fill(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in GENERATORS:
            raise ConfigError(f"unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return m.group(1) + GENERATORS[name]() + m.group(4)

    rendered = _BLOCK.sub(fill, text)
    missing = set(GENERATORS) - {m.group("name") for m in _BLOCK.finditer(text)}
    if missing:
        raise ConfigError(f"no generated block for {', '.join(sorted(missing))}")
    return rendered


def stale_blocks(path: Path = CONTRACT_DOC) -> list[str]:
    """Names of the generated blocks of `path` that differ from the models."""
    text = path.read_text(encoding="utf-8")
    fresh = {m.group("name"): m.group("body") for m in _BLOCK.finditer(render(text))}
    return [
        m.group("name") for m in _BLOCK.finditer(text) if fresh[m.group("name")] != m.group("body")
    ]
