"""The Dagster UI shows each silver and gold table's real columns and types (not all "string")."""

from __future__ import annotations

import dagster as dg

from piper_dagster.catalog import column_descriptions
from piper_dagster.defs.models import build_model_assets
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS, ensure_tables
from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect, define_macros


def _ui_schemas() -> dict[str, dg.TableSchema]:
    return {
        spec.key.to_user_string(): spec.metadata["dagster/column_schema"]
        for layer in build_model_assets(load_settings())
        for spec in layer.specs
    }


def test_the_ui_column_types_are_the_warehouse_tables_types(piper_env: Settings) -> None:
    # The real warehouse file, its tables created as a first refresh creates them.
    with connect(piper_env.warehouse_path) as con:
        define_macros(con, mask=False, key="")
        ensure_tables(con, (*SILVER_MODELS, *GOLD_MODELS))
        real = {
            m.name: [(r[0], r[1]) for r in con.execute(f"DESCRIBE {m.name}").fetchall()]
            for m in (*SILVER_MODELS, *GOLD_MODELS)
        }
    schemas = _ui_schemas()
    assert set(schemas) == set(real)
    for name, columns in real.items():
        shown = [(c.name, c.type) for c in schemas[name].columns]
        assert shown == columns, name
    # Not one flat "string": dates, timestamps, counts and rates are shown as such.
    gold = dict(real["gold_render_health_daily"])
    assert gold["event_date"] == "DATE" and gold["render_job_count"] == "BIGINT"
    assert gold["render_success_rate"] == "DOUBLE"
    assert dict(real["silver_publish_usd"])["ts"] == "TIMESTAMP WITH TIME ZONE"


def test_gold_columns_keep_the_catalog_descriptions() -> None:
    schemas = _ui_schemas()
    for model in GOLD_MODELS:
        shown = {c.name: c.description for c in schemas[model.name].columns}
        for column, text in column_descriptions(model.name).items():
            assert shown[column] == text, (model.name, column)
