"""Clean event lines of `generate_bulk`, from string templates (no pydantic, no json.dumps)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from piper_dagster.contract.models import (
    PUBLISH_TYPES,
    TOOL_TYPES,
)
from piper_dagster.generate.clock import bulk_ts
from piper_dagster.generate.farm import farm_load
from piper_dagster.generate.studio import (
    ASSET_PUBLISH_TYPES,
    ASSETS,
    DCC_VERSIONS,
    FARM_HOST,
    FARM_USER,
    FRAME_COUNTS,
    PUBLISH_ERRORS,
    PUBLISH_PROFILE,
    SCENE_EXT,
    SEQUENCES,
    SHOTS,
    STORAGE_HOST,
    STORAGE_ROOTS,
    STORAGE_USER,
    TOOL_DCC,
    TOOL_ERRORS,
    TOOL_TIMING,
    publish_usd_path,
    random_shot,
)

# Artists' event mix of generate_bulk, in percent.
_BULK_ARTIST_MIX: dict[str, int] = {
    "file.open": 22, "dcc.launch": 7, "file.create": 7, "playblast.create": 14, "shot.setup": 6,
    "build.houdini.component": 6, "texture.export.substance": 7, "texture.convert.tex": 15,
    "publish.asset.usd": 5, "publish.anim.usd": 5, "publish.camera.usd": 2,
    "publish.customanim.usd": 2, "publish.previs_asset.usd": 2,
}  # fmt: skip
_BULK_POOL: tuple[str, ...] = tuple(t for t, w in _BULK_ARTIST_MIX.items() for _ in range(w))
assert len(_BULK_POOL) == 100 and set(_BULK_ARTIST_MIX) == {*PUBLISH_TYPES, *TOOL_TYPES}
_UUID_VARIANT = "89ab"


def _event_id(bits: Callable[[int], int]) -> str:
    """A version-4 UUID from 130 random bits (faster than `uuid.UUID`)."""
    h = f"{bits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[bits(2)]}{h[17:20]}-{h[20:]}"


def _line(event_id: str, event_type: str, ts: str, head: str, payload: str) -> str:
    """One event line: `head` holds host, user (and session) up to the payload's brace."""
    return (
        f'{{"schema_version":"1.0","event_id":"{event_id}","event_type":"{event_type}",'
        f'"ts":"{ts}{head}{payload}}}\n'
    )


def _head(host: str, user: str, session_id: str | None = None) -> str:
    """What stands between an event's `ts` value and its payload's fields."""
    session = f',"session_id":"{session_id}"' if session_id else ""
    return f'","host":"{host}","user":"{user}"{session},"payload":{{'


def _write_events(
    rng: random.Random,
    out: list[str],
    n: int,
    day_iso: str,
    window: tuple[float, float],
    head: str,
    build: Callable[[int, float], tuple[str, str]],
    counts: dict[str, int],
) -> float:
    """Append `n` event lines to `out`, one in each of `n` even slots of `window` (start, length,
    in seconds of the day): `build(j, t)` gives the j-th event's type and payload. Returns the
    last event's time."""
    start, span = window
    step = span / n
    t = start
    for j in range(n):
        t = start + (j + rng.random()) * step
        eid = _event_id(rng.getrandbits)
        event_type, payload = build(j, t)
        counts[event_type] += 1
        out.append(_line(eid, event_type, bulk_ts(day_iso, t), head, payload))
    return t


def bulk_artist(
    rng: random.Random,
    out: list[str],
    n: int,
    day_iso: str,
    window: tuple[float, float],
    artist: tuple[str, str, str, str, str],
    counts: dict[str, int],
) -> float:
    host, user, dept, dcc, sid = artist
    rnd, gauss = rng.random, rng.gauss
    exp = math.exp
    head = _head(host, user, sid)
    versions = {d: rng.choice(v) for d, v in DCC_VERSIONS.items()}
    ctx = random_shot(rng)
    seq, shot = ctx.split("_")
    work = f"/groups/sandwich/shots/{seq}/{shot}/{dept}/work"
    tool_tail: dict[str, str] = {}
    for event_type in TOOL_TYPES:
        tool_dcc = TOOL_DCC.get(event_type, dcc)
        tool_tail[event_type] = f',"dcc":"{tool_dcc}","dcc_version":"{versions[tool_dcc]}"'
        if event_type == "file.open":
            path = f"{work}/{ctx}_{dept}_v{rng.randint(1, 60):03d}.{SCENE_EXT[dcc]}"
            tool_tail[event_type] += f',"path":"{path}"'
    assets = [rng.choice(ASSETS) for _ in range(3)]
    shots = [ctx] + [random_shot(rng) for _ in range(2)]
    targets: dict[str, list[tuple[str, str]]] = {}
    for event_type in PUBLISH_TYPES:
        kind = event_type.split(".")[1]
        pool = assets if event_type in ASSET_PUBLISH_TYPES else shots
        targets[event_type] = [(x, publish_usd_path(x, kind, rng.randint(2, 40))) for x in pool]

    def build(j: int, t: float) -> tuple[str, str]:
        event_type = _BULK_POOL[int(rnd() * 100)]
        if event_type in PUBLISH_PROFILE:
            median, fail_rate, median_bytes = PUBLISH_PROFILE[event_type]
            duration = int(median * exp(0.8 * gauss(0.0, 1.0)))
            choices = targets[event_type]
            target, usd = choices[int(rnd() * len(choices))]
            if rnd() < fail_rate:
                error = PUBLISH_ERRORS[int(rnd() * len(PUBLISH_ERRORS))]
                payload = (
                    f'"status":"failure","duration_ms":{duration // 4},"output_bytes":0,'
                    f'"asset":"{target}","department":"{dept}","error":"{error}"}}'
                )
            else:
                size = int(median_bytes * exp(gauss(0.0, 1.0)))
                payload = (
                    f'"status":"success","duration_ms":{duration},"output_bytes":{size},'
                    f'"asset":"{target}","department":"{dept}","usd_path":"{usd}","error":null}}'
                )
        else:
            median, sigma, fail_rate = TOOL_TIMING[event_type]
            duration = int(median * exp(sigma * gauss(0.0, 1.0)))
            if rnd() < fail_rate:
                errors = TOOL_ERRORS[event_type]
                error = errors[int(rnd() * len(errors))]
                payload = (
                    f'"status":"failure","duration_ms":{duration // 4}{tool_tail[event_type]},'
                    f'"error":"{error}"}}'
                )
            else:
                payload = f'"status":"success","duration_ms":{duration}{tool_tail[event_type]}}}'
        return event_type, payload

    w0, w1 = window
    return _write_events(rng, out, n, day_iso, (w0, w1 - w0), head, build, counts)


