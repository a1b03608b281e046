"""The project's copy of the upstream contract and the models say the same thing.

docs/upstream/telemetry-v1.md is the studio's text, copied verbatim (docs/design.md, "The
contract's copy"). When a new revision is copied in, these tests fail until the models follow:
the envelope's and every payload's fields and required-ness, the event types, the reasons.
"""

from __future__ import annotations

import re

from piper_dagster.contract.introspect import payload_field_specs
from piper_dagster.contract.models import (
    EVENT_TYPES,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    REASON_ORDER,
    Envelope,
)
from piper_dagster_tests.factories import CONTRACT_TEXT

TEXT = CONTRACT_TEXT.read_text(encoding="utf-8")


def _section(title: str) -> str:
    return TEXT.split(f"## {title}")[1].split("\n## ")[0]


def _table_fields(block: str) -> dict[str, bool]:
    """field -> required, from the rows of the first markdown table in `block`."""
    fields = {}
    for row in re.findall(r"^\| `([a-z_]+)` \|[^|]*\| ([a-z]+)", block, re.MULTILINE):
        fields[row[0]] = row[1] == "yes"
    return fields


def test_the_envelope_fields_are_the_upstream_ones() -> None:
    upstream = _table_fields(_section("3. The envelope"))
    assert upstream == {n: f.is_required() for n, f in Envelope.model_fields.items()}
    assert f"at most {MAX_EVENT_ID_CHARS} chars" in _section("3. The envelope")
    assert f"{MAX_LINE_BYTES:,} bytes" in _section("2. A line")


def test_each_payload_is_the_upstream_table_of_its_types() -> None:
    section = _section("4. The 18 event types and their payloads")
    # Each table follows a bold heading line naming its event types in backquotes.
    chunks = re.split(r"^\*\*[A-Za-z]+\*\*", section, flags=re.MULTILINE)[1:]
    seen: list[str] = []
    for chunk in chunks:
        heading, _, body = chunk.partition("\n\n")
        types = re.findall(r"`([a-z_.]+)`", heading)
        assert types, heading
        for event_type in types:
            specs = payload_field_specs(EVENT_TYPES[event_type])
            assert _table_fields(body) == {s.name: s.required for s in specs}, event_type
        seen += types
    assert seen == list(EVENT_TYPES)


def test_the_reasons_are_the_upstream_list_in_order() -> None:
    section = _section("5. Rejection reasons")
    listed = re.findall(r"^\d+\. `([a-z_0-9]+)`", section, re.MULTILINE)
    assert listed == [r.value for r in REASON_ORDER]
