"""docs/contract.md: its field tables, reasons and gold metrics are generated from their sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.contract.introspect import payload_field_specs
from piper_dagster.contract.models import EVENT_TYPES, Envelope, OwnReason, Reason
from piper_dagster.contract_docs import CONTRACT_DOC, envelope_table, payload_tables, stale_blocks

runner = CliRunner()


def test_the_committed_contract_page_matches_the_models() -> None:
    assert stale_blocks(CONTRACT_DOC) == [], "run `piper contract docs` and commit docs/contract.md"
    text = CONTRACT_DOC.read_text(encoding="utf-8")
    for event_type, model in EVENT_TYPES.items():
        assert f"`{event_type}`" in text
        for spec in payload_field_specs(model):
            assert f"| `{spec.name}` |" in text


def test_the_tables_follow_a_changed_model() -> None:
    class Wider(Envelope):
        schema_version: Annotated[
            str, OwnReason(Reason.UNSUPPORTED_SCHEMA_VERSION), Field(pattern=r"^[12]\.[0-9]+$")
        ]

    assert r"`^[12]\.[0-9]+$`" in envelope_table(Wider)
    assert r"`^[12]\.[0-9]+$`" not in envelope_table()
    assert "| `active_blades` | integer | yes | >= 0, <= `total_blades` |" in payload_tables()


def test_piper_contract_docs_checks_and_rewrites_a_stale_page(tmp_path: Path) -> None:
    page = tmp_path / "contract.md"
    current = CONTRACT_DOC.read_text(encoding="utf-8")
    page.write_text(current.replace("| `host` | string | yes | non-empty |\n", ""))
    out = runner.invoke(app, ["contract", "docs", "--check", "--path", str(page)])
    assert out.exit_code == 1 and "envelope" in out.output and "piper contract docs" in out.output
    out = runner.invoke(app, ["contract", "docs", "--path", str(page)])
    assert out.exit_code == 0, out.output
    assert page.read_text(encoding="utf-8") == current
    out = runner.invoke(app, ["contract", "docs", "--check", "--path", str(page)])
    assert out.exit_code == 0 and "up to date" in out.output


def test_a_page_without_the_generated_blocks_is_one_clear_line(tmp_path: Path) -> None:
    page = tmp_path / "contract.md"
    page.write_text("# a page\n")
    out = runner.invoke(app, ["contract", "docs", "--check", "--path", str(page)])
    assert out.exit_code == 2
    assert "no generated block for" in out.output and "Traceback" not in out.output
    missing = runner.invoke(app, ["contract", "docs", "--path", str(tmp_path / "nope.md")])
    assert missing.exit_code == 2 and "is missing" in missing.output
