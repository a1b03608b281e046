"""The spool in memory: files of records (events, broken lines, blanks, NULs, tails)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from piper_dagster.generate.emitter import Emitter


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
        return f"{self.host}/{self.user}/{self.day.isoformat()}_{self.name}.jsonl"

    def render(self, rec: Rec) -> bytes:
        if rec.raw is not None:
            return rec.raw
        assert rec.event is not None
        return rec.prefix + self.emitter.dumps(rec.event).encode()

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
