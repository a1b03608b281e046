"""The studio's vocabulary: service hosts, people, assets, shots, DCCs, departments' work
profiles, timings and error messages."""

from __future__ import annotations

import random

FARM_HOST, FARM_USER = "tractor01", "svc_tractor"
STORAGE_HOST, STORAGE_USER = "stor01", "svc_storage"

_FIRST_INITIALS = "abcdefghijklmnoprstvw"
_LAST_NAMES = (
    "doe", "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
    "leroy", "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand",
    "roux", "vincent", "fournier", "morel", "girard", "andre", "mercier", "dupont", "lambert",
    "bonnet", "francois", "martinez", "nguyen", "kim", "singh", "okafor", "silva", "rossi",
    "muller", "schmidt", "tanaka", "novak",
)  # fmt: skip
ASSETS = (
    "chr_bun", "chr_patty", "chr_lettuce", "chr_tomato", "chr_cheese", "chr_pickle",
    "prp_knife", "prp_plate", "prp_toothpick", "prp_ketchup", "env_kitchen", "env_counter",
    "env_fridge", "veh_foodtruck",
)  # fmt: skip
SEQUENCES = ("sq010", "sq020", "sq030", "sq040", "sq050", "sq060")
SHOTS = tuple(f"sh{n:04d}" for n in range(10, 210, 10))
DCC_VERSIONS = {
    "maya": ("2025.3", "2025.2", "2024.2"),
    "houdini": ("20.5.410", "20.5.332", "20.0.751"),
    "nuke": ("15.1v3", "15.0v5"),
    "katana": ("7.0v4", "6.5v3"),
    "substance_painter": ("10.1.2", "10.0.1"),
    "txmake": ("26.2", "26.1"),
}
SESSION_PREFIX = {
    "maya": "maya",
    "houdini": "hou",
    "nuke": "nuke",
    "katana": "ktn",
    "substance_painter": "spp",
}
SCENE_EXT = {
    "maya": "ma",
    "houdini": "hip",
    "nuke": "nk",
    "katana": "katana",
    "substance_painter": "spp",
}
# department -> session templates: (dcc, weight, {action event_type: weight})
PROFILES: dict[str, tuple[tuple[str, float, dict[str, float]], ...]] = {
    "anim": (
        ("maya", 1.0, {"file.open": 8, "playblast.create": 18, "publish.anim.usd": 7,
                       "publish.customanim.usd": 2, "shot.setup": 3, "file.create": 2}),
    ),
    "layout": (
        ("maya", 1.0, {"shot.setup": 10, "file.open": 8, "playblast.create": 10,
                       "publish.camera.usd": 7, "publish.anim.usd": 2, "file.create": 3}),
    ),
    "lookdev": (
        ("substance_painter", 0.5, {"file.open": 5, "texture.export.substance": 25,
                                    "texture.convert.tex": 15, "file.create": 2}),
        ("maya", 0.3, {"file.open": 6, "publish.asset.usd": 6, "texture.convert.tex": 8,
                       "playblast.create": 2}),
        ("katana", 0.2, {"file.open": 8, "file.create": 3, "publish.asset.usd": 3}),
    ),
    "fx": (
        ("houdini", 1.0, {"file.open": 6, "build.houdini.component": 12, "file.create": 4,
                          "publish.customanim.usd": 3, "playblast.create": 3}),
    ),
    "modeling": (
        ("maya", 0.75, {"file.open": 8, "file.create": 6, "publish.asset.usd": 7,
                        "playblast.create": 2}),
        ("houdini", 0.25, {"file.open": 5, "build.houdini.component": 6,
                           "publish.asset.usd": 4}),
    ),
    "previs": (
        ("maya", 1.0, {"file.open": 6, "playblast.create": 12, "publish.previs_asset.usd": 6,
                       "publish.camera.usd": 3, "shot.setup": 5, "file.create": 3}),
    ),
    "lighting": (
        ("katana", 0.8, {"file.open": 10, "file.create": 3, "shot.setup": 4}),
        ("nuke", 0.2, {"file.open": 6, "file.create": 2}),
    ),
    "comp": (("nuke", 1.0, {"file.open": 12, "file.create": 6}),),
    "rigging": (("maya", 1.0, {"file.open": 10, "file.create": 5, "publish.asset.usd": 5}),),
}  # fmt: skip
# Department of artist i is DEPARTMENTS[i % 12]: the first dozen cover every event type.
DEPARTMENTS = (
    "anim", "layout", "lookdev", "fx", "modeling", "previs",
    "anim", "lighting", "comp", "rigging", "anim", "lookdev",
)  # fmt: skip
SHOT_DEPTS = frozenset({"anim", "layout", "previs", "lighting", "comp"})

