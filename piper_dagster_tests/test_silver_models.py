"""The 7 silver domain models on a real ingested warehouse: types, values, windows, masking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pytest

from piper_dagster.contract import EVENT_TYPES, PUBLISH_TYPES, TOOL_TYPES
from piper_dagster.contract.introspect import payload_field_specs
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.ingest.run import ingest
from piper_dagster.models import MODELS, SILVER_MODELS, refresh
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect, define_macros
from piper_dagster_tests.factories import EXAMPLES, write_spool_file

COMMON: tuple[tuple[str, str], ...] = (
    ("event_id", "VARCHAR"),
    ("event_type", "VARCHAR"),
    ("event_date", "DATE"),
    ("ts", "TIMESTAMP WITH TIME ZONE"),
    ("host", "VARCHAR"),
    ("user", "VARCHAR"),
    ("show", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("clock_skewed", "BOOLEAN"),
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
)
# The typed payload columns of each model, in order (each is the payload field of that name).
EXTRA: dict[str, tuple[tuple[str, str], ...]] = {
    "silver_publish_usd": (
        ("status", "VARCHAR"),
        ("duration_ms", "BIGINT"),
        ("output_bytes", "BIGINT"),
        ("asset", "VARCHAR"),
        ("department", "VARCHAR"),
        ("usd_path", "VARCHAR"),
        ("error", "VARCHAR"),
    ),
    "silver_tool_events": (
        ("status", "VARCHAR"),
        ("duration_ms", "BIGINT"),
        ("dcc", "VARCHAR"),
        ("dcc_version", "VARCHAR"),
        ("path", "VARCHAR"),
        ("error", "VARCHAR"),
    ),
    "silver_tractor_job_spool": (
        ("job_id", "VARCHAR"),
        ("status", "VARCHAR"),
        ("task_count", "BIGINT"),
        ("title", "VARCHAR"),
        ("priority", "DOUBLE"),
    ),
    "silver_tractor_farm_snapshot": (
        ("total_blades", "BIGINT"),
        ("active_blades", "BIGINT"),
        ("errored_jobs", "BIGINT"),
        ("active_jobs", "BIGINT"),
        ("queued_tasks", "BIGINT"),
    ),
    "silver_render_stats_summary": (
        ("job_id", "VARCHAR"),
        ("status", "VARCHAR"),
        ("frames_total", "BIGINT"),
        ("frames_failed", "BIGINT"),
        ("cpu_seconds", "DOUBLE"),
        ("wall_seconds", "DOUBLE"),
        ("peak_rss_bytes", "BIGINT"),
    ),
    "silver_storage_scan_summary": (
        ("root", "VARCHAR"),
        ("total_bytes", "BIGINT"),
        ("file_count", "BIGINT"),
        ("scan_duration_ms", "BIGINT"),
    ),
    "silver_storage_scan_bucket": (
        ("root", "VARCHAR"),
        ("bucket", "VARCHAR"),
        ("bytes", "BIGINT"),
        ("file_count", "BIGINT"),
    ),
}
# The event types of each model, from the contract's own lists.
TYPES: dict[str, frozenset[str]] = {
    "silver_publish_usd": frozenset(PUBLISH_TYPES),
    "silver_tool_events": frozenset(TOOL_TYPES),
    "silver_tractor_job_spool": frozenset({"tractor.job.spool"}),
    "silver_tractor_farm_snapshot": frozenset({"tractor.farm.snapshot"}),
    "silver_render_stats_summary": frozenset({"render.stats.summary"}),
    "silver_storage_scan_summary": frozenset({"storage.scan.summary"}),
    "silver_storage_scan_bucket": frozenset({"storage.scan.bucket"}),
}
SQL_TYPE = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE"}
NAMES = tuple(m.name for m in SILVER_MODELS)
EXAMPLE_DAY = date(2026, 3, 4)
GEN_START = date(2026, 3, 2)


# --- building warehouses -------------------------------------------------------------------------


def _line(event_id: str, event_type: str, user: str, payload: dict[str, Any], **env: Any) -> str:
    host = {"svc_tractor": "tractor01", "svc_storage": "stor01"}.get(user, "ws007")
    event = {
        "schema_version": "1.0",
        "event_id": event_id,
        "event_type": event_type,
        "ts": "2026-03-04T12:00:00Z",
        "host": host,
        "user": user,
        "payload": payload,
        **env,
    }
    return json.dumps(event, ensure_ascii=True) + "\n"


# Optional fields null or absent, a number written as an integer, an integer beyond 2^53, a whole
# float in exponent form, an escaped string, a path through the user's folder.
EDGE_LINES = {
    "ws007/asmith/2026-03-04_edge.jsonl": [
        _line(
            "edge-publish",
            "publish.asset.usd",
            "asmith",
            {
                "status": "success",
                "duration_ms": 1.0e3,
                "output_bytes": 9007199254740993,
                "asset": "chr_bun",
                "department": None,
            },
            show="burger",
        ),
        _line(
            "edge-tool",
            "file.open",
            "asmith",
            {
                "status": "failure",
                "duration_ms": 0,
                "dcc": "nuke",
                "dcc_version": None,
                "path": "/groups/sandwich/work/asmith/asmith_v001.nk",
                "error": 'échec "verrouillé"',
            },
            session_id="nuke-0001",
        ),
    ],
    "tractor01/svc_tractor/2026-03-04_edge.jsonl": [
        _line(
            "edge-spool",
            "tractor.job.spool",
            "svc_tractor",
            {"job_id": "J1", "status": "rejected", "task_count": 0, "title": None},
        ),
        _line(
            "edge-priority",
            "tractor.job.spool",
            "svc_tractor",
            {"job_id": "J2", "status": "spooled", "task_count": 3.0, "priority": -12.5},
        ),
        _line(
            "edge-snapshot",
            "tractor.farm.snapshot",
            "svc_tractor",
            {"total_blades": 10, "active_blades": 10, "errored_jobs": 0, "queued_tasks": None},
        ),
        _line(
            "edge-render",
            "render.stats.summary",
            "svc_tractor",
            {
                "job_id": "J1",
                "status": "failure",
                "frames_total": 4,
                "frames_failed": 4,
                "cpu_seconds": 12,
                "peak_rss_bytes": None,
            },
        ),
    ],
    "stor01/svc_storage/2026-03-04_edge.jsonl": [
        _line(
            "edge-scan",
            "storage.scan.summary",
            "svc_storage",
            {"root": "/groups/x", "total_bytes": 0, "file_count": 0, "scan_duration_ms": None},
        ),
    ],
}


@pytest.fixture
def examples_env(piper_env: Settings) -> Settings:
    """The contract's valid examples (ws042/jdoe) and the edge cases above, ingested."""
    write_spool_file(
        piper_env.raw_root,
        "ws042/jdoe/2026-03-04_valid.jsonl",
        (EXAMPLES / "2026-03-04_valid.jsonl").read_bytes(),
    )
    for rel, lines in EDGE_LINES.items():
        write_spool_file(piper_env.raw_root, rel, "".join(lines).encode())
    result = ingest(piper_env)
    assert result.events == 20 + sum(len(lines) for lines in EDGE_LINES.values())
    assert not result.invalid_by_reason
    return piper_env


