"""Silver domain and gold KPI assets: one per SQL model, daily-partitioned by event date."""

from datetime import date, timedelta

import dagster as dg

from piper_dagster.catalog import column_descriptions
from piper_dagster.defs.partitions import daily_partitions, partition_dates
from piper_dagster.ingest.export import write_date_partitions
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS, Model, define_user_macro, refresh
from piper_dagster.settings import load_settings
from piper_dagster.warehouse import connect


def _deps(model: Model) -> list[str]:
    # silver_events is written by the spool asset.
    return ["spool_events" if d == "silver_events" else d for d in model.deps]


def _column_schema(model: Model) -> dict[str, object]:
    """Gold column descriptions from the metrics catalog, as the UI's column schema."""
    if model.layer != "gold":
        return {}
    columns = [
        dg.TableColumn(name, description=text)
        for name, text in column_descriptions(model.name).items()
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}


def refresh_model(model: Model, first: date, last: date) -> dict[str, object]:
    """Rebuild the model for first..last (and its Parquet for silver); metadata of the run."""
    settings = load_settings()
    with connect(settings.warehouse_path) as con:
        define_user_macro(
            con,
            mask=settings.privacy.mask_users,
            key=settings.privacy.user_hash_key.get_secret_value(),
        )
        rows = refresh(con, model, first, last)
        start, end = model.window(first, last)
        files = 0
        if model.layer == "silver":
            days = [start + timedelta(days=i) for i in range((end - start).days)]
            select = (
                f"SELECT * FROM {model.name} "
                "WHERE event_date IN (SELECT partition_date FROM pending_dates)"
            )
            files = write_date_partitions(
                con,
                select,
                settings.data_root / "silver" / model.name.removeprefix("silver_"),
                days,
            )
    return {
        "rows": rows,
        "window_start": start.isoformat(),
        "window_end_exclusive": end.isoformat(),
        "parquet_files": files,
    }


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        deps=_deps(model),
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="duckdb",
        kinds={"duckdb"},
        group_name=model.layer,
        description=model.description,
        metadata={
            "sql": f"sql/{model.layer}/{model.name}.sql",
            "grain": model.grain,
            **_column_schema(model),
        },
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        first, last = partition_dates(context)
        return dg.MaterializeResult(metadata=refresh_model(model, first, last))

    return _asset


silver_assets = [build_model_asset(m) for m in SILVER_MODELS]
gold_assets = [build_model_asset(m) for m in GOLD_MODELS]
MODEL_ASSET_KEYS = [dg.AssetKey(m.name) for m in (*SILVER_MODELS, *GOLD_MODELS)]
