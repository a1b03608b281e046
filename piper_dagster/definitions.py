"""The piper code location: every asset, check, sensor and resource, assembled once."""

from __future__ import annotations

import dagster as dg

from piper_dagster.defs.spool import spool_events

defs = dg.Definitions(
    assets=[spool_events],
    executor=dg.in_process_executor,  # steps share one DuckDB file: no subprocess per step
)
