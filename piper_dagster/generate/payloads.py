"""Payloads of the artists' DCC tool and publish events."""

from __future__ import annotations

from typing import Any

from piper_dagster.contract.models import (
    PUBLISH_TYPES,
)
from piper_dagster.generate.artists import Artist
from piper_dagster.generate.draws import lognormal
from piper_dagster.generate.studio import (
    ASSET_PUBLISH_TYPES,
    ASSETS,
    LAUNCH_MEDIAN_MS,
    PUBLISH_ERRORS,
    PUBLISH_PROFILE,
    SCENE_EXT,
    SHOTS,
    TOOL_DCC,
    TOOL_ERRORS,
    TOOL_TIMING,
    publish_usd_path,
)


def _context_paths(artist: Artist, context: str, dcc: str) -> tuple[str, str]:
    """(work dir, stem) of a session's context (an asset or a shot)."""
    if context.startswith("sq"):
        seq, shot = context.split("_")
        return f"/groups/sandwich/shots/{seq}/{shot}/{artist.dept}/work/{artist.user}", context
    return f"/groups/sandwich/assets/{context}/{artist.dept}/work/{artist.user}", context


class ArtistPayloads:
    """The payloads of one artist's events, with the artist's version counters (files, publishes)."""

    def __init__(self, artist: Artist) -> None:
        self.a = artist
        self.version_counter: dict[str, int] = {}

    def _version(self, key: str) -> int:
        self.version_counter[key] = self.version_counter.get(key, self.a.rng.randint(1, 9)) + 1
        return self.version_counter[key]

    def build(self, event_type: str, dcc: str, context: str) -> dict[str, Any]:
        if event_type in PUBLISH_TYPES:
            return self._publish(event_type, context)
        return self._tool(event_type, dcc, context)

    def _publish(self, event_type: str, context: str) -> dict[str, Any]:
        a, rng = self.a, self.a.rng
        median, fail_rate, median_bytes = PUBLISH_PROFILE[event_type]
        failed = rng.random() < fail_rate
        duration = lognormal(rng, median, 0.8)
        if event_type in ASSET_PUBLISH_TYPES:
            asset = context if not context.startswith("sq") else rng.choice(ASSETS)
        else:
            asset = context if context.startswith("sq") else f"sq010_{rng.choice(SHOTS)}"
        payload: dict[str, Any] = {
            "status": "failure" if failed else "success",
            "duration_ms": int(duration * rng.uniform(0.05, 0.6) if failed else duration),
            "output_bytes": 0 if failed else int(lognormal(rng, median_bytes, 1.0)),
            "asset": asset,
            "department": a.dept,
        }
        if not failed:
            kind = event_type.split(".")[1]
            payload["usd_path"] = publish_usd_path(asset, kind, self._version(f"{asset}:{kind}"))
        self._error(payload, failed, PUBLISH_ERRORS)
        return payload

    def _tool(self, event_type: str, dcc: str, context: str) -> dict[str, Any]:
        a, rng = self.a, self.a.rng
        workdir, stem = _context_paths(a, context, dcc)
        median, sigma, fail_rate = TOOL_TIMING[event_type]
        if event_type == "dcc.launch":
            median = LAUNCH_MEDIAN_MS.get(dcc, median)
        failed = rng.random() < fail_rate
        duration = lognormal(rng, median, sigma)
        if failed:
            duration *= rng.uniform(0.05, 0.6)
        tool_dcc = TOOL_DCC.get(event_type, dcc)
        duration_ms: int | float = int(duration)
        if a.emitter.version != "1.0" and rng.random() < 0.2:
            duration_ms = float(int(duration))  # a whole float is a valid integer (§4)
        payload: dict[str, Any] = {
            "status": "failure" if failed else "success",
            "duration_ms": duration_ms,
            "dcc": tool_dcc,
            "dcc_version": a.versions[tool_dcc],
        }
        ext = SCENE_EXT.get(dcc, "ma")
        if event_type in ("file.open", "file.create"):
            version = self._version(f"{stem}:{dcc}")
            payload["path"] = f"{workdir}/{stem}_{a.dept}_v{version:03d}.{ext}"
        elif event_type == "playblast.create":
            payload["path"] = f"{workdir}/playblasts/{stem}_{a.dept}_v{rng.randint(1, 40):03d}.mov"
        elif event_type == "texture.export.substance":
            payload["path"] = f"{workdir}/textures/{stem}_baseColor.1001.exr"
        elif event_type == "texture.convert.tex":
            payload["path"] = f"{workdir}/textures/{stem}_baseColor.{rng.randint(1001, 1012)}.tex"
        elif event_type == "build.houdini.component":
            payload["path"] = f"{workdir}/components/{stem}_component.usd"
        elif event_type == "shot.setup" and stem.startswith("sq"):
            payload["path"] = workdir
        self._error(payload, failed, TOOL_ERRORS[event_type])
        if a.emitter.version == "1.2":
            payload["x_mem_peak_mb"] = rng.randint(800, 48_000)
        return payload

    def _error(self, payload: dict[str, Any], failed: bool, errors: tuple[str, ...]) -> None:
        """A failure's message; on success an explicit null from emitters that write one."""
        if failed:
            payload["error"] = self.a.rng.choice(errors)
        elif self.a.emitter.null_error:
            payload["error"] = None
