"""The render farm: the Tractor poller's snapshots, spooled jobs and their render stats."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from piper_dagster.generate.clock import DAY_US, HOUR_US, MIN_US, US, date_of, day_start_us
from piper_dagster.generate.draws import lognormal
from piper_dagster.generate.emitter import Emitter
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.records import SampleSpool
from piper_dagster.generate.studio import (
    FARM_HOST,
    FARM_USER,
    FRAME_COUNTS,
    RENDER_PASSES,
    random_shot,
)


def farm_load(hour: float) -> float:
    """The farm's typical load at `hour` (UTC): renders run overnight."""
    return 0.9 if hour >= 19 or hour < 8 else 0.62


def gen_farm(spool: SampleSpool, options: GenerateOptions, n_artists: int) -> None:
    rng = random.Random(f"{options.seed}:farm")
    emitter = Emitter(ts_style="ms_z", session_last=True, null_error=False)
    job_no = 8_800_000 + rng.randint(0, 99_999)
    errored = rng.randint(0, 4)
    end_us = day_start_us(options.start + timedelta(days=options.days))
    renders: list[tuple[int, dict[str, Any]]] = []
    step_us = options.snapshot_minutes * MIN_US
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        day_us = day_start_us(day)
        weekend = day.weekday() >= 5
        poller = spool.file(FARM_HOST, FARM_USER, day, "tractor-poller", emitter)
        jobs = spool.file(FARM_HOST, FARM_USER, day, "tractor-jobs", emitter)
        total = 384 if rng.random() < 0.2 else 400
        for slot_us in range(0, DAY_US, step_us):
            hour = slot_us / HOUR_US
            base = farm_load(hour) * (0.7 if weekend else 1.0)
            load = min(1.0, max(0.05, base + rng.gauss(0, 0.05)))
            active = min(total, round(total * load))
            errored = min(15, max(0, errored + rng.choice((-1, 0, 0, 0, 1))))
            payload = {
                "total_blades": total,
                "active_blades": active,
                "errored_jobs": errored,
                "active_jobs": int(15 + 60 * load + rng.randint(-5, 5)),
                "queued_tasks": int(
                    lognormal(rng, 8000, 0.5) if load > 0.85 else rng.randint(0, 2000)
                ),
            }
            t = day_us + slot_us + rng.randint(200_000, 3_000_000)
            poller.emit(rng, "tractor.farm.snapshot", t, payload, 500_000)
        n_jobs = max(
            1, round(max(1, n_artists) * (0.3 if weekend else 1.5) * rng.uniform(0.7, 1.3))
        )
        spool_times = sorted(
            day_us + int(min(23.9, max(8.0, rng.gauss(16.5, 2.5))) * HOUR_US) for _ in range(n_jobs)
        )
        for spool_us in spool_times:
            job_no += rng.randint(1, 40)
            job_id = f"J{job_no}"
            frames = rng.choice(FRAME_COUNTS)
            layers = rng.choice((1, 1, 2, 3))
            shot = random_shot(rng)
            rejected = rng.random() < 0.03
            payload = {
                "job_id": job_id,
                "status": "rejected" if rejected else "spooled",
                "task_count": frames * layers,
                "title": f"{shot} {rng.choice(RENDER_PASSES)} v{rng.randint(1, 30):03d}",
                "priority": rng.choice((50, 100, 100, 100, 200, 500)),
            }
            jobs.emit(rng, "tractor.job.spool", spool_us, payload, 900_000)
            if rejected:
                continue
            wall = min(30 * 3600.0, lognormal(rng, 3.5 * 3600, 0.6))
            frames_total = frames * layers
            failed = rng.random() < 0.08
            if failed:
                frames_failed = rng.randint(1, max(1, frames_total // rng.choice((1, 4, 10))))
            else:
                frames_failed = rng.randint(1, 3) if rng.random() < 0.1 else 0
            cpu = frames_total * lognormal(rng, 1300.0, 0.7) * (0.5 if failed else 1.0)
            summary = {
                "job_id": job_id,
                "status": "failure" if failed else "success",
                "frames_total": frames_total,
                "frames_failed": min(frames_failed, frames_total),
                "cpu_seconds": round(cpu, 1),
                "wall_seconds": round(wall, 1),
                "peak_rss_bytes": int(lognormal(rng, 24 * 2**30, 0.5)),
            }
            finish_us = spool_us + int(wall * US)
            if finish_us < end_us - MIN_US:
                renders.append((finish_us, summary))
    for finish_us, summary in renders:
        day = date_of(finish_us)
        jobs = spool.file(FARM_HOST, FARM_USER, day, "tractor-jobs", emitter)
        jobs.emit(rng, "render.stats.summary", finish_us, summary, 900_000)
    for f in spool.files.values():
        if f.host == FARM_HOST:
            f.recs.sort(key=lambda r: r.write_us)
