"""Many clean events, fast (benchmarks): `generate_bulk`."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from piper_dagster.contract.models import (
    EVENT_TYPES,
)
from piper_dagster.generate.bulk_events import bulk_artist, bulk_farm, bulk_storage
from piper_dagster.generate.clock import US, closing_second, day_start_us
from piper_dagster.generate.records import spool_relpath
from piper_dagster.generate.studio import (
    DEPARTMENTS,
    FARM_HOST,
    FARM_USER,
    PROFILES,
    SESSION_PREFIX,
    STORAGE_HOST,
    STORAGE_USER,
    user_names,
)
from piper_dagster.generate.summary import GenerateSummary
from piper_dagster.generate.writer import write_file


def generate_bulk(
    root: Path, *, events: int, files: int, start: date, seed: int = 0, days: int | None = None
) -> GenerateSummary:
    """Write `events` clean, valid events in `files` files (benchmarks): no damage, no skew.

    Files are spread over `days` days (default: about 40 files a day, at most 30 days) and,
    per day, over the farm
    poller, the storage auditor and artists' workstations (two session files per artist).
    Lines are built from string templates; event types follow a realistic mix.
    """
    if files < 1 or events < files:
        raise ValueError("need files >= 1 and events >= files")
    root = Path(root)
    rng = random.Random(f"{seed}:bulk")
    days = days or max(1, min(30, files // 40))
    per_day = -(-files // days)
    roles = ["farm", "storage"] if per_day >= 8 else ["farm"] if per_day >= 4 else []
    names = user_names(per_day, seed)
    counts = dict.fromkeys(EVENT_TYPES, 0)
    summary = GenerateSummary.empty()
    # Events per file: one each, the rest by weight; the farm poller of a day writes about a
    # quarter of its events (a snapshot every few minutes), like generate_spool's spools.
    farm_weight = max(1.0, 0.3 * (per_day - len(roles)))
    weights = [farm_weight if i // days == 0 and roles else 1.0 for i in range(files)]
    share = [(events - files) * w / sum(weights) for w in weights]
    sizes = [1 + int(x) for x in share]
    for i in sorted(range(files), key=lambda i: int(share[i]) - share[i])[: events - sum(sizes)]:
        sizes[i] += 1
    job_no = 8_800_000
    for i in range(files):
        day = start + timedelta(days=i % days)
        day_iso = day.isoformat()
        slot = i // days
        n = sizes[i]
        out: list[str] = []
        if slot < len(roles) and roles[slot] == "farm":
            host, user, name = FARM_HOST, FARM_USER, "tractor-poller"
            last = bulk_farm(rng, out, n, day_iso, job_no, counts)
            job_no += n
        elif slot < len(roles):
            host, user, name = STORAGE_HOST, STORAGE_USER, "storage-audit"
            last = bulk_storage(rng, out, n, day_iso, counts)
        else:
            index = (slot - len(roles)) // 2
            session = (slot - len(roles)) % 2
            dept = DEPARTMENTS[index % len(DEPARTMENTS)]
            dcc = PROFILES[dept][0][0]
            host, user = f"ws{index + 1:03d}", names[index]
            # a bijection of i on 16 bits: distinct session ids for a host and day
            name = f"{SESSION_PREFIX[dcc]}-{(i * 40503) & 0xFFFF:04x}"
            window = (8 * 3600.0, 13 * 3600.0) if session == 0 else (14 * 3600.0, 19.5 * 3600.0)
            artist = (host, user, dept, dcc, name)
            last = bulk_artist(rng, out, n, day_iso, window, artist, counts)
        mtime_ns = closing_second(day_start_us(day) // US + int(last), rng) * 1_000_000_000
        write_file(
            root, spool_relpath(host, user, day, name), "".join(out).encode(), mtime_ns, summary
        )
    summary.lines = summary.valid_events = events
    summary.valid_by_type = {t: c for t, c in counts.items() if c}
    return summary
