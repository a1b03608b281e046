"""What a sample spool holds: the damage kinds and the generator's options."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from piper_dagster.contract.models import (
    Reason,
)

REASON_KINDS: tuple[str, ...] = tuple(reason.value for reason in Reason)
DAMAGE_KINDS: tuple[str, ...] = (
    *REASON_KINDS,
    "duplicate",
    "nul_run",
    "crlf",
    "blank",
    "unterminated",
    "late",
)
# Damage kinds that are not rejection reasons but still produce invalid lines: a NUL run can
# replace the end of a line, whose surviving start is then unparsable JSON.
IMPLIED_REASONS: dict[str, frozenset[str]] = {"nul_run": frozenset({Reason.INVALID_JSON.value})}


def expected_reasons(damage: Iterable[str]) -> frozenset[str]:
    """The rejection reasons (`invalid_by_reason` keys) that a spool with `damage` contains."""
    reasons: set[str] = set()
    for kind in damage:
        if kind in REASON_KINDS:
            reasons.add(kind)
        reasons |= IMPLIED_REASONS.get(kind, frozenset())
    return frozenset(reasons)


@dataclass(frozen=True)
class GenerateOptions:
    start: date
    days: int = 3
    artists: int = 12
    events_per_artist_day: int = 60
    farm: bool = True
    snapshot_minutes: int = 5
    storage: bool = True
    seed: int = 0
    damage: frozenset[str] = frozenset()
    damage_rate: float = 0.02
    skewed_hosts: int = 0
    skew_offset: timedelta = timedelta(hours=-72)
    mtime: Literal["realistic", "now"] = "realistic"

    def __post_init__(self) -> None:
        unknown = set(self.damage) - set(DAMAGE_KINDS)
        if unknown:
            raise ValueError(f"unknown damage kinds {sorted(unknown)}; known: {DAMAGE_KINDS}")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.artists < 0 or self.events_per_artist_day < 0:
            raise ValueError("artists and events_per_artist_day must be >= 0")
        if self.snapshot_minutes < 1:
            raise ValueError("snapshot_minutes must be >= 1")
        if not 0.0 <= self.damage_rate <= 1.0:
            raise ValueError("damage_rate must be in [0, 1]")
        if not 0 <= self.skewed_hosts <= self.artists:
            raise ValueError("skewed_hosts must be between 0 and artists")
        if "late" in self.damage and self.artists < 1:
            raise ValueError("late damage needs at least one artist")
        if self.mtime not in ("realistic", "now"):
            raise ValueError("mtime must be 'realistic' or 'now'")
