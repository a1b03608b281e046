"""The line counters: one type for a batch, for a whole run, and for the ingest_batches row.

Every line read is counted exactly once (lines = events + duplicates + invalid + blank +
nul_padding); a run's counters are the sum of its batches'.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Piper's own quarantine reason (not the contract's, §5): DuckDB could not classify the line
# alone (e.g. out of memory at ingest.memory_limit). Its bytes are kept: `piper quarantine
# replay --reason unprocessable` retries it (design.md, "Poison lines").
UNPROCESSABLE = "unprocessable"


@dataclass
class LineCounters:
    lines: int = 0
    events: int = 0  # new in silver_events
    # valid, but their event_id was already there; or invalid, but already quarantined (the
    # same line re-read: a rewrite, a re-read; design.md "Quarantine: each line once")
    duplicates: int = 0
    skewed: int = 0  # events with a skewed clock (§6): dated by their spool date instead
    blank_lines: int = 0
    nul_padding_lines: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    event_dates: set[date] = field(default_factory=set)  # dates that gained events

    @property
    def invalid(self) -> int:
        return sum(self.invalid_by_reason.values())

    def add(self, other: LineCounters) -> None:
        """Count `other`'s lines too (a batch's, into its run's)."""
        self.lines += other.lines
        self.events += other.events
        self.duplicates += other.duplicates
        self.skewed += other.skewed
        self.blank_lines += other.blank_lines
        self.nul_padding_lines += other.nul_padding_lines
        self.invalid_by_reason.update(other.invalid_by_reason)
        self.event_dates.update(other.event_dates)

    def row(self) -> dict[str, Any]:
        """The counters as the columns of an ingest_batches row."""
        return {
            "lines": self.lines,
            "events": self.events,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "blank": self.blank_lines,
            "nul_padding": self.nul_padding_lines,
            "skewed": self.skewed,
            "event_dates": sorted(self.event_dates),
        }


class PhaseClock:
    """Adds the seconds since the last lap to `into[phase]`: where an ingest's time went."""

    def __init__(self, into: Counter[str]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] += now - self.last
        self.last = now