# event_type -> (median duration ms, sigma, failure rate)
TOOL_TIMING: dict[str, tuple[float, float, float]] = {
    "dcc.launch": (20_000, 0.5, 0.02),
    "file.open": (25_000, 0.9, 0.03),
    "file.create": (1_500, 0.5, 0.01),
    "shot.setup": (40_000, 0.6, 0.05),
    "playblast.create": (75_000, 0.7, 0.04),
    "build.houdini.component": (140_000, 0.8, 0.08),
    "texture.export.substance": (60_000, 0.7, 0.03),
    "texture.convert.tex": (9_000, 0.8, 0.02),
}
LAUNCH_MEDIAN_MS = {
    "maya": 35_000,
    "houdini": 18_000,
    "nuke": 6_000,
    "katana": 25_000,
    "substance_painter": 20_000,
}
# event_type -> (median duration ms, failure rate, median output bytes)
PUBLISH_PROFILE: dict[str, tuple[float, float, float]] = {
    "publish.asset.usd": (60_000, 0.07, 250e6),
    "publish.anim.usd": (45_000, 0.09, 80e6),
    "publish.camera.usd": (8_000, 0.05, 2e6),
    "publish.customanim.usd": (30_000, 0.08, 40e6),
    "publish.previs_asset.usd": (20_000, 0.06, 15e6),
}
TOOL_ERRORS = {
    "dcc.launch": ("license checkout failed: no such feature exists", "plugin load failed"),
    "file.open": (
        "permission denied",
        "file not found",
        "reference file missing",
        "échec de lecture: scène verrouillée",
    ),
    "file.create": ("permission denied", "disk quota exceeded"),
    "shot.setup": ("shot not found in ShotGrid", "frame range mismatch with editorial"),
    "playblast.create": ("out of GPU memory", "ffmpeg exited with status 1"),
    "build.houdini.component": ("cook error in /obj/geo1/boolean2", "invalid USD prim path"),
    "texture.export.substance": ("export preset missing", "UDIM tile 1012 out of range"),
    "texture.convert.tex": ("txmake: unsupported channel count", "txmake: cannot open input"),
}
PUBLISH_ERRORS = (
    "USD layer locked by another session",
    "validation failed: non-manifold geometry",
    "validation failed: missing UVs",
    "disk quota exceeded",
    "timeout waiting for asset server",
    "missing reference: /groups/sandwich/assets/chr_bun/usd/v011/chr_bun.usda",
)

STORAGE_ROOTS: dict[str, tuple[str, ...]] = {
    "/groups/sandwich": ("assets", "shots", "renders", "editorial", "publish", "reference"),
    "/scratch/sandwich": ("cache", "sim", "renders_tmp", "playblasts", "houdini_geo", "tmp"),
    "/groups/library": ("hdri", "textures", "megascans", "plugins", "sfx", "fonts"),
}
# Publishes of an asset (the others publish a shot's layers).
ASSET_PUBLISH_TYPES = frozenset({"publish.asset.usd", "publish.previs_asset.usd"})
# Frames of a render job (farm snapshots, bulk render stats).
FRAME_COUNTS = (48, 72, 96, 120, 144, 180, 240)
# The tool that runs a tool event when it is not the session's DCC.
TOOL_DCC = {
    "build.houdini.component": "houdini",
    "texture.export.substance": "substance_painter",
    "texture.convert.tex": "txmake",
}
RENDER_PASSES = ("beauty", "beauty", "fx_smoke", "shadow", "crowd", "precomp", "lookdev_turntable")


def user_names(count: int, seed: int) -> list[str]:
    rng = random.Random(f"{seed}:names")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = rng.choice(_FIRST_INITIALS) + rng.choice(_LAST_NAMES)
        if name in seen:
            name += str(len(names))
        seen.add(name)
        names.append(name)
    return names


def random_shot(rng: random.Random) -> str:
    """A shot of the show, `sqNNN_shNNNN`."""
    return f"{rng.choice(SEQUENCES)}_{rng.choice(SHOTS)}"


def publish_usd_path(target: str, kind: str, version: int) -> str:
    """Where a publish of `target` (a shot, or an asset) writes its USD layer."""
    if target.startswith("sq"):
        seq, shot = target.split("_")
        return f"/groups/sandwich/shots/{seq}/{shot}/usd/{kind}/v{version:03d}/{target}_{kind}.usd"
    return f"/groups/sandwich/assets/{target}/usd/v{version:03d}/{target}.usda"
