"""How one host's emitter writes its events: its style, and the envelope around a payload."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from piper_dagster.generate.clock import fmt_ts
from piper_dagster.generate.draws import uuid4


@dataclass(frozen=True)
class Emitter:
    """How one host's emitter writes its lines (all valid per the contract)."""

    version: str = "1.0"
    ts_style: str = "ms_z"
    spaced: bool = False
    ascii: bool = True
    show: bool = False
    session_last: bool = True
    null_error: bool = True
    null_session: bool = False

    def dumps(self, event: Any) -> str:
        seps = (", ", ": ") if self.spaced else (",", ":")
        return json.dumps(event, separators=seps, ensure_ascii=self.ascii)


def envelope(
    emitter: Emitter,
    rng: random.Random,
    event_type: str,
    t_us: int,
    host: str,
    user: str,
    payload: dict[str, Any],
    session_id: str | None = None,
    event_id: str | None = None,
) -> tuple[dict[str, Any], int]:
    ts, ts_us = fmt_ts(t_us, emitter.ts_style)
    event: dict[str, Any] = {
        "schema_version": emitter.version,
        "event_id": event_id or uuid4(rng),
        "event_type": event_type,
        "ts": ts,
        "host": host,
        "user": user,
    }
    if emitter.show:
        event["show"] = "sandwich"
    has_session = session_id is not None or emitter.null_session
    if has_session and not emitter.session_last:
        event["session_id"] = session_id
    event["payload"] = payload
    if has_session and emitter.session_last:
        event["session_id"] = session_id
    if emitter.version != "1.0":
        event["x_emitter"] = f"piper-plugin/{emitter.version}.{rng.randint(0, 9)}"
    return event, ts_us