@pytest.fixture
def generated_env(piper_env: Settings) -> Settings:
    """Three generated days with some damage (duplicates, invalid lines, late files, skew)."""
    generate_spool(
        piper_env.raw_root,
        GenerateOptions(
            start=GEN_START,
            days=3,
            seed=1,
            damage=frozenset({"duplicate", "crlf", "late", "invalid_json", "wrong_type"}),
            skewed_hosts=1,
        ),
    )
    result = ingest(piper_env)
    assert result.events > 0 and result.skewed > 0
    return piper_env


@contextmanager
def open_models(
    settings: Settings, *, mask: bool = False, key: str = ""
) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(settings.warehouse_path) as con:
        define_macros(con, mask=mask, key=key)
        yield con


def date_range(con: duckdb.DuckDBPyConnection) -> tuple[date, date]:
    first, last = con.execute(
        "SELECT min(event_date), max(event_date) FROM silver_events"
    ).fetchone()
    return first, last


def refresh_all(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    first, last = date_range(con)
    return {name: refresh(con, MODELS[name], first, last) for name in NAMES}


def rows(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    cur = con.execute(f"SELECT * FROM {name} ORDER BY event_id")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def by_id(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, dict[str, Any]]:
    return {r["event_id"]: r for r in rows(con, name)}


def type_list(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT event_type FROM {name}").fetchall()]


def expected_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    return {"integer": int, "number": float, "string": str}[kind](value)


# --- contract: types, columns -------------------------------------------------------------------


def test_every_event_type_has_one_model_and_the_columns_follow_the_contract() -> None:
    assert set(NAMES) == set(TYPES) == set(EXTRA)
    owners = [t for types in TYPES.values() for t in types]
    assert sorted(owners) == sorted(EVENT_TYPES)  # each of the 18 types in exactly one model
    for name, types in TYPES.items():
        for event_type in types:
            specs = payload_field_specs(EVENT_TYPES[event_type])
            assert [(s.name, SQL_TYPE[s.kind.json]) for s in specs] == list(EXTRA[name])
        sql = MODELS[name].sql
        assert "$start" in sql and "$end" in sql and not sql.rstrip().endswith(";")


def test_each_model_selects_exactly_its_contract_types(generated_env: Settings) -> None:
    with open_models(generated_env) as con:
        present = {
            r[0] for r in con.execute("SELECT DISTINCT event_type FROM silver_events").fetchall()
        }
        assert present == set(EVENT_TYPES)  # the warehouse holds every type
        refresh_all(con)
        for name in NAMES:
            assert set(type_list(con, name)) == TYPES[name], name


def test_column_names_and_types(examples_env: Settings) -> None:
    with open_models(examples_env) as con:
        refresh_all(con)
        for name in NAMES:
            described = con.execute(f"DESCRIBE {name}").fetchall()
            assert [(r[0], r[1]) for r in described] == [*COMMON, *EXTRA[name]], name


def test_an_empty_window_creates_the_typed_empty_table(piper_env: Settings) -> None:
    with open_models(piper_env) as con:
        for name in NAMES:
            assert refresh(con, MODELS[name], EXAMPLE_DAY, EXAMPLE_DAY) == 0
            described = con.execute(f"DESCRIBE {name}").fetchall()
            assert [(r[0], r[1]) for r in described] == [*COMMON, *EXTRA[name]], name


# --- values -------------------------------------------------------------------------------------


def test_row_counts_match_silver_events_per_day(generated_env: Settings) -> None:
    with open_models(generated_env) as con:
        written = refresh_all(con)
        for name in NAMES:
            types = sorted(TYPES[name])
            expected = dict(
                con.execute(
                    "SELECT event_date, count(*) FROM silver_events"
                    " WHERE list_contains($types, event_type) GROUP BY ALL",
                    {"types": types},
                ).fetchall()
            )
            got = dict(
                con.execute(f"SELECT event_date, count(*) FROM {name} GROUP BY ALL").fetchall()
            )
            assert got == expected, name
            assert written[name] == sum(expected.values())
            distinct = con.execute(f"SELECT count(DISTINCT event_id) FROM {name}").fetchone()[0]
            assert distinct == written[name]


def test_every_value_matches_silver_events_and_its_payload(generated_env: Settings) -> None:
    with open_models(generated_env) as con:
        refresh_all(con)
        # The generator writes some integers as whole floats: they must come out as integers.
        whole_floats = con.execute(
            "SELECT count(*) FROM silver_events WHERE contains(payload->>'$.duration_ms', '.')"
        ).fetchone()[0]
        assert whole_floats > 0
        events = by_id(con, "silver_events")
        common = [c for c, _ in COMMON]
        for name in NAMES:
            kinds = {
                s.name: s.kind.json
                for s in payload_field_specs(EVENT_TYPES[next(iter(TYPES[name]))])
            }
            for row in rows(con, name):
                event = events[row["event_id"]]
                assert {c: row[c] for c in common} == {c: event[c] for c in common}
                payload = json.loads(event["payload"])
                for field, kind in kinds.items():
                    want = expected_value(kind, payload.get(field))
                    assert row[field] == want and type(row[field]) is type(want), (name, field)


def test_contract_examples_typed(examples_env: Settings) -> None:
    with open_models(examples_env) as con:
        refresh_all(con)
        tools = by_id(con, "silver_tool_events")
        # The 1.1 event: a whole float for an integer, an offset timestamp, absent optionals.
        v11 = tools["0b6f1c2e-0000-4000-8000-000000000020"]
        assert v11["duration_ms"] == 30000 and isinstance(v11["duration_ms"], int)
        assert v11["ts"] == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
        assert v11["event_date"] == EXAMPLE_DAY
        assert (v11["status"], v11["dcc"], v11["error"]) == ("failure", "nuke", "permission denied")
        assert (v11["dcc_version"], v11["path"], v11["session_id"]) == (None, None, None)
        assert v11["show"] == "sandwich"  # the default (§3)
        assert v11["source_file"] == "ws042/jdoe/2026-03-04_valid.jsonl"
        assert v11["source_line"] == 20
        assert v11["clock_skewed"] is False
        assert v11["user"] == "jdoe"

        publishes = by_id(con, "silver_publish_usd")
        ok = publishes["0b6f1c2e-0000-4000-8000-000000000001"]
        assert (ok["duration_ms"], ok["output_bytes"], ok["error"]) == (48211, 734003200, None)
        assert (ok["asset"], ok["department"], ok["session_id"]) == (
            "chr_bun",
            "lookdev",
            "maya-7f3a",
        )
        failed = publishes["0b6f1c2e-0000-4000-8000-000000000014"]
        assert (failed["status"], failed["output_bytes"]) == ("failure", 0)
        assert (failed["department"], failed["usd_path"]) == (None, None)
        assert failed["error"] == "USD layer locked by another session"

        (spool,) = [r for r in rows(con, "silver_tractor_job_spool") if r["job_id"] == "J8812734"]
        assert (spool["status"], spool["task_count"], spool["priority"]) == ("spooled", 240, 100.0)
        assert spool["title"] == "sq010_sh0040 beauty v003"
        (snap,) = [r for r in rows(con, "silver_tractor_farm_snapshot") if r["total_blades"] == 400]
        assert (snap["active_blades"], snap["errored_jobs"]) == (372, 3)
        assert (snap["active_jobs"], snap["queued_tasks"]) == (58, 12044)
        (render,) = [
            r for r in rows(con, "silver_render_stats_summary") if r["frames_total"] == 240
        ]
        assert (render["status"], render["frames_failed"]) == ("success", 0)
        assert (render["cpu_seconds"], render["wall_seconds"]) == (311040.5, 14400.0)
        assert render["peak_rss_bytes"] == 51539607552
        (scan,) = [
            r for r in rows(con, "silver_storage_scan_summary") if r["root"] == "/groups/sandwich"
        ]
        assert (scan["total_bytes"], scan["file_count"]) == (812345678901234, 48211934)
        assert scan["scan_duration_ms"] == 3600000
        (bucket,) = rows(con, "silver_storage_scan_bucket")
        assert (bucket["root"], bucket["bucket"]) == ("/groups/sandwich", "renders")
        assert (bucket["bytes"], bucket["file_count"]) == (412345678901234, 21000311)
        assert bucket["user"] == "svc_storage" and bucket["host"] == "stor01"


def test_optional_fields_null_or_absent_are_null(examples_env: Settings) -> None:
    with open_models(examples_env) as con:
        refresh_all(con)
        pub = by_id(con, "silver_publish_usd")["edge-publish"]
        assert (pub["department"], pub["usd_path"], pub["error"]) == (None, None, None)
        assert pub["duration_ms"] == 1000  # 1.0e3: a whole float
        assert pub["output_bytes"] == 9007199254740993  # exact beyond 2^53
        assert pub["show"] == "burger"
        tool = by_id(con, "silver_tool_events")["edge-tool"]
        assert (tool["dcc_version"], tool["duration_ms"]) == (None, 0)
        assert tool["error"] == 'échec "verrouillé"'  # JSON escapes decoded
        assert tool["path"] == "/groups/sandwich/work/asmith/asmith_v001.nk"
        assert tool["session_id"] == "nuke-0001"
        spools = by_id(con, "silver_tractor_job_spool")
        assert (spools["edge-spool"]["title"], spools["edge-spool"]["priority"]) == (None, None)
        assert spools["edge-priority"]["priority"] == -12.5
        assert spools["edge-priority"]["task_count"] == 3
        snap = by_id(con, "silver_tractor_farm_snapshot")["edge-snapshot"]
        assert (snap["active_jobs"], snap["queued_tasks"]) == (None, None)
        render = by_id(con, "silver_render_stats_summary")["edge-render"]
        assert (render["wall_seconds"], render["peak_rss_bytes"]) == (None, None)
        assert render["cpu_seconds"] == 12.0 and isinstance(render["cpu_seconds"], float)
        scan = by_id(con, "silver_storage_scan_summary")["edge-scan"]
        assert scan["scan_duration_ms"] is None


# --- windows ------------------------------------------------------------------------------------


def test_refreshing_twice_is_idempotent(generated_env: Settings) -> None:
    with open_models(generated_env) as con:
        first = refresh_all(con)
        before = {name: rows(con, name) for name in NAMES}
        assert refresh_all(con) == first
        assert {name: rows(con, name) for name in NAMES} == before


def test_refreshing_a_day_leaves_the_other_days_intact(generated_env: Settings) -> None:
    day = date(2026, 3, 3)
    with open_models(generated_env) as con:
        refresh_all(con)
        before = {name: rows(con, name) for name in NAMES}
        for name in NAMES:
            days = {r["event_date"] for r in before[name]}
            assert day in days and len(days) > 1, name  # the window and other days have rows
            # Mark the other days' rows: a refresh of `day` must not touch them.
            con.execute(
                f"UPDATE {name} SET source_line = -source_line WHERE event_date <> $d", {"d": day}
            )
            written = refresh(con, MODELS[name], day, day)
            assert written == sum(r["event_date"] == day for r in before[name])
            after = rows(con, name)
            marked = [
                r if r["event_date"] == day else {**r, "source_line": -r["source_line"]}
                for r in before[name]
            ]
            assert after == marked, name


def test_the_window_is_end_exclusive(examples_env: Settings) -> None:
    with open_models(examples_env) as con:
        for name in NAMES:
            assert refresh(con, MODELS[name], date(2026, 3, 3), date(2026, 3, 3)) == 0
            assert refresh(con, MODELS[name], date(2026, 3, 5), date(2026, 3, 5)) == 0
            assert refresh(con, MODELS[name], EXAMPLE_DAY, EXAMPLE_DAY) > 0


# --- masking ------------------------------------------------------------------------------------


def _users(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute('SELECT event_id, "user" FROM silver_events').fetchall())


def _masked(settings: Settings, key: str) -> dict[str, dict[str, dict[str, Any]]]:
    with open_models(settings, mask=True, key=key) as con:
        refresh_all(con)
        return {name: by_id(con, name) for name in NAMES}


def test_masked_rows_carry_no_user_name_and_hash_consistently(generated_env: Settings) -> None:
    with open_models(generated_env) as con:
        real = _users(con)
    people = {u for u in real.values() if not u.startswith("svc_")}
    assert len(people) > 5

    run1 = _masked(generated_env, "key-one")
    run2 = _masked(generated_env, "key-one")
    other = _masked(generated_env, "key-two")
    assert run1 == run2  # same key: same hashes, run after run

    hashes: dict[str, set[str]] = {}
    for name in NAMES:
        for event_id, row in run1[name].items():
            hashes.setdefault(real[event_id], set()).add(row["user"])
            # People are hashed; service accounts (svc_*) stay readable for dq_active_users.
            assert (row["user"] == real[event_id]) == (real[event_id] not in people)
            # The spool folder of the user goes through the same hash as the user column.
            assert row["source_file"].split("/")[1] == row["user"]
            # No text column names a person: not the user, not the spool folder, not a path.
            for column, value in row.items():
                if isinstance(value, str):
                    assert not any(p in value for p in people), (name, column, value)
            if real[event_id] in people:
                assert other[name][event_id]["user"] != row["user"]  # another key, another hash
    assert all(len(h) == 1 for h in hashes.values())  # one user, one hash
    assert len({h for hs in hashes.values() for h in hs}) == len(hashes)  # no collisions


def test_unmasked_rows_keep_user_folder_and_paths(examples_env: Settings) -> None:
    with open_models(examples_env) as con:
        refresh_all(con)
        tool = by_id(con, "silver_tool_events")["edge-tool"]
        assert tool["user"] == "asmith"
        assert tool["source_file"] == "ws007/asmith/2026-03-04_edge.jsonl"
    with open_models(examples_env, mask=True, key="k") as con:
        refresh_all(con)
        tool = by_id(con, "silver_tool_events")["edge-tool"]
        hashed = tool["user"]
        assert hashed.startswith("u_") and hashed != "asmith"
        # Only whole path segments equal to the user are hashed; the rest is kept.
        assert tool["source_file"] == f"ws007/{hashed}/2026-03-04_edge.jsonl"
        assert tool["path"] == f"/groups/sandwich/work/{hashed}/asmith_v001.nk"


def test_service_accounts_stay_readable_when_masked(examples_env: Settings) -> None:
    with open_models(examples_env, mask=True, key="k") as con:
        refresh_all(con)
        users = {u for name in NAMES for u in distinct_users(con, name)}
    assert {"svc_tractor", "svc_storage"} <= users


def distinct_users(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [r[0] for r in con.execute(f'SELECT DISTINCT "user" FROM {name}').fetchall()]


# --- integers at the edge of BIGINT ---------------------------------------------------------------


def test_counts_beyond_64_bits_are_quarantined_and_silver_refreshes(piper_env: Settings) -> None:
    """A count past the BIGINT range is invalid_value (docs/design.md): the day still refreshes."""

    def scan(event_id: str, total_bytes: str) -> bytes:
        return (
            f'{{"event_id": "{event_id}", "event_type": "storage.scan.summary",'
            ' "schema_version": "1.0", "ts": "2026-03-04T10:00:00Z", "host": "nas01",'
            ' "user": "svc_storage", "payload": {"root": "/prod", "total_bytes": '
            f'{total_bytes}, "file_count": 1}}}}\n'
        ).encode()

    lines = scan("max", str(2**63 - 1)) + scan("over", str(2**63)) + scan("float", "9.3e18")
    write_spool_file(piper_env.raw_root, "nas01/svc_storage/2026-03-04_scan.jsonl", lines)
    result = ingest(piper_env)
    assert result.events == 1 and result.invalid_by_reason == {"invalid_value": 2}
    with open_models(piper_env) as con:
        assert refresh(con, MODELS["silver_storage_scan_summary"], *date_range(con)) == 1
        assert by_id(con, "silver_storage_scan_summary")["max"]["total_bytes"] == 2**63 - 1
