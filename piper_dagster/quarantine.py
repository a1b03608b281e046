"""Quarantine replay: re-validate quarantined lines with the current contract, ingest the ones
that pass, exactly once.

After a contract fix (a new event type, a relaxed rule), lines quarantined under the old rules
may now be valid. The replay feeds their exact bytes (`quarantine.raw_bytes`) to the ingest's
own vectorized validator (`classify_sql`) and its own SQL for new events, inserts and export
marks (sql/ingest/), so a replayed event is exactly what a fresh ingest would have made of it:
same dedupe by event_id, same clock-skew rule, same lineage (source_file, source_line).

In the same transaction, the lines that passed move from `quarantine` to `quarantine_replayed`:
a crash before the commit leaves everything as it was, and a rerun finds nothing left to ingest.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from piper_dagster.contract.models import UTF8_BOM, LineStatus
from piper_dagster.ingest.batch import insert_new_events
from piper_dagster.ingest.export import export_pending
from piper_dagster.ingest.validate import NOT_REJECTED, classify_sql
from piper_dagster.settings import ConfigError, Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import connect, transaction, use_privacy


@dataclass
class ReplayResult:
    run_id: str
    replayed: int = 0  # quarantined lines re-validated
    events: int = 0  # now valid and new: inserted into silver_events
    duplicates: int = 0  # now valid, but their event_id was already ingested
    not_events: int = 0  # now blank / NUL padding: not invalid, not events
    still_invalid: Counter[str] = field(default_factory=Counter)  # by current reason
    reclassified: int = 0  # still invalid, under another reason than before
    event_dates: list[date] = field(default_factory=list)  # silver/gold to refresh
    spool_dates: list[date] = field(default_factory=list)  # replayed: their checks change
    exported: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "replayed": self.replayed,
            "events": self.events,
            "duplicates": self.duplicates,
            "not_events": self.not_events,
            "still_invalid": dict(sorted(self.still_invalid.items())),
            "reclassified": self.reclassified,
            "event_dates": [d.isoformat() for d in self.event_dates],
            "spool_dates": [d.isoformat() for d in self.spool_dates],
            "exported": self.exported,
        }


def replay(
    settings: Settings,
    *,
    reason: str | None = None,
    since: date | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
) -> ReplayResult:
    """Re-validate the quarantined lines (of `reason`, of spool dates >= `since`); ingest the
    ones that pass and take them out of quarantine.

    One transaction per spool date, in date order: memory is bounded by a day's quarantine, not
    the whole of it, and a crash keeps the dates already committed (a rerun does the rest). A
    dry run goes through every date in one transaction rolled back at the end, so that it counts
    duplicates across dates as the real replay would."""
    if not settings.warehouse_path.exists():
        raise ConfigError(f"no warehouse at {settings.warehouse_path}: nothing to replay")
    result = ReplayResult(run_id=run_id or f"replay-{uuid.uuid4()}", dry_run=dry_run)
    filters = {"reason": reason, "since": since}
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        days = [r[0] for r in con.execute(load_sql("replay/dates"), filters).fetchall()]
        if dry_run:
            with transaction(con, commit=False):
                for day in days:
                    _replay_day(con, settings, day, reason, result)
            return result
        for day in days:
            with transaction(con):
                _replay_day(con, settings, day, reason, result)
        result.spool_dates = days
        # Parquet and the quarantine files follow the tables (as after an ingest).
        result.exported = export_pending(con, settings)
    return result


def _replay_day(
    con: Any, settings: Settings, day: date, reason: str | None, result: ReplayResult
) -> None:
    """Replay the quarantined lines of spool date `day` (inside the caller's transaction)."""
    con.execute(load_sql("replay/candidates"), {"reason": reason, "spool_date": day})
    con.execute(load_sql("replay/batch"), {"bom": UTF8_BOM})
    # The ingest's validator and its new-events / insert / export-mark SQL, as is.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE classified AS "
        f"SELECT c.*, l.file_idx, l.line_no FROM ({classify_sql('replay_lines')}) c "
        "JOIN replay_lines l USING (idx)"
    )
    skew = settings.ingest.skew_tolerance_seconds
    con.execute(load_sql("ingest/new_events"), {"skew_seconds": skew})
    insert_new_events(con, result.run_id, "replay")  # as the ingest batch does
    con.execute(load_sql("health/dirty_spool"))
    _count(con, result)
    con.execute(load_sql("replay/replayed"), {"run_id": result.run_id})
    con.execute(load_sql("replay/settle"))


def _count(con: Any, result: ReplayResult) -> None:
    rows = con.execute(
        "SELECT c.status, r.reason, count(*) FROM classified c JOIN replay_rows r USING (idx)"
        " GROUP BY ALL"
    ).fetchall()
    for status, old_reason, n in rows:
        result.replayed += n
        if status == LineStatus.EVENT:
            continue
        if status in NOT_REJECTED:
            result.not_events += n
        else:
            result.still_invalid[status] += n
            result.reclassified += n if status != old_reason else 0
    valid = sum(n for status, _, n in rows if status == LineStatus.EVENT)
    events = con.execute("SELECT count(*) FROM new_events").fetchone()[0]
    result.events += events
    result.duplicates += valid - events
    dates = {r[0] for r in con.execute("SELECT DISTINCT event_date FROM new_events").fetchall()}
    result.event_dates = sorted(dates.union(result.event_dates))
