"""Silver domain and gold KPI assets: one per SQL model, daily-partitioned by event date."""

from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

import dagster as dg
import duckdb

from piper_dagster import refresh_ledger
from piper_dagster.catalog import column_descriptions
from piper_dagster.defs.keys import POOL, SPOOL_EVENTS
from piper_dagster.defs.partitions import daily_partitions, partition_dates
from piper_dagster.defs.resources import PiperResource
from piper_dagster.ingest.export import (
    EVENTS,
    export_pending,
    export_target,
    mark_pending,
    to_compact,
)
from piper_dagster.models import (
    GOLD_MODELS,
    SILVER_MODELS,
    Model,
    ensure_tables,
    refresh,
)
from piper_dagster.serving import publish_from
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect, define_macros, prepare, use_privacy


def _deps(model: Model) -> list[str]:
    # silver_events is written by the spool asset.
    return [SPOOL_EVENTS if d == "silver_events" else d for d in model.deps]


@cache
def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Model -> its table's (column, DuckDB type), as the warehouse really creates it.

    The SQL files are the only schema (a model's table takes its SELECT's types), so the types
    come from creating the tables on an empty in-memory database, never from a second list.
    """
    con = duckdb.connect(":memory:")
    try:
        prepare(con)
        define_macros(con, mask=False, key="")
        models = (*SILVER_MODELS, *GOLD_MODELS)
        ensure_tables(con, models)
        return {
            m.name: [
                (str(row[0]), str(row[1])) for row in con.execute(f"DESCRIBE {m.name}").fetchall()
            ]
            for m in models
        }
    finally:
        con.close()


def _column_schema(model: Model) -> dict[str, object]:
    """The table's columns and types as the UI's column schema; gold's described by the catalog."""
    described = column_descriptions(model.name) if model.layer == "gold" else {}
    columns = [
        dg.TableColumn(name, type=sql_type, description=described.get(name))
        for name, sql_type in table_columns()[model.name]
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}


def _whole(models: list[Model], layer: tuple[Model, ...]) -> bool:
    return {m.name for m in models} >= {m.name for m in layer}


def _ledger_hook(
    models: list[Model], i: int, con: duckdb.DuckDBPyConnection, first: date, last: date
) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
    """The refresh ledger's bookkeeping, run inside a layer's last model's transaction.

    A whole silver layer marks the entries it saw before reading silver_events; a whole gold layer
    deletes the marked entries it saw before reading silver (piper_dagster/refresh_ledger.py).
    Called before model i's refresh: the entries are read there, once per layer, before its first
    model reads anything. A refresh of some models only leaves the ledger alone (the others are
    still stale)."""
    model = models[i]
    layer = SILVER_MODELS if model.layer == "silver" else GOLD_MODELS
    mine = [j for j, m in enumerate(models) if m.layer == model.layer]
    if not _whole(models, layer) or i != mine[0]:
        return None
    seqs = refresh_ledger.entries_seen(con, first, last, silver_rebuilt=model.layer == "gold")
    if model.layer == "silver":
        return lambda c: refresh_ledger.mark_silver_rebuilt(c, seqs)
    return lambda c: refresh_ledger.clear(c, seqs)


def _marking(
    name: str, days: list[date], ledger: Callable[[duckdb.DuckDBPyConnection], None] | None
) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def also(con: duckdb.DuckDBPyConnection) -> None:
        mark_pending(con, name, days)
        if ledger is not None:
            ledger(con)

    return also


def refresh_models(
    settings: Settings, models: list[Model], first: date, last: date
) -> dict[str, dict[str, object]]:
    """Rebuild `models` (in order) for first..last, silver Parquet too, then Grafana's serving
    layer when gold changed; metadata per model. The ledger entries it covered are cleared."""
    out: dict[str, dict[str, object]] = {}
    with connect(settings.warehouse_path) as con:
        use_privacy(con, settings.privacy)
        hooks: dict[str, Callable[[duckdb.DuckDBPyConnection], None] | None] = {}
        for i, model in enumerate(models):
            hook = _ledger_hook(models, i, con, first, last)
            if hook is not None:
                hooks[model.layer] = hook
            last_of_layer = all(m.layer != model.layer for m in models[i + 1 :])
            ledger = hooks.get(model.layer) if last_of_layer else None
            start, end = model.window(first, last)
            also = ledger
            if model.layer == "silver":
                # The Parquet copy's dates are marked in the refresh's own transaction and
                # cleared after the export: a crash in between leaves them to the next run's
                # export (every entry point finishes pending exports), never a stale copy.
                days = [start + timedelta(days=d) for d in range((end - start).days)]
                also = _marking(model.name, days, ledger)
            rows = refresh(con, model, first, last, also=also)
            files = export_target(con, settings, model.name) if model.layer == "silver" else 0
            out[model.name] = {
                "rows": rows,
                "window_start": start.isoformat(),
                "window_end_exclusive": end.isoformat(),
                "parquet_files": files,
            }
        if any(m.layer == "silver" for m in models):
            # Compaction of silver_events' Parquet, off the ingest's path: the dates with too
            # many small files are marked (their own commit) and rewritten by the export below;
            # a crash leaves the mark to the next run's export.
            mark_pending(con, EVENTS, to_compact(settings, first, last))
        export_pending(con, settings)  # whatever an earlier run left (a crash, a full disk)
        if any(m.layer == "gold" for m in models):
            # Grafana reads the serving layer, never the warehouse: replace it now that gold
            # changed, over the same connection (still inside this step's `duckdb` pool slot).
            publication = publish_from(con, settings)
            for model in models:
                if model.layer == "gold":
                    out[model.name].update(publication.as_metadata())
    return out


def build_layer(
    settings: Settings, name: str, models: tuple[Model, ...], description: str
) -> dg.AssetsDefinition:
    """One multi-asset per layer: each model is its own asset in the graph and the UI, but a
    run refreshes the selected ones in a single step over one warehouse connection (a step
    costs more than a one-day refresh of a model)."""

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                m.name,
                deps=_deps(m),
                group_name=m.layer,
                kinds={"duckdb"},
                description=m.description,
                metadata={
                    "sql": f"piper_dagster/sql/{m.layer}/{m.name}.sql",
                    "grain": m.grain,
                    **_column_schema(m),
                },
            )
            for m in models
        ],
        partitions_def=daily_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=POOL,
        can_subset=True,
        description=description,
    )
    def _layer(context: dg.AssetExecutionContext, piper: PiperResource):  # type: ignore[no-untyped-def]
        first, last = partition_dates(context)
        selected = [m for m in models if dg.AssetKey(m.name) in context.selected_asset_keys]
        for model_name, metadata in refresh_models(piper.settings(), selected, first, last).items():
            yield dg.MaterializeResult(asset_key=model_name, metadata=metadata)

    return _layer


def build_model_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The silver and the gold layer."""
    return [
        build_layer(settings, "silver_models", SILVER_MODELS, "Silver domains from silver_events."),
        build_layer(settings, "gold_models", GOLD_MODELS, "Gold KPI models from silver."),
    ]
