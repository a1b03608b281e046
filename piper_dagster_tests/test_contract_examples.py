"""The contract's own examples, through the real ingest into a real warehouse."""

from __future__ import annotations

import json

from piper_dagster.contract import Reason
from piper_dagster.contract.introspect import event_json_schema
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import CONTRACT_TEXT, EXAMPLES, write_spool_file


def _copy_examples(settings: Settings) -> None:
    for name in ("2026-03-04_valid.jsonl", "2026-03-04_invalid.jsonl"):
        write_spool_file(settings.raw_root, f"ws042/jdoe/{name}", (EXAMPLES / name).read_bytes())


def test_valid_file_yields_20_events_and_each_invalid_line_its_reason(
    piper_env: Settings, warehouse
) -> None:
    _copy_examples(piper_env)
    result = ingest(piper_env)
    assert result.events == 20
    assert result.duplicates == 0
    expected = (EXAMPLES / "2026-03-04_invalid.expected").read_text().split()
    with warehouse() as con:
        got = con.execute(
            "SELECT reason FROM quarantine WHERE source_file = 'ws042/jdoe/2026-03-04_invalid.jsonl'"
            " ORDER BY source_line"
        ).fetchall()
        assert [r[0] for r in got] == expected
        lines = con.execute("SELECT source_line FROM quarantine ORDER BY source_line").fetchall()
        assert [r[0] for r in lines] == list(range(1, len(expected) + 1))
        assert con.execute("SELECT count(DISTINCT event_type) FROM silver_events").fetchone() == (
            18,
        )
        # The 1.1 event: extra payload field kept, whole float accepted, offset converted to UTC.
        row = con.execute(
            "SELECT schema_version, payload, ts::VARCHAR, event_date::VARCHAR FROM silver_events"
            " WHERE event_id = '0b6f1c2e-0000-4000-8000-000000000020'"
        ).fetchone()
    assert row[0] == "1.1"
    payload = json.loads(row[1])
    assert payload["x_new_in_1_1"] is True and payload["duration_ms"] == 30000.0
    assert row[2] == "2026-03-04 10:00:00+00" and row[3] == "2026-03-04"


def test_reasons_are_the_contracts_in_order() -> None:
    contract = CONTRACT_TEXT.read_text(encoding="utf-8")
    section = contract.split("## 5. Rejection reasons")[1].split("## 6.")[0]
    listed = [
        line.split("`")[1] for line in section.splitlines() if line[:1].isdigit() and "`" in line
    ]
    assert list(dict.fromkeys(listed)) == [r.value for r in Reason]


def test_json_schema_covers_the_18_types() -> None:
    schema = event_json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert len(mapping) == 18
    publish = schema["$defs"]["PublishAssetUsdEvent"]
    assert publish["properties"]["payload"]["$ref"].endswith("PublishPayload")
    assert "status" in schema["$defs"]["PublishPayload"]["required"]
