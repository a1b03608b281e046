"""Artists' DCC sessions and their working days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from piper_dagster.generate.artists import Artist
from piper_dagster.generate.clock import HOUR_US, MIN_US, US, day_start_us
from piper_dagster.generate.draws import lognormal, weighted
from piper_dagster.generate.emitter import envelope
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.payloads import ArtistPayloads
from piper_dagster.generate.records import Rec, SampleFile, SampleSpool
from piper_dagster.generate.studio import PROFILES, SESSION_PREFIX


class ArtistWriter:
    """Builds the sessions (and their spool files) of one artist."""

    def __init__(self, spool: SampleSpool, artist: Artist) -> None:
        self.spool = spool
        self.a = artist
        self.payloads = ArtistPayloads(artist)

    def _session_id(self, dcc: str, day: date) -> str:
        rng = self.a.rng
        while True:
            sid = f"{SESSION_PREFIX[dcc]}-{rng.getrandbits(16):04x}"
            if not self.spool.has(self.a.host, self.a.user, day, sid):
                return sid

    def session(
        self,
        start_us: int,
        n_events: int,
        file_day: date,
        gap_mean_us: float,
        flush_until_us: int | None = None,
    ) -> SampleFile:
        """One DCC session: launch, open/create, then work; its events go to one file.

        Events written before `flush_until_us` (an emitter that opens its file lazily) are
        written at that instant.
        """
        a, rng = self.a, self.a.rng
        templates = PROFILES[a.dept]
        dcc, _, actions = rng.choices(templates, weights=[t[1] for t in templates])[0]
        sid = self._session_id(dcc, file_day)
        f = self.spool.file(a.host, a.user, file_day, sid, a.emitter)
        context = rng.choice(a.contexts)
        t = start_us
        for i in range(max(n_events, 1)):
            if i == 0:
                event_type = "dcc.launch"
            elif i == 1:
                event_type = "file.open" if rng.random() < 0.8 else "file.create"
            else:
                event_type = weighted(rng, actions)
                if rng.random() < 0.1:
                    context = rng.choice(a.contexts)
            payload = self.payloads.build(event_type, dcc, context)
            t += int(payload["duration_ms"]) * 1000
            self.add(f, event_type, t, payload, sid, flush_until_us)
            t += int(rng.expovariate(1.0 / gap_mean_us)) + 5 * US
        return f

    def add(
        self,
        f: SampleFile,
        event_type: str,
        true_us: int,
        payload: dict[str, Any],
        session_id: str | None,
        flush_until_us: int | None = None,
        late: bool = False,
        write_us: int | None = None,
    ) -> None:
        a = self.a
        event, ts_us = envelope(
            a.emitter,
            a.rng,
            event_type,
            true_us + a.offset_us,
            a.host,
            a.user,
            payload,
            session_id,
        )
        if write_us is None:
            write_us = true_us + a.rng.randint(0, 2 * US)
            if flush_until_us is not None and write_us < flush_until_us:
                write_us = flush_until_us
        f.recs.append(Rec("event", write_us, event, ts_us, late=late))


def gen_artist(spool: SampleSpool, artist: Artist, options: GenerateOptions) -> None:
    writer = ArtistWriter(spool, artist)
    rng = artist.rng
    per_day = options.events_per_artist_day
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        weekend = day.weekday() >= 5
        if weekend:
            works = rng.random() < 0.25
            target = per_day * 0.6 * lognormal(rng, 1.0, 0.25)
        else:
            works = rng.random() < 0.97
            target = per_day * lognormal(rng, 1.0, 0.2)
        n = round(target)
        if not works or n < 2:
            continue
        k = 1 if n < 12 else rng.choice((1, 2, 2, 3))
        parts = [n // k + (1 if j < n % k else 0) for j in range(k)]
        workday_us = 9 * HOUR_US
        t = day_start_us(day) + int((7.5 + rng.uniform(0.0, 2.0)) * HOUR_US)
        for part in parts:
            span = workday_us * part / n
            writer.session(t, part, day, gap_mean_us=span / max(part, 1))
            t += int(span) + int(rng.uniform(0.2, 1.0) * HOUR_US)
        if artist.night_owl and not weekend and rng.random() < 0.5:
            start_us = day_start_us(day) + int(rng.uniform(21.0, 23.5) * HOUR_US)
            writer.session(start_us, rng.randint(4, 12), day, gap_mean_us=6 * MIN_US)
