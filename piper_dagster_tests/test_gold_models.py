"""Gold models (contract §7) on a real DuckDB file, against values computed in Python.

The silver tables are written here by hand (same names and columns as the silver models), so these
tests do not depend on the silver SQL. Every expected value is computed independently from the
same events: the gold SQL is never the oracle of itself.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from piper_dagster.catalog import (
    CATALOG_PATH,
    column_descriptions,
    format_table,
    grain_columns,
    load_catalog,
)
from piper_dagster.contract import PUBLISH_TYPES, STATUS_TYPES, TOOL_TYPES
from piper_dagster.models import GOLD_MODELS, MODELS, refresh
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import CONTRACT_TEXT as CONTRACT

# --- silver tables, as the silver models write them -----------------------------------------

OUTCOME_TYPES = STATUS_TYPES  # the success-or-failure types of dq_error_rate

COMMON_COLUMNS = {
    "event_id": "VARCHAR",
    "event_type": "VARCHAR",
    "event_date": "DATE",
    "ts": "TIMESTAMPTZ",
    "host": "VARCHAR",
    "user": "VARCHAR",
    "show": "VARCHAR",
    "session_id": "VARCHAR",
    "clock_skewed": "BOOLEAN",
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
}
TYPED_COLUMNS: dict[str, dict[str, str]] = {
    "silver_publish_usd": {
        "status": "VARCHAR",
        "duration_ms": "BIGINT",
        "output_bytes": "BIGINT",
        "asset": "VARCHAR",
        "department": "VARCHAR",
        "usd_path": "VARCHAR",
        "error": "VARCHAR",
    },
    "silver_tool_events": {
        "status": "VARCHAR",
        "duration_ms": "BIGINT",
        "dcc": "VARCHAR",
        "dcc_version": "VARCHAR",
        "path": "VARCHAR",
        "error": "VARCHAR",
    },
    "silver_tractor_job_spool": {
        "job_id": "VARCHAR",
        "status": "VARCHAR",
        "task_count": "BIGINT",
        "title": "VARCHAR",
        "priority": "DOUBLE",
    },
    "silver_tractor_farm_snapshot": {
        "total_blades": "BIGINT",
        "active_blades": "BIGINT",
        "errored_jobs": "BIGINT",
        "active_jobs": "BIGINT",
        "queued_tasks": "BIGINT",
    },
    "silver_render_stats_summary": {
        "job_id": "VARCHAR",
        "status": "VARCHAR",
        "frames_total": "BIGINT",
        "frames_failed": "BIGINT",
        "cpu_seconds": "DOUBLE",
        "wall_seconds": "DOUBLE",
        "peak_rss_bytes": "BIGINT",
    },
    "silver_storage_scan_bucket": {
        "root": "VARCHAR",
        "bucket": "VARCHAR",
        "bytes": "BIGINT",
        "file_count": "BIGINT",
    },
}
TABLE_OF_TYPE = {
    **dict.fromkeys(PUBLISH_TYPES, "silver_publish_usd"),
    **dict.fromkeys(TOOL_TYPES, "silver_tool_events"),
    "tractor.job.spool": "silver_tractor_job_spool",
    "tractor.farm.snapshot": "silver_tractor_farm_snapshot",
    "render.stats.summary": "silver_render_stats_summary",
    "storage.scan.bucket": "silver_storage_scan_bucket",
    "storage.scan.summary": None,  # only in silver_events (no gold model reads its silver table)
}

# Distinctive names: no gold value may ever equal one of them.
ALICE, BOB, CAROL = "alice.keller", "bob.marchetti", "carol.dubois"
SVC_TRACTOR, SVC_STORAGE = "svc_tractor", "svc_storage"
USERS = {ALICE, BOB, CAROL, SVC_TRACTOR, SVC_STORAGE}
HOSTS = {"ws-anim-017", "farm-poller-01"}

_ids = count(1)


@dataclass
class Ev:
    event_type: str
    ts: datetime
    user: str
    payload: dict[str, Any]
    skewed_date: date | None = None  # a clock-skewed event is dated by its spool date
    event_id: str = field(default_factory=lambda: f"ev-{next(_ids):05d}")

    @property
    def event_date(self) -> date:
        return self.skewed_date or self.ts.astimezone(UTC).date()

    @property
    def host(self) -> str:
        return "farm-poller-01" if self.user.startswith("svc_") else "ws-anim-017"


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def publish(t: str, day: date, user: str, ok: bool, ms: int, out: int, hour: int = 12) -> Ev:
    return Ev(
        t,
        at(day, hour),
        user,
        {
            "status": "success" if ok else "failure",
            "duration_ms": ms,
            "output_bytes": out,
            "asset": "sandwich_bread",
        },
    )


def tool(t: str, day: date, user: str, ok: bool, ms: int, **kw: Any) -> Ev:
    payload = {"status": "success" if ok else "failure", "duration_ms": ms, "dcc": "maya"}
    return Ev(t, at(day), user, payload, **kw)


def render(day: date, ok: bool, frames: int, failed: int, cpu: float) -> Ev:
    payload = {
        "job_id": "job-r",
        "status": "success" if ok else "failure",
        "frames_total": frames,
        "frames_failed": failed,
        "cpu_seconds": cpu,
    }
    return Ev("render.stats.summary", at(day), SVC_TRACTOR, payload)


def snapshot(day: date, active: int, errored: int, hour: int = 12) -> Ev:
    payload = {"total_blades": 64, "active_blades": active, "errored_jobs": errored}
    return Ev("tractor.farm.snapshot", at(day, hour), SVC_TRACTOR, payload)


def spool(day: date, user: str, spooled: bool) -> Ev:
    payload = {"job_id": "job-s", "status": "spooled" if spooled else "rejected", "task_count": 3}
    return Ev("tractor.job.spool", at(day), user, payload)


def scan(
    day: date, root: str, bucket: str, nbytes: int, files: int, hour: int = 2, **kw: Any
) -> Ev:
    payload = {"root": root, "bucket": bucket, "bytes": nbytes, "file_count": files}
    return Ev("storage.scan.bucket", at(day, hour), SVC_STORAGE, payload, **kw)


# Days: D1..D5 are Monday 2026-03-02 .. Friday 2026-03-06 (ISO week W1); W0 is the week of Monday
# 2026-02-23, which ends on Sunday 2026-03-01 (a week spanning two months); W2 starts 2026-03-09.
D1, D2, D3, D4, D5 = (date(2026, 3, 2) + timedelta(days=i) for i in range(5))
W0, W1, W2 = date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)
FIRST, LAST = W0, date(2026, 3, 15)


def dataset() -> list[Ev]:
    evs = [
        # D1: publishes of two types, one of them only failures.
        publish("publish.asset.usd", D1, ALICE, True, 100, 1000),
        publish("publish.asset.usd", D1, BOB, True, 200, 2000),
        publish("publish.asset.usd", D1, ALICE, False, 300, 0),
        publish("publish.asset.usd", D1, CAROL, True, 400, 4000),
        publish("publish.asset.usd", D1, BOB, False, 1000, 0),
        publish("publish.anim.usd", D1, BOB, False, 50, 0),
        tool("dcc.launch", D1, ALICE, True, 1200),
        tool("dcc.launch", D1, ALICE, True, 800),
        tool("dcc.launch", D1, BOB, False, 5000),
        tool("dcc.launch", D1, CAROL, True, 900),
        tool("file.open", D1, CAROL, True, 30),
        render(D1, True, 100, 0, 7200.0),
        render(D1, True, 50, 2, 3600.5),
        render(D1, False, 20, 20, 100.0),
        snapshot(D1, 10, 1, hour=1),
        snapshot(D1, 40, 3, hour=9),
        snapshot(D1, 25, 0, hour=18),
        spool(D1, ALICE, True),
        spool(D1, BOB, True),
        spool(D1, BOB, False),
        Ev("storage.scan.summary", at(D1, 3), SVC_STORAGE, {"root": "/prod", "total_bytes": 1}),
        # D2: job spools but no snapshot; a clock-skewed tool event (ts in 2019, dated D2).
        publish("publish.camera.usd", D2, ALICE, True, 10, 5),
        publish("publish.camera.usd", D2, ALICE, True, 20, 6),
        render(D2, False, 10, 3, 60.0),
        spool(D2, BOB, True),
        Ev(
            "file.create",
            datetime(2019, 1, 1, 8, tzinfo=UTC),
            CAROL,
            {"status": "failure", "duration_ms": 70, "dcc": "nuke"},
            skewed_date=D2,
        ),
        # D3: snapshots but no spool.
        tool("shot.setup", D3, CAROL, True, 10),
        tool("shot.setup", D3, CAROL, False, 20),
        tool("shot.setup", D3, BOB, True, 40),
        snapshot(D3, 5, 0),
        # D4: only a rejected spool (a farm row, nothing spooled; no outcome event: NULL rate).
        spool(D4, ALICE, False),
        # D5: only a service account.
        snapshot(D5, 7, 2),
        # Storage, W0: the latest scan of /prod/assets is on Sunday 1 March (the week's last day,
        # in March) with a tie on ts broken by the greatest event_id (inserted first on purpose);
        # a later event_id with an earlier ts loses.
        scan(date(2026, 2, 26), "/prod", "assets", 100, 10),
        scan(date(2026, 2, 28), "/prod", "assets", 999, 99, hour=23, event_id="zz-late-id"),
        scan(date(2026, 3, 1), "/prod", "assets", 310, 31, event_id="tie-b"),
        scan(date(2026, 3, 1), "/prod", "assets", 300, 30, event_id="tie-a"),
        scan(date(2026, 2, 27), "/prod", "shots", 50, 5),
        # W1 and W2.
        scan(D1, "/prod", "assets", 400, 40),
        scan(D3, "/prod", "assets", 450, 45),
        scan(D2, "/scratch", "tmp", 7, 1),
        scan(date(2026, 3, 10), "/prod", "assets", 500, 50),
    ]
    return evs


# --- loading -----------------------------------------------------------------------------------


def create_silver(con: duckdb.DuckDBPyConnection) -> None:
    for table, extra in TYPED_COLUMNS.items():
        cols = ", ".join(f'"{c}" {t}' for c, t in {**COMMON_COLUMNS, **extra}.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")


def insert(con: duckdb.DuckDBPyConnection, evs: list[Ev]) -> None:
    """Insert events into silver_events and their typed silver table."""
    for i, e in enumerate(evs, start=1):
        common = {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "event_date": e.event_date,
            "ts": e.ts,
            "host": e.host,
            "user": e.user,
            "show": "sandwich",
            "session_id": None,
            "clock_skewed": e.skewed_date is not None,
            "source_file": f"{e.host}/{e.user}/{e.event_date}_s.jsonl",
            "source_line": i,
        }
        con.execute(
            "INSERT INTO silver_events BY NAME SELECT $event_id AS event_id, $event_type AS "
            "event_type, '1.0' AS schema_version, $ts AS ts, $event_date AS event_date, $host AS "
            'host, $user AS "user", $show AS "show", $session_id AS session_id, '
            "$payload::JSON AS payload, $clock_skewed AS clock_skewed, $event_date AS spool_date, "
            "$source_file AS source_file, $source_line AS source_line, now() AS ingested_at",
            {**common, "payload": json.dumps(e.payload)},
        )
        table = TABLE_OF_TYPE[e.event_type]
        if table is None:
            continue
        typed = {c: e.payload.get(c) for c in TYPED_COLUMNS[table]}
        row = {**common, **typed}
        names = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join(f"${c}" for c in row)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", row)


def refresh_all(con: duckdb.DuckDBPyConnection, first: date = FIRST, last: date = LAST) -> None:
    for model in GOLD_MODELS:
        refresh(con, model, first, last)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[Ev]]]:
    """A warehouse file with the silver tables filled from dataset() and every gold model built."""
    evs = dataset()
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_silver(con)
        insert(con, evs)
        refresh_all(con)
        yield con, evs


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def keyed(con: duckdb.DuckDBPyConnection, model: str) -> dict[tuple, dict[str, Any]]:
    """Gold rows by grain; fails on a duplicate grain."""
    grain = grain_columns(model)
    out: dict[tuple, dict[str, Any]] = {}
    for r in rows(con, model):
        key = tuple(r[c] for c in grain)
        assert key not in out, f"{model}: two rows for {key}"
        out[key] = {c: v for c, v in r.items() if c not in grain}
    return out


def assert_matches(got: dict[tuple, dict[str, Any]], want: dict[tuple, dict[str, Any]]) -> None:
    assert sorted(got) == sorted(want)  # exactly the non-empty groups: no more, no less
    for key, values in want.items():
        for col, v in values.items():
            g = got[key][col]
            if v is None or g is None:
                assert g is v is None, (key, col, g, v)
            elif isinstance(v, float):
                assert g == pytest.approx(v, rel=1e-12), (key, col)
            else:
                assert g == v, (key, col)


def p95(xs: list[float]) -> float:
    """Continuous percentile, linear interpolation between closest ranks (numpy's default)."""
    return float(np.quantile(np.asarray(xs, dtype=float), 0.95, method="linear"))


def groups(evs: list[Ev], key: Callable[[Ev], tuple], pred: Callable[[Ev], bool]):
    out: dict[tuple, list[Ev]] = defaultdict(list)
    for e in evs:
        if pred(e):
            out[key(e)].append(e)
    return out


def success_rate(g: list[Ev]) -> float:
    return sum(e.payload["status"] == "success" for e in g) / len(g)


# --- expected values, computed in Python --------------------------------------------------------


def expect_publish(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    by = groups(
        evs, lambda e: (e.event_date, e.event_type), lambda e: e.event_type in PUBLISH_TYPES
    )
    return {
        k: {
            "publish_count": len(g),
            "publish_success_rate": success_rate(g),
            "publish_duration_p95_ms": p95([e.payload["duration_ms"] for e in g]),
            "publish_output_bytes": sum(
                e.payload["output_bytes"] for e in g if e.payload["status"] == "success"
            ),
        }
        for k, g in by.items()
    }


def expect_render(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    by = groups(evs, lambda e: (e.event_date,), lambda e: e.event_type == "render.stats.summary")
    return {
        k: {
            "render_job_count": len(g),
            "render_success_rate": success_rate(g),
            "render_cpu_hours": sum(e.payload["cpu_seconds"] for e in g) / 3600,
            "render_failed_frames": sum(e.payload["frames_failed"] for e in g),
        }
        for k, g in by.items()
    }


def expect_farm(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    snaps = groups(
        evs, lambda e: (e.event_date,), lambda e: e.event_type == "tractor.farm.snapshot"
    )
    spools = groups(evs, lambda e: (e.event_date,), lambda e: e.event_type == "tractor.job.spool")
    out = {}
    for k in set(snaps) | set(spools):
        s = snaps.get(k, [])
        out[k] = {
            "farm_peak_active_blades": max((e.payload["active_blades"] for e in s), default=None),
            "farm_peak_errored_jobs": max((e.payload["errored_jobs"] for e in s), default=None),
            "farm_jobs_spooled": sum(e.payload["status"] == "spooled" for e in spools.get(k, [])),
        }
    return out


def expect_tool(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    by = groups(evs, lambda e: (e.event_date, e.event_type), lambda e: e.event_type in TOOL_TYPES)
    return {
        k: {
            "tool_invocations": len(g),
            "tool_success_rate": success_rate(g),
            "tool_duration_p95_ms": p95([e.payload["duration_ms"] for e in g]),
        }
        for k, g in by.items()
    }


def monday(d: date) -> date:
    return d - timedelta(days=d.isoweekday() - 1)


def expect_storage(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    by = groups(
        evs,
        lambda e: (monday(e.event_date), e.payload["root"], e.payload["bucket"]),
        lambda e: e.event_type == "storage.scan.bucket",
    )
    out = {}
    for k, g in by.items():
        latest = max(g, key=lambda e: (e.ts, e.event_id))
        out[k] = {
            "storage_bytes": latest.payload["bytes"],
            "storage_file_count": latest.payload["file_count"],
        }
    return out


def expect_dq(evs: list[Ev]) -> dict[tuple, dict[str, Any]]:
    by = groups(evs, lambda e: (e.event_date,), lambda e: True)
    out = {}
    for k, g in by.items():
        outcome = [e for e in g if e.event_type in OUTCOME_TYPES]
        failures = sum(e.payload["status"] == "failure" for e in outcome)
        out[k] = {
            "dq_events": len(g),
            "dq_error_rate": failures / len(outcome) if outcome else None,
            "dq_active_users": len({e.user for e in g if not e.user.startswith("svc_")}),
            "dq_skewed_events": sum(e.skewed_date is not None for e in g),
        }
    return out


EXPECT: dict[str, Callable[[list[Ev]], dict[tuple, dict[str, Any]]]] = {
    "gold_publish_health_daily": expect_publish,
    "gold_render_health_daily": expect_render,
    "gold_farm_pressure_daily": expect_farm,
    "gold_tool_reliability_daily": expect_tool,
    "gold_storage_growth_weekly": expect_storage,
    "gold_data_quality_daily": expect_dq,
}


# --- the models ----------------------------------------------------------------------------------


def test_every_gold_model_has_an_oracle_and_a_single_select() -> None:
    assert set(EXPECT) == {m.name for m in GOLD_MODELS}
    con = duckdb.connect()
    for m in GOLD_MODELS:
        assert not m.sql.rstrip().endswith(";"), m.name
        statements = con.extract_statements(m.sql)
        assert len(statements) == 1, m.name
        assert statements[0].type == duckdb.StatementType.SELECT, m.name


@pytest.mark.parametrize("model", sorted(EXPECT))
def test_gold_values_match_python(db, model: str) -> None:
    con, evs = db
    assert_matches(keyed(con, model), EXPECT[model](evs))


def test_known_values(db) -> None:
    """A few values by hand, so the Python oracle is checked too."""
    con, _ = db
    pub = keyed(con, "gold_publish_health_daily")[(D1, "publish.asset.usd")]
    # durations 100, 200, 300, 400, 1000: rank 0.95 * 4 = 3.8 -> 400 + 0.8 * 600
    assert pub["publish_duration_p95_ms"] == pytest.approx(880.0)
    assert pub["publish_success_rate"] == pytest.approx(0.6)
    assert pub["publish_output_bytes"] == 7000
    anim = keyed(con, "gold_publish_health_daily")[(D1, "publish.anim.usd")]
    assert anim["publish_success_rate"] == 0.0  # a rate, not NULL: the denominator is 1
    assert anim["publish_output_bytes"] == 0
    rend = keyed(con, "gold_render_health_daily")[(D1,)]
    assert rend["render_cpu_hours"] == pytest.approx(10900.5 / 3600)
    assert rend["render_failed_frames"] == 22


def test_empty_groups_have_no_row(db) -> None:
    con, _ = db
    assert (D1, "publish.camera.usd") not in keyed(con, "gold_publish_health_daily")
    assert (D2, "dcc.launch") not in keyed(con, "gold_tool_reliability_daily")
    assert {k[0] for k in keyed(con, "gold_render_health_daily")} == {D1, D2}
    assert {k[0] for k in keyed(con, "gold_data_quality_daily")} == {
        date(2026, 2, 26),
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
        D1,
        D2,
        D3,
        D4,
        D5,
        date(2026, 3, 10),
    }
    # No gold row outside the days that have events of the model's types.
    for model in GOLD_MODELS:
        key = model.key
        got = con.execute(f"SELECT count(*) FROM {model.name} WHERE {key} IS NULL").fetchone()
        assert got == (0,)


def test_rates_are_doubles_in_unit_interval_and_null_without_denominator(db) -> None:
    con, _ = db
    for model in GOLD_MODELS:
        types = dict(
            con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {model.name})").fetchall()
        )
        for col, typ in types.items():
            if col.endswith("_rate"):
                assert typ == "DOUBLE", (model.name, col)
                values = [r[0] for r in con.execute(f"SELECT {col} FROM {model.name}").fetchall()]
                assert all(v is None or 0.0 <= v <= 1.0 for v in values), (model.name, col)
            if col.endswith("_p95_ms"):
                assert typ == "DOUBLE", (model.name, col)
    dq = keyed(con, "gold_data_quality_daily")
    # D4 (a rejected spool) and D5 (a snapshot): no publish, tool or render event.
    assert dq[(D4,)]["dq_error_rate"] is None
    assert dq[(D5,)]["dq_error_rate"] is None
    # D2: 1 camera publish ok x2, 1 render failure, 1 skewed file.create failure -> 2 / 4.
    assert dq[(D2,)]["dq_error_rate"] == pytest.approx(0.5)


def test_column_types(db) -> None:
    """Dates, names, DOUBLE ratios/percentiles/hours, BIGINT counts and sizes (no HUGEINT)."""
    con, _ = db
    for model in GOLD_MODELS:
        types = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {model.name})")
        for col, typ in types.fetchall():
            if col in ("event_date", "week"):
                want = "DATE"
            elif col in ("event_type", "root", "bucket"):
                want = "VARCHAR"
            elif col.endswith(("_rate", "_p95_ms", "_hours")):
                want = "DOUBLE"
            else:
                want = "BIGINT"
            assert typ == want, (model.name, col, typ)


def test_farm_day_with_spools_but_no_snapshot(db) -> None:
    con, _ = db
    farm = keyed(con, "gold_farm_pressure_daily")
    assert farm[(D1,)] == {
        "farm_peak_active_blades": 40,
        "farm_peak_errored_jobs": 3,
        "farm_jobs_spooled": 2,
    }
    assert farm[(D2,)] == {
        "farm_peak_active_blades": None,
        "farm_peak_errored_jobs": None,
        "farm_jobs_spooled": 1,
    }
    assert farm[(D3,)]["farm_jobs_spooled"] == 0  # snapshots only
    assert farm[(D4,)] == {  # only a rejected spool: a row, nothing spooled
        "farm_peak_active_blades": None,
        "farm_peak_errored_jobs": None,
        "farm_jobs_spooled": 0,
    }


def test_storage_latest_scan_tie_and_week_across_months(db) -> None:
    con, _ = db
    storage = keyed(con, "gold_storage_growth_weekly")
    # W0 runs Monday 23 Feb to Sunday 1 Mar: the 1 March scans are its latest; same ts, greatest
    # event_id ("tie-b") wins; the 28 Feb scan with a greater event_id but an earlier ts loses.
    assert storage[(W0, "/prod", "assets")] == {"storage_bytes": 310, "storage_file_count": 31}
    assert storage[(W0, "/prod", "shots")] == {"storage_bytes": 50, "storage_file_count": 5}
    assert storage[(W1, "/prod", "assets")] == {"storage_bytes": 450, "storage_file_count": 45}
    assert storage[(W2, "/prod", "assets")] == {"storage_bytes": 500, "storage_file_count": 50}
    assert {k[0] for k in storage} == {W0, W1, W2}
    assert all(k[0].isoweekday() == 1 for k in storage)
    assert (
        dict(
            con.execute(
                "SELECT column_name, column_type FROM (DESCRIBE gold_storage_growth_weekly)"
            ).fetchall()
        )["week"]
        == "DATE"
    )


def test_weekly_refresh_of_one_day_rewrites_its_whole_week(db) -> None:
    con, evs = db
    # New scans: Monday of W1 (a day other than the one refreshed) and a later one in W2. Only W1
    # is refreshed, through a single day (Wednesday): all of W1 changes, W0 and W2 stay as built.
    new = [
        scan(D1, "/prod", "renders", 1234, 12, hour=5),
        scan(D5, "/prod", "assets", 460, 46, hour=1),
        scan(date(2026, 3, 11), "/prod", "assets", 777, 77),
    ]
    insert(con, new)
    before = keyed(con, "gold_storage_growth_weekly")
    written = refresh(con, MODELS["gold_storage_growth_weekly"], D3, D3)
    after = keyed(con, "gold_storage_growth_weekly")
    assert written == sum(1 for k in after if k[0] == W1) == 3
    assert after[(W1, "/prod", "renders")] == {"storage_bytes": 1234, "storage_file_count": 12}
    assert after[(W1, "/prod", "assets")] == {"storage_bytes": 460, "storage_file_count": 46}
    assert {k: v for k, v in after.items() if k[0] != W1} == {
        k: v for k, v in before.items() if k[0] != W1
    }
    assert after[(W2, "/prod", "assets")]["storage_bytes"] == 500  # W2 not refreshed
    assert MODELS["gold_storage_growth_weekly"].window(D3, D3) == (W1, W2)
    # Refreshing everything now agrees with Python on all weeks.
    refresh_all(con)
    assert_matches(keyed(con, "gold_storage_growth_weekly"), expect_storage(evs + new))


def test_daily_refresh_replaces_only_its_window(db) -> None:
    con, _ = db
    insert(con, [publish("publish.camera.usd", D2, BOB, False, 900, 0), spool(D3, BOB, True)])
    con.execute("DELETE FROM silver_render_stats_summary WHERE event_date = ?", [D2])
    before = {m.name: keyed(con, m.name) for m in GOLD_MODELS}
    for name in (
        "gold_publish_health_daily",
        "gold_render_health_daily",
        "gold_farm_pressure_daily",
    ):
        refresh(con, MODELS[name], D2, D2)
    pub = keyed(con, "gold_publish_health_daily")
    assert pub[(D2, "publish.camera.usd")]["publish_count"] == 3
    assert pub[(D2, "publish.camera.usd")]["publish_success_rate"] == pytest.approx(2 / 3)
    assert (D2,) not in keyed(con, "gold_render_health_daily")  # its only render was removed
    # D3 got a spool in silver but was not refreshed; every other day is untouched.
    assert keyed(con, "gold_farm_pressure_daily")[(D3,)]["farm_jobs_spooled"] == 0
    for name in (
        "gold_publish_health_daily",
        "gold_render_health_daily",
        "gold_farm_pressure_daily",
    ):
        after = keyed(con, name)
        assert {k: v for k, v in after.items() if k[0] != D2} == {
            k: v for k, v in before[name].items() if k[0] != D2
        }


def test_refresh_is_idempotent(db) -> None:
    con, _ = db
    first = {m.name: sorted(map(repr, rows(con, m.name))) for m in GOLD_MODELS}
    refresh_all(con)
    refresh_all(con)
    assert {m.name: sorted(map(repr, rows(con, m.name))) for m in GOLD_MODELS} == first


def test_refresh_of_an_empty_window_creates_an_empty_table(tmp_path: Path) -> None:
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_silver(con)
        for model in GOLD_MODELS:
            assert refresh(con, model, D1, D1) == 0
            assert con.execute(f"SELECT count(*) FROM {model.name}").fetchone() == (0,)


def test_service_accounts_are_not_active_users(db) -> None:
    con, _ = db
    dq = keyed(con, "gold_data_quality_daily")
    assert dq[(D1,)]["dq_active_users"] == 3  # alice, bob, carol; svc_tractor/svc_storage not
    assert dq[(D5,)]["dq_active_users"] == 0  # only svc_tractor
    assert dq[(date(2026, 2, 26),)]["dq_active_users"] == 0  # only svc_storage
    assert dq[(D2,)]["dq_skewed_events"] == 1  # the 2019 event counts on its spool date


def test_no_user_in_gold(db) -> None:
    con, evs = db
    names = {e.user for e in evs} | {e.host for e in evs}
    assert names == USERS | HOSTS
    forbidden = re.compile(r"^(users?|hosts?|user_?name|login)$|^(user|host)_|_(user|host)$")
    for model in GOLD_MODELS:
        types = con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE {model.name})"
        ).fetchall()
        for col, typ in types:
            assert not forbidden.search(col), (model.name, col)
            if "user" in col or "host" in col:
                assert typ == "BIGINT", (model.name, col)  # a count, never a name
        for r in rows(con, model.name):
            for v in r.values():
                assert str(v) not in names, (model.name, r)


# --- the catalog ---------------------------------------------------------------------------------


def contract_metrics() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """From contract §7: grain per model, metrics per model (table order), headline metrics."""
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## 7.", 1)[1]
    grain: dict[str, list[str]] = {}
    metrics: dict[str, list[str]] = {}
    model = ""
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "model" or (cells[0] and set(cells[0]) <= {"-"}):
            continue
        if cells[0]:
            model = cells[0].strip("`")
            plain = re.sub(r"\(.*?\)", "", cells[1]).replace("`", "")
            grain[model] = [c.strip() for c in plain.split(",")]
            metrics[model] = []
        metrics[model].append(cells[2].strip("`"))
    tail = section.split("headline metrics of the catalog are:", 1)[1].split(".\n", 1)[0]
    headline = [n.strip() for n in tail.replace("\n", " ").split(",")]
    return grain, metrics, headline


def test_catalog_headline_metrics_are_the_contracts_fourteen() -> None:
    _, _, headline = contract_metrics()
    assert len(headline) == 14
    catalog = load_catalog()
    assert sorted(e.name for e in catalog if e.headline) == sorted(headline)


def test_catalog_matches_contract_and_models(db) -> None:
    con, _ = db
    grain, metrics, _ = contract_metrics()
    catalog = load_catalog()
    assert set(grain) == {m.name for m in GOLD_MODELS}
    for model in GOLD_MODELS:
        columns = [
            r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {model.name})").fetchall()
        ]
        entries = [e for e in catalog if e.model == model.name]
        # The table is exactly the contract's grain then metrics, in order.
        assert columns == grain[model.name] + metrics[model.name]
        assert grain_columns(model.name) == grain[model.name]
        # Every catalog column is produced by its model; every non-grain column is in the catalog.
        assert [e.column for e in entries] == metrics[model.name]
        assert all(e.name == e.column for e in entries)
        assert list(column_descriptions(model.name)) == columns
        assert model.key in columns


def test_catalog_entries_are_documented_and_thresholds_consistent() -> None:
    for e in load_catalog():
        assert e.description.endswith(".") and "\n" not in e.description, e.name
        if e.column.endswith("_rate"):
            assert e.unit == "ratio" and e.warn is not None and e.fail is not None, e.name
            assert 0 <= e.fail <= 1 and 0 <= e.warn <= 1
    by = {e.name: e for e in load_catalog()}
    ok, warn, fail = by["publish_success_rate"], by["dq_error_rate"], by["publish_count"]
    assert [ok.level(v) for v in (0.99, 0.94, 0.85, None)] == ["ok", "warn", "fail", None]
    assert [warn.level(v) for v in (0.01, 0.07, 0.2)] == ["ok", "warn", "fail"]
    assert fail.level(10) is None  # no threshold


def test_format_table_is_aligned() -> None:
    entries = load_catalog()
    lines = format_table(entries).splitlines()
    assert len(lines) == len(entries) + 2
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    assert header.split() == ["name", "model", "column", "unit", "good", "warn", "fail"]
    for line, e in zip(lines[2:], entries, strict=True):
        assert line.startswith(e.name + " ")
        # Each column starts where its header does (empty cells are shown as "-").
        for s in starts:
            assert line[s] != " " and (s == 0 or line[s - 1] == " "), (line, s)
    assert all(c in "- " for c in lines[1])
    assert "< 0.95" in format_table([next(e for e in entries if e.name == "tool_success_rate")])


def test_load_catalog_rejects_a_bad_file(tmp_path: Path) -> None:
    from piper_dagster.settings import ConfigError

    bad = tmp_path / "catalog.yml"
    src = (CATALOG_PATH).read_text()
    bad.write_text(src.replace("    good: up\n", "    good: sideways\n", 1))
    with pytest.raises(ConfigError, match="good"):
        load_catalog(bad)
    bad.write_text(src.replace("warn: 0.95\n    fail: 0.90", "warn: 0.90\n    fail: 0.95", 1))
    with pytest.raises(ConfigError, match="fail must be beyond warn"):
        load_catalog(bad)


def test_load_catalog_rejects_an_undeclared_or_wrong_aggregation(tmp_path: Path) -> None:
    from piper_dagster.settings import ConfigError

    bad = tmp_path / "catalog.yml"
    src = CATALOG_PATH.read_text()
    rate = "    aggregate: rate\n    denominator: publish_count\n"
    assert rate in src
    for text, problem in [
        (src.replace(rate, "    aggregate: rate\n", 1), "declares its denominator"),
        (src.replace(rate, "    aggregate: sum\n", 1), "a ratio adds up as a rate"),
        (src.replace("    aggregate: sum\n", "    aggregate: average\n", 1), "aggregate"),
        (src.replace("    aggregate: sum\n", "    aggregate: sum\n    denominator: x\n", 1),
         "only a rate has a denominator"),
        (src.replace(rate, rate.replace("publish_count", "publish_duration_p95_ms"), 1),
         "not a summed column of gold_publish_health_daily"),
        (src.replace(rate, rate.replace("publish_count", "render_job_count"), 1),
         "not a summed column of gold_publish_health_daily"),
    ]:  # fmt: skip
        bad.write_text(text)
        with pytest.raises(ConfigError, match=problem):
            load_catalog(bad)
