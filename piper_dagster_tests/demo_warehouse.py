"""A demo-like warehouse built through the real code: a generated spool (every kind of damage, a
host with a skewed clock) materialized by a real Dagster run, plus check results as the checks
write them; and a reader of it like Grafana's plugin, on the plugin's DuckDB. Shared by the serving
and Grafana tests."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from piper_dagster.cli.demo import DEMO_DAMAGE_RATE
from piper_dagster.dagster_home import ensure_dagster_home
from piper_dagster.defs.partitions import range_tags
from piper_dagster.generate.options import DAMAGE_KINDS, GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.grafana.deployment import CONTAINER_DATA_ROOT, PLUGIN_DUCKDB_VERSION
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect

MODELS = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
DEMO_START = date(2026, 3, 2)  # a Monday: the storage week is whole
DEMO_DAYS = 4


@contextmanager
def piper_settings(root: Path) -> Iterator[Settings]:
    """Settings (and DAGSTER_HOME) over <root>/spool and <root>/data, for a whole module."""
    with pytest.MonkeyPatch.context() as mp:
        (root / "spool").mkdir(parents=True, exist_ok=True)
        mp.setenv("PIPER_PATHS__RAW_ROOT", str(root / "spool"))
        mp.setenv("PIPER_PATHS__DATA_ROOT", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.setenv("PIPER_INGEST__SETTLE_SECONDS", "0")
        settings = load_settings()
        ensure_dagster_home(settings)
        yield settings


def generate(settings: Settings, start: date = DEMO_START, days: int = DEMO_DAYS) -> None:
    generate_spool(
        settings.raw_root,
        GenerateOptions(
            start=start,
            days=days,
            artists=5,
            events_per_artist_day=40,
            damage=frozenset(DAMAGE_KINDS),
            # As `piper demo`: damage the checks warn about, not so much that the invalid-rate
            # check (which blocks gold) fails.
            damage_rate=DEMO_DAMAGE_RATE,
            skewed_hosts=1,
        ),
    )


def materialize_all(first: date, last: date) -> dg.ExecuteInProcessResult:
    """One Dagster run of the spool, silver and gold over first..last (publishes at the end)."""
    from piper_dagster_tests.factories import defs

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            list(defs().assets),  # type: ignore[arg-type]
            selection=["spool_events", *MODELS],
            instance=instance,
            tags=range_tags(first, last),
        )
    assert result.success
    return result


def insert_check_results(settings: Settings, first: date, days: int) -> None:
    """Check outcomes over the days, as the checks write them: every status, scopes, a run id."""
    rows = []
    now = datetime.now(UTC)
    for i in range(days):
        day = first + timedelta(days=i)
        # Evaluated over the last days (a backfill of old partitions is evaluated now).
        at = now - timedelta(days=days - i)
        detail = json.dumps({"day": day.isoformat()})
        run = f"run-{i}"
        volume = "PASS" if i % 2 else "WARN"
        invalid = "FAIL" if i == 0 else "PASS"
        rows += [
            ("freshness", None, "farm_poller", "PASS", 420.0, 1800.0, 7200.0, at, detail, run),
            ("volume", day, "all", volume, 0.8, 0.5, 0.2, at, detail, run),
            ("invalid_rate", day, "all", invalid, 0.02, 0.01, 0.05, at, detail, run),
            ("clock_skew", day, "ws003", "WARN", 0.1, 0.05, 0.2, at, detail, None),
        ]
    with connect(settings.warehouse_path) as con:
        con.executemany(
            "INSERT INTO pipeline_check_results (check_name, asset, partition_date, scope, status,"
            " value, warn_threshold, fail_threshold, evaluated_at, detail, run_id)"
            " VALUES (?, 'spool_events', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def insert_alerts(settings: Settings) -> None:
    """Notifications as the alerts write them: one sent, one failed, one pending in the outbox."""
    now = datetime.now(UTC)
    with connect(settings.warehouse_path) as con:
        con.executemany(
            "INSERT INTO alert_log VALUES (?, ?, ?, ?, ?, 'all', ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (now - timedelta(hours=5), "m1", "slack", "problem", "invalid_rate",
                 date(2026, 3, 4), "FAIL", "PASS", "run-1", True, 1, None, "[piper] FAIL"),
                (now - timedelta(hours=4), "m2", "email", "run_failed", None, None, "FAILURE",
                 None, "run-2", False, 3, "SMTP: connection refused", "[piper] run failed"),
            ],
        )  # fmt: skip
        con.execute(
            "INSERT INTO alert_outbox VALUES ('m2', 'email', 'run_failed', 'run:run-2', 'FAILURE',"
            " ?::JSON, ?, 3, ?, 'SMTP: connection refused', NULL)",
            [json.dumps({"title": "[piper] run failed", "run_id": "run-2"}), now, now],
        )


# --- a reader like Grafana's plugin, on the plugin's DuckDB --------------------------------------


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """`$__timeFilter(col)` -> `col >= 'from' AND col <= 'to'`, RFC 3339 seconds in UTC: what
    grafana-plugin-sdk-go's sqlutil.DefaultMacros (the plugin's Macros()) produces. The macro's
    argument runs to its matching parenthesis, as sqlutil's getMacroMatches finds it."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    lo, hi = start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)
    out = sql
    while (m := re.search(r"\$__timeFilter\b", out)) is not None:
        depth, i, arg_start = 0, m.end(), None
        while i < len(out):
            if out[i] == "(":
                depth += 1
                arg_start = i + 1 if arg_start is None else arg_start
            elif out[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        assert arg_start is not None, "a $__timeFilter without its column"
        column = out[arg_start:i].strip()
        out = out[: m.start()] + f"{column} >= '{lo}' AND {column} <= '{hi}'" + out[i + 1 :]
    return out


def insert_refresh_backlog(settings: Settings, day: date) -> None:
    """A date waiting in the refresh ledger, as an ingest whose refresh has not run leaves it."""
    with connect(settings.warehouse_path) as con:
        con.execute(
            "INSERT INTO refresh_pending VALUES (?, nextval('refresh_seq'),"
            " now() - INTERVAL 3 HOUR, 'ingest', 'late-run', NULL)",
            [day],
        )


READER = Path(__file__).resolve().parent / "serving_reader.py"
PROVISIONED = Path(__file__).resolve().parent.parent / "grafana/provisioning/datasources/piper.yaml"


def provisioned_init(settings: Settings) -> str:
    """The committed datasource's initSql, the container's data root replaced by this one."""
    (source,) = yaml.safe_load(PROVISIONED.read_text())["datasources"]
    return source["jsonData"]["initSql"].replace(CONTAINER_DATA_ROOT, str(settings.data_root))


def plugin_command(*args: str) -> list[str]:
    """serving_reader.py under exactly the DuckDB the plugin embeds, in an environment of its own
    (uv caches it: ~0.3 s to start once downloaded)."""
    uv = shutil.which("uv")
    assert uv, "uv must be on PATH: the reader runs on the plugin's DuckDB through `uv run --with`"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"  # its pickles are read here
    return [
        uv, "run", "--no-project", "--quiet", "--python", python,
        "--with", f"duckdb=={PLUGIN_DUCKDB_VERSION}", "python", str(READER), *args,
    ]  # fmt: skip


def plugin_query(init: str, queries: list[str], connections: int = 1) -> dict[str, Any]:
    """The reader's `query` report: queries over `connections` pooled connections set up at once
    by `init`, on the plugin's DuckDB."""
    with tempfile.TemporaryDirectory() as tmp:
        request, out = Path(tmp) / "request.json", Path(tmp) / "report.pickle"
        request.write_text(
            json.dumps({"init": init, "queries": queries, "connections": connections})
        )
        subprocess.run(plugin_command("query", str(request), str(out)), check=True, timeout=300)
        report = pickle.loads(out.read_bytes())
    assert report["duckdb"] == PLUGIN_DUCKDB_VERSION, report["duckdb"]
    return report
