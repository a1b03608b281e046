"""Damage applied to a generated spool, per damage kind, at the options' rate."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from piper_dagster.contract.models import (
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    Reason,
)
from piper_dagster.generate.clock import US, fmt_ts
from piper_dagster.generate.corrupt import VARIANTS, corrupt, sized_line, variant_applies
from piper_dagster.generate.draws import uuid4
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.records import Rec, SampleFile, SampleSpool
from piper_dagster.generate.skew import is_skewed, near_day_boundary, near_mtime_boundary

_LINE_TOO_LONG_MAX = 2  # each such line weighs more than 1 MiB: keep spools small


class Damager:
    def __init__(self, spool: SampleSpool, options: GenerateOptions) -> None:
        self.spool = spool
        self.options = options
        self.rng = random.Random(f"{options.seed}:damage")
        self.files = [
            spool.files[k] for k in sorted(spool.files, key=lambda k: spool.files[k].relpath)
        ]
        self.owner: dict[int, SampleFile] = {}
        pool: list[Rec] = []
        for f in self.files:
            for rec in f.recs:
                if rec.kind == "event":
                    self.owner[id(rec)] = f
                    pool.append(rec)
        self.rng.shuffle(pool)
        self.pool = pool
        self.base_events = len(pool)
        self.replaced = 0
        self.counts: dict[str, int] = {}

    def count_for(self, units: int) -> int:
        return max(1, round(self.options.damage_rate * units))

    def pick(self, pred: Callable[[Rec], bool] = lambda r: True) -> Rec | None:
        n = len(self.pool)
        if n == 0:
            return None
        start = self.rng.randrange(n)
        for k in range(n):
            rec = self.pool[(start + k) % n]
            if rec.plain and rec.kind == "event" and pred(rec):
                rec.plain = False
                return rec
        return None

    def pick_any(self, pred: Callable[[Rec], bool] = lambda r: True) -> Rec | None:
        """Any untouched valid event still in its file (already the source of a broken copy or
        of a duplicate, maybe): for damage that leaves the event itself valid."""
        candidates = [
            r
            for r in self.pool
            if r.kind == "event" and r.raw is None and not r.prefix and r.damage is None
        ]
        candidates = [r for r in candidates if pred(r)]
        return self.rng.choice(candidates) if candidates else None

    @staticmethod
    def insert(f: SampleFile, pos: int, rec: Rec) -> None:
        limit = len(f.recs) - (1 if f.recs and f.recs[-1].kind == "tail" else 0)
        f.recs.insert(max(0, min(pos, limit)), rec)

    def bump(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def fresh(self, like: Rec, f: SampleFile) -> str:
        """The text of a new event like `like` (a few seconds later), never written whole as a
        valid line."""
        assert like.event is not None
        ev = json.loads(json.dumps(like.event))
        ev["event_id"] = uuid4(self.rng)
        ev["ts"], _ = fmt_ts(like.ts_us + self.rng.randint(1, 30) * US, f.emitter.ts_style)
        return f.emitter.dumps(ev)

    def cut(self, text: str) -> bytes:
        """The start of `text` that a crash left: at least one character, never all of them."""
        return text[: self.rng.randint(1, len(text) - 1)].encode()

    def reasons(self, kind: str) -> None:
        variants = list(VARIANTS[kind])
        self.rng.shuffle(variants)
        n = self.count_for(self.base_events)
        boundaries = self.base_events >= 50  # valid lines at the limits, in larger spools
        if kind == "line_too_long":
            n = min(n, _LINE_TOO_LONG_MAX)
            variants = ["huge_log_min", "huge_log"]  # the exact boundary (MAX + 1 bytes) first
            # and a valid line of exactly MAX_LINE_BYTES bytes (the boundary, still valid)
            rec = self.pick() if boundaries else None
            if rec is not None and rec.event is not None:
                sized_line(rec.event, self.owner[id(rec)].emitter, MAX_LINE_BYTES)
                rec.damage = "boundary"
        if kind == "invalid_value":
            # a valid event_id of exactly MAX_EVENT_ID_CHARS characters
            rec = self.pick() if boundaries else None
            if rec is not None and rec.event is not None:
                eid = rec.event["event_id"]
                rec.event["event_id"] = (eid * (MAX_EVENT_ID_CHARS // len(eid) + 1))[
                    :MAX_EVENT_ID_CHARS
                ]
                rec.damage = "boundary"
        for i in range(n):
            # the next variant that applies to some event; when no untouched event is left,
            # a broken copy of an event that stays valid
            for j in range(len(variants)):
                variant = variants[(i + j) % len(variants)]

                def applies(r: Rec, v: str = variant) -> bool:
                    return variant_applies(v, r.event or {})

                rec, replace = self.pick(applies), True
                if rec is None:
                    rec, replace = self.pick_any(applies), False
                if rec is not None:
                    break
            if rec is None:
                break
            assert rec.event is not None
            f = self.owner[id(rec)]
            raw = corrupt(variant, rec.event, rec.ts_us, f.emitter, self.rng)
            bad = Rec("invalid", rec.write_us, raw=raw, reason=kind, plain=False, damage=kind)
            replace = replace and self.replaced < self.base_events // 2  # keep most events
            if replace and (self.rng.random() < 0.75 or kind == "line_too_long"):
                # the emitter wrote a broken line instead of the event
                f.recs[f.recs.index(rec)] = bad
                rec.kind = "gone"
                self.replaced += 1
            else:
                # a broken copy next to the valid event: quarantined although its id is known
                pos = f.recs.index(rec) + self.rng.choice((0, 1))
                self.insert(f, pos, bad)
            self.bump(kind)

    def nul_runs(self) -> None:
        n = max(3, self.count_for(self.base_events))
        order = ["truncated", "padding", "leading"]
        for i in range(n):
            variant = (
                order[i] if i < 3 else self.rng.choice(("truncated", "padding", "leading", "glued"))
            )
            nuls = b"\x00" * self.rng.choice((1, 7, 512, 1024, 4096, self.rng.randint(2, 4096)))
            rec = self.pick() if variant == "leading" else None
            if variant == "leading" and rec is None:
                variant = "padding"  # no untouched event left
            if rec is not None:
                rec.prefix = nuls  # NULs, then an intact event on the same line: valid
                self.bump("nul_run")
                continue
            f = self.rng.choice([f for f in self.files if f.events()])
            events = f.events()
            like = self.rng.choice(events)
            pos = f.recs.index(like) + 1
            if variant == "padding":
                rec = Rec("nul", like.write_us, raw=nuls, plain=False, damage="nul_run")
            else:
                raw = self.cut(self.fresh(like, f)) + nuls
                if variant == "glued":
                    raw += self.fresh(like, f).encode()
                rec = Rec("invalid", like.write_us, raw=raw, reason=Reason.INVALID_JSON.value,
                           plain=False, damage="nul_run")  # fmt: skip
            self.insert(f, pos, rec)
            self.bump("nul_run")

    def blanks(self) -> None:
        for _ in range(self.count_for(self.base_events)):
            f = self.rng.choice(self.files)
            pos = self.rng.randrange(len(f.recs) + 1)
            write_us = f.recs[max(0, pos - 1)].write_us
            raw = self.rng.choice((b"", b"", b" ", b"\t", b"   ", b" \t "))
            self.insert(f, pos, Rec("blank", write_us, raw=raw, plain=False, damage="blank"))
            self.bump("blank")

    def crlf(self) -> None:
        for f in self.rng.sample(self.files, min(len(self.files), self.count_for(len(self.files)))):
            f.crlf = True
            self.bump("crlf")

    def unterminated(self) -> None:
        candidates = [f for f in self.files if f.events()]
        n = min(len(candidates), self.count_for(len(self.files)))
        for f in self.rng.sample(candidates, n):
            like = f.events()[-1]
            text = self.fresh(like, f)
            roll = self.rng.random()
            if roll < 0.7:
                raw = self.cut(text)  # crash mid-line
            elif f.crlf and roll < 0.85:
                raw = text.encode() + b"\r"  # crash between \r and \n
            else:
                raw = text.encode()  # crash just before the newline
            write_us = max(r.write_us for r in f.recs) + self.rng.randint(1, 3) * US
            f.recs.append(Rec("tail", write_us, raw=raw, plain=False, damage="unterminated"))
            self.bump("unterminated")

    def duplicates(self) -> None:
        by_owner: dict[tuple[str, str], list[SampleFile]] = {}
        for f in self.files:
            by_owner.setdefault((f.host, f.user), []).append(f)
        for _ in range(self.count_for(self.base_events)):
            rec = self.pick() or self.pick_any()
            if rec is None:
                break
            f = self.owner[id(rec)]
            line = f.render(rec)
            assert rec.event is not None
            skewed = is_skewed(rec.ts_us, f.mtime_us, f.day)
            copies = 2 if self.rng.random() < 0.1 else 1
            for _ in range(copies):
                target, pos = f, f.recs.index(rec) + 1 + self.rng.randint(0, 5)
                if self.rng.random() < 0.4:
                    others = [
                        g
                        for g in by_owner[(f.host, f.user)]
                        if g is not f
                        and g.emitter == f.emitter
                        and g.recs
                        and min(r.write_us for r in g.recs) >= rec.write_us
                        and is_skewed(rec.ts_us, g.mtime_us, g.day) == skewed
                        and (not skewed or g.day == f.day)  # same event_date either way
                        and not near_mtime_boundary(rec.ts_us, g.mtime_us)
                        and not near_day_boundary(rec.ts_us, g.day)
                    ]
                    if others:
                        # re-sent at the start of a later session of the same emitter
                        target = self.rng.choice(others)
                        pos = self.rng.randint(0, min(2, len(target.recs)))
                limit = min(pos, len(target.recs))
                write_us = max(
                    [r.write_us for r in target.recs[:limit]] or [target.recs[0].write_us]
                )
                dup = Rec("event", min(write_us, target.mtime_us - US), rec.event, rec.ts_us,
                           raw=line, plain=False, damage="duplicate")  # fmt: skip
                self.insert(target, pos, dup)
                self.bump("duplicate")
