"""The spool in memory: files of records (events, broken lines, blanks, NULs, tails)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from piper_dagster.generate.emitter import Emitter, envelope


def spool_relpath(host: str, user: str, day: date, name: str) -> str:
    """A spool file's path under the spool root (contract §1)."""
    return f"{host}/{user}/{day.isoformat()}_{name}.jsonl"


@dataclass(eq=False)
class Rec:
    kind: Literal["event", "invalid", "blank", "nul", "tail", "gone"]  # gone: replaced
    write_us: int
    event: dict[str, Any] | None = None
    ts_us: int = 0
    raw: bytes | None = None  # the line without terminator, when not rendered from `event`
    reason: str | None = None
    plain: bool = True  # an untouched valid event: may be picked for damage
    late: bool = False
    prefix: bytes = b""  # NULs before an intact event
    damage: str | None = None


@dataclass(eq=False)
class SampleFile:
    host: str
    user: str
    day: date
    name: str
    emitter: Emitter
    recs: list[Rec] = field(default_factory=list)
    crlf: bool = False
    mtime_us: int = 0

    @property
    def relpath(self) -> str:
        return spool_relpath(self.host, self.user, self.day, self.name)

    def render(self, rec: Rec) -> bytes:
        if rec.raw is not None:
            return rec.raw
        assert rec.event is not None
        return rec.prefix + self.emitter.dumps(rec.event).encode()

    def emit(
        self,
        rng: random.Random,
        event_type: str,
        t_us: int,
        payload: dict[str, Any],
        max_delay_us: int,
        event_id: str | None = None,
    ) -> None:
        """A service's event at `t_us` (its clock is right), written up to `max_delay_us` later."""
        event, ts_us = envelope(
            self.emitter, rng, event_type, t_us, self.host, self.user, payload, event_id=event_id
        )
        self.recs.append(Rec("event", t_us + rng.randint(0, max_delay_us), event, ts_us))

    def events(self) -> list[Rec]:
        return [r for r in self.recs if r.kind == "event"]


class SampleSpool:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str, date, str], SampleFile] = {}

    def file(self, host: str, user: str, day: date, name: str, emitter: Emitter) -> SampleFile:
        key = (host, user, day, name)
        if key not in self.files:
            self.files[key] = SampleFile(host, user, day, name, emitter)
        return self.files[key]

    def has(self, host: str, user: str, day: date, name: str) -> bool:
        return (host, user, day, name) in self.files
