"""privacy.mask_users: no person's name in silver domains, in any Parquet file, or in gold."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest

from piper_dagster.defs.partitions import range_tags
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster_tests.factories import defs


def _text_values(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    cols = [
        r[0]
        for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        if r[1] == "VARCHAR" or r[1] == "JSON"
    ]
    values: set[str] = set()
    for c in cols:
        values |= {
            r[0] for r in con.execute(f'SELECT DISTINCT "{c}"::VARCHAR FROM {relation}').fetchall()
        }
    return {v for v in values if v}


@pytest.mark.parametrize("mask", [False, True])
def test_gold_never_names_a_user_and_masking_hides_people(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch, warehouse, mask: bool
) -> None:
    monkeypatch.setenv("PIPER_PRIVACY__MASK_USERS", str(mask).lower())
    monkeypatch.setenv("PIPER_PRIVACY__USER_HASH_KEY", "test-key-not-a-secret")
    settings = load_settings()
    generate_spool(settings.raw_root, GenerateOptions(start=date(2026, 3, 2), days=2, seed=5))
    with dg.DagsterInstance.get() as instance:
        run = dg.materialize(
            list(defs().assets),  # type: ignore[arg-type]
            selection=["spool_events", *(m.name for m in (*SILVER_MODELS, *GOLD_MODELS))],
            instance=instance,
            tags=range_tags(date(2026, 3, 1), date(2026, 3, 3)),
        )
        assert run.success
    with warehouse() as con:
        people = {
            r[0]
            for r in con.execute('SELECT DISTINCT "user" FROM silver_events').fetchall()
            if not r[0].startswith("svc_")
        }
        assert len(people) > 3

        def leaks(relation: str) -> set[str]:
            return {v for v in _text_values(con, relation) if any(p in v for p in people)}

        for model in GOLD_MODELS:
            assert not leaks(model.name), model.name
            assert con.execute(f"SELECT count(*) FROM {model.name}").fetchone()[0] > 0
        silver_parquet = (
            f"read_parquet('{settings.data_root}/silver/**/*.parquet', union_by_name=true)"
        )
        if mask:
            for model in SILVER_MODELS:
                user_leaks = {
                    r[0]
                    for r in con.execute(f'SELECT DISTINCT "user" FROM {model.name}').fetchall()
                } & people
                assert not user_leaks, model.name
            parquet_users = {
                r[0]
                for r in con.execute(f'SELECT DISTINCT "user" FROM {silver_parquet}').fetchall()
            }
            assert not parquet_users & people
            assert {"svc_tractor", "svc_storage"} <= parquet_users
        else:
            assert people <= {
                r[0]
                for r in con.execute(f'SELECT DISTINCT "user" FROM {silver_parquet}').fetchall()
            }
