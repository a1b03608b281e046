"""SQL models (silver domains, gold KPIs): a refresh replaces a date window in one transaction.

Each model is a SELECT under sql/<layer>/<name>.sql reading its upstream tables for the window
[$start, $end) (DATEs, end exclusive). Refreshing deletes that window of the model's table and
inserts the SELECT's rows in one transaction, so a refresh is idempotent and a crash leaves the
previous state. Weekly models widen the window to whole ISO weeks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import duckdb

from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction


@dataclass(frozen=True)
class Model:
    name: str  # the table, e.g. silver_publish_usd
    layer: Literal["silver", "gold"]
    deps: tuple[str, ...]  # tables it reads
    grain: Literal["day", "iso_week"] = "day"
    description: str = ""

    @property
    def key(self) -> str:
        """The date column the window applies to."""
        return "week" if self.grain == "iso_week" else "event_date"

    @property
    def sql(self) -> str:
        return load_sql(f"{self.layer}/{self.name}")

    def window(self, first: date, last: date) -> tuple[date, date]:
        """[start, end) covering first..last, whole ISO weeks for a weekly model."""
        if self.grain == "iso_week":
            start = first - timedelta(days=first.weekday())
            end = last - timedelta(days=last.weekday()) + timedelta(days=7)
            return start, end
        return first, last + timedelta(days=1)


SILVER_MODELS: tuple[Model, ...] = (
    Model("silver_publish_usd", "silver", ("silver_events",), description="USD publishes, typed"),
    Model("silver_tool_events", "silver", ("silver_events",), description="DCC tool events, typed"),
    Model("silver_tractor_job_spool", "silver", ("silver_events",), description="Farm job spools"),
    Model(
        "silver_tractor_farm_snapshot", "silver", ("silver_events",), description="Farm snapshots"
    ),
    Model(
        "silver_render_stats_summary", "silver", ("silver_events",), description="Finished renders"
    ),
    Model("silver_storage_scan_summary", "silver", ("silver_events",), description="Storage roots"),
    Model(
        "silver_storage_scan_bucket", "silver", ("silver_events",), description="Storage buckets"
    ),
)

GOLD_MODELS: tuple[Model, ...] = (
    Model(
        "gold_publish_health_daily",
        "gold",
        ("silver_publish_usd",),
        description="Publish health per day and publish type",
    ),
    Model(
        "gold_render_health_daily",
        "gold",
        ("silver_render_stats_summary",),
        description="Render health per day",
    ),
    Model(
        "gold_farm_pressure_daily",
        "gold",
        ("silver_tractor_farm_snapshot", "silver_tractor_job_spool"),
        description="Farm pressure per day",
    ),
    Model(
        "gold_tool_reliability_daily",
        "gold",
        ("silver_tool_events",),
        description="Tool reliability per day and tool event type",
    ),
    Model(
        "gold_storage_growth_weekly",
        "gold",
        ("silver_storage_scan_bucket",),
        grain="iso_week",
        description="Storage per ISO week, root and bucket (latest scan of the week)",
    ),
    Model(
        "gold_data_quality_daily", "gold", ("silver_events",), description="Data quality per day"
    ),
)

MODELS: dict[str, Model] = {m.name: m for m in (*SILVER_MODELS, *GOLD_MODELS)}


def _create_if_missing(con: duckdb.DuckDBPyConnection, model: Model, params: dict) -> None:
    # The table takes the SELECT's columns and types: the SQL file is the only schema.
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {model.name} AS SELECT * FROM ({model.sql}) WHERE false",
        params,
    )


def ensure_tables(con: duckdb.DuckDBPyConnection, models: tuple[Model, ...]) -> None:
    """Create the (empty) tables of models never refreshed yet, in order (silver before gold).

    Readers such as the serving layer then see every model's schema from the first day on.
    Needs the session's macros (warehouse.define_macros).
    """
    params = {"start": date(1970, 1, 1), "end": date(1970, 1, 1)}
    for model in models:
        _create_if_missing(con, model, params)


def refresh(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    first: date,
    last: date,
    *,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> int:
    """Replace the model's rows for first..last (inclusive) in one transaction; rows written.

    `also` runs inside that transaction (the refresh ledger's bookkeeping commits with it)."""
    start, end = model.window(first, last)
    params = {"start": start, "end": end}
    select = model.sql
    with transaction(con):
        _create_if_missing(con, model, params)
        con.execute(
            f"DELETE FROM {model.name} WHERE {model.key} >= $start AND {model.key} < $end", params
        )
        inserted = con.execute(
            f"INSERT INTO {model.name} BY NAME SELECT * FROM ({select})", params
        ).fetchone()
        rows = inserted[0] if inserted else 0
        if also is not None:
            also(con)
    return int(rows)
