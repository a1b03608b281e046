"""The artists: their workstations, users, departments, emitters and clocks."""

from __future__ import annotations

import random
from dataclasses import dataclass

from piper_dagster.generate.clock import US
from piper_dagster.generate.emitter import Emitter
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.studio import (
    ASSETS,
    DCC_VERSIONS,
    DEPARTMENTS,
    SHOT_DEPTS,
    random_shot,
    user_names,
)


@dataclass
class Artist:
    index: int
    host: str
    user: str
    dept: str
    emitter: Emitter
    rng: random.Random
    offset_us: int  # clock skew of the host (0 if its clock is right)
    contexts: list[str]
    versions: dict[str, str]
    night_owl: bool


def artist_emitter(rng: random.Random) -> Emitter:
    version = rng.choices(("1.0", "1.1", "1.2"), weights=(7, 2, 1))[0]
    return Emitter(
        version=version,
        ts_style=rng.choices(
            ("ms_z", "us_utc", "s_paris", "ms_ny", "ms_lower"), weights=(14, 2, 2, 1, 1)
        )[0],
        spaced=rng.random() < 0.2,
        ascii=rng.random() < 0.5,
        show=rng.random() < 0.3,
        session_last=rng.random() < 0.5,
        null_error=rng.random() < 0.6,
        null_session=rng.random() < 0.15,
    )


def make_artists(options: GenerateOptions) -> list[Artist]:
    names = user_names(options.artists, options.seed)
    skew_rng = random.Random(f"{options.seed}:skew")
    skewed = set(skew_rng.sample(range(options.artists), options.skewed_hosts))
    offset_us = int(options.skew_offset.total_seconds() * US)
    artists = []
    for i in range(options.artists):
        rng = random.Random(f"{options.seed}:artist:{i}")
        dept = DEPARTMENTS[i % len(DEPARTMENTS)]
        if dept in SHOT_DEPTS:
            contexts = [random_shot(rng) for _ in range(3)]
        else:
            contexts = rng.sample(ASSETS, 3)
        versions = {dcc: rng.choice(v) for dcc, v in DCC_VERSIONS.items()}
        artists.append(
            Artist(
                index=i,
                host=f"ws{i + 1:03d}",
                user=names[i],
                dept=dept,
                emitter=artist_emitter(rng),
                rng=rng,
                offset_us=offset_us if i in skewed else 0,
                contexts=contexts,
                versions=versions,
                night_owl=rng.random() < 0.1,
            )
        )
    return artists