def bulk_farm(
    rng: random.Random, out: list[str], n: int, day_iso: str, job_no: int, counts: dict[str, int]
) -> float:
    rnd, gauss = rng.random, rng.gauss
    head = _head(FARM_HOST, FARM_USER)

    def build(j: int, t: float) -> tuple[str, str]:
        nonlocal job_no
        roll = rnd()
        if roll < 0.7:
            event_type = "tractor.farm.snapshot"
            hour = t / 3600
            load = min(1.0, max(0.05, farm_load(hour) + gauss(0, 0.05)))
            active = min(400, int(400 * load))
            queued = int(8000 * math.exp(0.5 * gauss(0, 1))) if load > 0.85 else int(rnd() * 2000)
            payload = (
                f'"total_blades":400,"active_blades":{active},"errored_jobs":{int(rnd() * 8)},'
                f'"active_jobs":{int(15 + 60 * load)},"queued_tasks":{queued}}}'
            )
        elif roll < 0.85:
            event_type = "tractor.job.spool"
            job_no += 1
            frames = FRAME_COUNTS[int(rnd() * len(FRAME_COUNTS))]
            shot = f"{SEQUENCES[int(rnd() * 6)]}_{SHOTS[int(rnd() * 20)]}"
            status = "rejected" if rnd() < 0.03 else "spooled"
            payload = (
                f'"job_id":"J{job_no}","status":"{status}","task_count":{frames},'
                f'"title":"{shot} beauty v{int(rnd() * 30) + 1:03d}",'
                f'"priority":{(50, 100, 100, 200)[int(rnd() * 4)]}}}'
            )
        else:
            event_type = "render.stats.summary"
            frames = FRAME_COUNTS[int(rnd() * len(FRAME_COUNTS))]
            failed = rnd() < 0.08
            frames_failed = 1 + int(rnd() * frames / 4) if failed else 0
            cpu = frames * 1300.0 * math.exp(0.7 * gauss(0, 1))
            wall = 12_600.0 * math.exp(0.6 * gauss(0, 1))
            payload = (
                f'"job_id":"J{job_no - int(rnd() * 50)}",'
                f'"status":"{"failure" if failed else "success"}","frames_total":{frames},'
                f'"frames_failed":{frames_failed},"cpu_seconds":{cpu:.1f},'
                f'"wall_seconds":{wall:.1f},"peak_rss_bytes":{int(2.4e10 * (0.5 + rnd()))}}}'
            )
        return event_type, payload

    return _write_events(rng, out, n, day_iso, (60.0, 86_000.0), head, build, counts)


def bulk_storage(
    rng: random.Random, out: list[str], n: int, day_iso: str, counts: dict[str, int]
) -> float:
    head = _head(STORAGE_HOST, STORAGE_USER)
    cycle: list[tuple[str, str | None]] = []
    base: dict[tuple[str, str], tuple[float, float]] = {}
    for root, pool in STORAGE_ROOTS.items():
        for bucket in pool[: rng.randint(4, 6)]:
            size = 40e12 * math.exp(rng.gauss(0, 1))
            base[(root, bucket)] = (size, size / 8e6)
            cycle.append((root, bucket))
        cycle.append((root, None))
    step = 80_000.0 / n

    def build(j: int, t: float) -> tuple[str, str]:
        growth = 1 + 0.002 * (j // len(cycle))
        root, bucket = cycle[j % len(cycle)]
        if bucket is None:
            event_type = "storage.scan.summary"
            sizes = [
                (int(s * growth), int(c * growth)) for (r, _), (s, c) in base.items() if r == root
            ]
            payload = (
                f'"root":"{root}","total_bytes":{sum(s for s, _ in sizes)},'
                f'"file_count":{sum(c for _, c in sizes)},"scan_duration_ms":{int(step * 1000)}}}'
            )
        else:
            event_type = "storage.scan.bucket"
            size, count = base[(root, bucket)]
            payload = (
                f'"root":"{root}","bucket":"{bucket}","bytes":{int(size * growth)},'
                f'"file_count":{int(count * growth)}}}'
            )
        return event_type, payload

    return _write_events(rng, out, n, day_iso, (3600.0, 80_000.0), head, build, counts)
