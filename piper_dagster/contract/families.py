"""Source families: which emitter (contract §1) writes which event types.

Freshness and volume are judged per family because the emitters keep different rhythms: artists'
machines follow the working day, the farm poller writes every few minutes, the storage auditor
once a day. The mapping is derived from the contract's event types, so a new type must be given
a family here (an import-time check says so).
"""

from __future__ import annotations

from piper_dagster.contract.models import EVENT_TYPES, PUBLISH_TYPES, TOOL_TYPES

ARTISTS, FARM, STORAGE = "artists", "farm", "storage"
FAMILIES: tuple[str, ...] = (ARTISTS, FARM, STORAGE)

# Publish tools and DCC plug-ins run on the artists' workstations; the Tractor poller (user
# svc_tractor) emits job spools, farm snapshots and render summaries; the storage auditor
# (svc_storage) the scans.
FAMILY_OF: dict[str, str] = {
    **dict.fromkeys(PUBLISH_TYPES, ARTISTS),
    **dict.fromkeys(TOOL_TYPES, ARTISTS),
    **{t: FARM for t in EVENT_TYPES if t.startswith(("tractor.", "render."))},
    **{t: STORAGE for t in EVENT_TYPES if t.startswith("storage.")},
}

_unmapped = set(EVENT_TYPES) - set(FAMILY_OF)
if _unmapped:
    raise RuntimeError(f"event types without a source family: {sorted(_unmapped)}")


def family_rows() -> list[dict[str, str]]:
    """The mapping as rows for the check queries' `$families` parameter."""
    return [{"event_type": t, "family": f} for t, f in FAMILY_OF.items()]
