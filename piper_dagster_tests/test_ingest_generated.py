"""A generated spool with every kind of damage: the ingest finds exactly what was written."""

from __future__ import annotations

from datetime import date

from piper_dagster.generate.options import DAMAGE_KINDS, GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings


def test_ingest_matches_the_generator_summary(piper_env: Settings, warehouse) -> None:
    summary = generate_spool(
        piper_env.raw_root,
        GenerateOptions(
            start=date(2026, 3, 2),
            days=4,
            artists=6,
            seed=3,
            damage=frozenset(DAMAGE_KINDS),
            skewed_hosts=1,
        ),
    )
    result = ingest(piper_env)
    assert result.events == summary.valid_events
    assert result.duplicates == summary.duplicates
    assert dict(result.invalid_by_reason) == summary.invalid_by_reason
    assert result.blank_lines == summary.blank_lines
    assert result.nul_padding_lines == summary.nul_padding_lines
    assert result.skewed == summary.skewed_events
    assert result.lines == summary.lines
    assert result.batches > 1  # 1 MiB batches in the tests
    # Rerun: nothing new, nothing counted twice.
    again = ingest(piper_env)
    assert (again.events, again.invalid, again.lines) == (0, 0, 0)
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM silver_events").fetchone() == (
            summary.valid_events,
        )
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (
            sum(summary.invalid_by_reason.values()),
        )
