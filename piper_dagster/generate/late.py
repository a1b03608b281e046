"""`late` damage: sessions whose file opens after midnight, a laptop syncing days later."""

from __future__ import annotations

import random
from datetime import timedelta

from piper_dagster.generate.artists import Artist
from piper_dagster.generate.clock import HOUR_US, MIN_US, US, day_start_us
from piper_dagster.generate.draws import weighted
from piper_dagster.generate.emitter import Emitter
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.records import SampleSpool
from piper_dagster.generate.sessions import ArtistWriter
from piper_dagster.generate.studio import PROFILES


def gen_late(
    spool: SampleSpool,
    artists: list[Artist],
    options: GenerateOptions,
    rng: random.Random,
    target: int,
) -> None:
    """`late` damage: sessions whose file opens after midnight, and a laptop syncing days later."""
    days = [options.start + timedelta(days=d) for d in range(options.days)]
    produced = 0
    candidates = [a for a in artists if a.offset_us == 0] or artists
    for _ in range(200):
        if produced and produced >= 0.7 * target:
            break
        artist = rng.choice(candidates)
        day = rng.choice(days)
        midnight = day_start_us(day)
        writer = ArtistWriter(spool, artist)
        start_us = midnight - int(rng.uniform(15.0, 55.0) * MIN_US)
        flush_us = midnight + rng.randint(5, 60) * US
        f = writer.session(start_us, rng.randint(8, 16), day, 4 * MIN_US, flush_until_us=flush_us)
        for r in f.recs:
            r.late = r.ts_us < midnight
            produced += r.late
    # A laptop used offline (on a train, at home) syncs its spool days later: the file opened
    # at the sync holds events of the day before (not skewed) and older ones (skewed, §6).
    artist = rng.choice(artists)
    laptop = Artist(
        index=artist.index,
        host=f"lt{artist.index + 1:03d}",
        user=artist.user,
        dept=artist.dept,
        emitter=Emitter(ts_style="ms_z"),
        rng=random.Random(f"{options.seed}:laptop"),
        offset_us=0,
        contexts=artist.contexts,
        versions=artist.versions,
        night_owl=False,
    )
    writer = ArtistWriter(spool, laptop)
    day = rng.choice(days)
    sync_us = day_start_us(day) + int(rng.uniform(8.0, 9.5) * HOUR_US)
    f = spool.file(laptop.host, laptop.user, day, f"sync-{rng.getrandbits(16):04x}", laptop.emitter)
    n = max(2, round(0.3 * target))
    n_old = max(1, n // 4)
    templates = PROFILES[laptop.dept]
    dcc = templates[0][0]
    times = sorted(
        [day_start_us(day - timedelta(days=rng.randint(2, 10))) for _ in range(n_old)]
        + [day_start_us(day - timedelta(days=1))] * (n - n_old)
    )
    for i, day_start in enumerate(times):
        t = day_start + int(rng.uniform(12.0, 22.0) * HOUR_US)
        event_type = "dcc.launch" if i == 0 else weighted(rng, templates[0][2])
        payload = writer.payloads.build(event_type, dcc, rng.choice(laptop.contexts))
        writer.add(f, event_type, t, payload, None, late=True, write_us=sync_us + i * 1000)
    f.recs.sort(key=lambda r: r.write_us)
