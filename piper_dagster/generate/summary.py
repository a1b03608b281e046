"""What a correct ingest must find in a generated spool (the counting conventions are in
`piper_dagster.generate.sample_spool`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class GenerateSummary:
    files: int
    lines: int
    bytes: int
    valid_events: int
    duplicates: int
    invalid_by_reason: dict[str, int]
    blank_lines: int
    nul_padding_lines: int
    unterminated_tails: int
    skewed_events: int
    # Extras: occurrences per requested damage kind (lines, NUL runs, files or late events, see
    # `generate_spool`), and distinct valid events per event_type.
    damage_counts: dict[str, int] = field(default_factory=dict)
    valid_by_type: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> GenerateSummary:
        """Nothing written yet."""
        return cls(0, 0, 0, 0, 0, {}, 0, 0, 0, 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
