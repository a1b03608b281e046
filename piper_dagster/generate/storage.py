"""The storage auditor's nightly scans of the studio's roots."""

from __future__ import annotations

import random
from datetime import timedelta

from piper_dagster.generate.clock import HOUR_US, MIN_US, US, day_start_us
from piper_dagster.generate.draws import lognormal
from piper_dagster.generate.emitter import Emitter
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.records import SampleSpool
from piper_dagster.generate.studio import STORAGE_HOST, STORAGE_ROOTS, STORAGE_USER


def gen_storage(spool: SampleSpool, options: GenerateOptions) -> None:
    rng = random.Random(f"{options.seed}:storage")
    emitter = Emitter(ts_style="s_z", spaced=True)
    state: dict[tuple[str, str], list[float]] = {}
    buckets = {root: rng.sample(pool, rng.randint(4, 6)) for root, pool in STORAGE_ROOTS.items()}
    for root, names in buckets.items():
        for bucket in names:
            size = lognormal(rng, 40e12, 1.0)
            state[(root, bucket)] = [size, size / lognormal(rng, 8e6, 0.8)]
    for d in range(options.days):
        day = options.start + timedelta(days=d)
        f = spool.file(STORAGE_HOST, STORAGE_USER, day, "storage-audit", emitter)
        t = day_start_us(day) + int(rng.uniform(1.5, 2.5) * HOUR_US)
        for root, names in buckets.items():
            root_start = t
            total_bytes = total_files = 0
            for bucket in names:
                size, count = state[(root, bucket)]
                if d > 0:
                    growth = rng.uniform(0.001, 0.03 if "render" in bucket else 0.012)
                    size *= 1 + growth
                    count *= 1 + growth * rng.uniform(0.5, 1.2)
                    state[(root, bucket)] = [size, count]
                t += int(lognormal(rng, 6 * MIN_US, 0.6))
                payload = {
                    "root": root,
                    "bucket": bucket,
                    "bytes": int(size),
                    "file_count": int(count),
                }
                total_bytes += int(size)
                total_files += int(count)
                event_id = f"scan:{day.isoformat()}:{root}:{bucket}"
                f.emit(rng, "storage.scan.bucket", t, payload, 200_000, event_id=event_id)
            t += int(rng.uniform(2, 20) * US)
            payload = {
                "root": root,
                "total_bytes": total_bytes,
                "file_count": total_files,
                "scan_duration_ms": (t - root_start) // 1000,
            }
            f.emit(
                rng,
                "storage.scan.summary",
                t,
                payload,
                200_000,
                event_id=f"scan:{day.isoformat()}:{root}",
            )
