"""Grafana without a Grafana server: the committed dashboards and provisioning are what the code
generates, every dashboard is well formed, and every panel's SQL, with the macros expanded as the
DuckDB plugin expands them, runs on the served data of a demo warehouse in a fresh in-memory
DuckDB of the plugin's version set up by the provisioned initSql alone."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from piper_dagster.catalog import load_catalog
from piper_dagster.checks.evaluate import clock_skew, invalid_rate
from piper_dagster.checks.outcome import grade
from piper_dagster.contract.families import FAMILIES as SOURCE_FAMILIES
from piper_dagster.contract.models import PUBLISH_TYPES, STATUS_TYPES, TOOL_TYPES
from piper_dagster.grafana.deployment import (
    CONTAINER_DATA_ROOT,
    DATASOURCE_UID,
    GOLD_FOLDER,
    PIPELINE_FOLDER,
    PLUGIN_DUCKDB_VERSION,
    PLUGIN_ID,
)
from piper_dagster.grafana.generate import rendered, stale
from piper_dagster.grafana.panels import LEVEL_COLORS, threshold_steps
from piper_dagster.grafana.pipeline_health import STATUS_COLORS, pipeline_health_dashboard
from piper_dagster.models import GOLD_MODELS
from piper_dagster.serving import SERVED
from piper_dagster.settings import ChecksSettings, Settings, load_settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.demo_warehouse import (
    DEMO_DAYS,
    DEMO_START,
    expand_macros,
    generate,
    insert_alerts,
    insert_check_results,
    insert_refresh_backlog,
    materialize_all,
    piper_settings,
    plugin_query,
    provisioned_init,
)
from piper_dagster_tests.factories import REPO_ROOT, hostile_spool

DASHBOARDS = sorted((REPO_ROOT / "grafana" / "dashboards").rglob("*.json"))
PROVISIONING = REPO_ROOT / "grafana" / "provisioning"
# Types the plugin turns into Grafana fields (HUGEINT, for one, has no converter).
PLUGIN_TYPES = {
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE",
    "VARCHAR",
    "BIGINT",
    "INTEGER",
    "DOUBLE",
    "FLOAT",
    "BOOLEAN",
}
NUMERIC = {"BIGINT", "INTEGER", "DOUBLE", "FLOAT"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        board = _load(path)
        for panel in board["panels"]:
            yield f"{path.parent.name}/{path.name}#{panel['id']}", panel


PANELS = list(_panels())


# --- macros, as the plugin expands them -------------------------------------------------------


def test_expand_macros_as_sqlutil() -> None:
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, 12, 30, tzinfo=UTC)
    assert expand_macros("WHERE $__timeFilter(event_date) AND x", start, end) == (
        "WHERE event_date >= '2026-03-01T00:00:00Z' AND event_date <= '2026-03-08T12:30:00Z' AND x"
    )


# --- the files --------------------------------------------------------------------------------


def test_committed_files_are_what_the_code_generates() -> None:
    assert stale() == [], "run `piper grafana generate` and commit the result"
    generated = {p for p in rendered() if p.parts[1] == "dashboards"}
    assert {p.relative_to(REPO_ROOT) for p in DASHBOARDS} == generated


def test_one_dashboard_per_gold_model_and_pipeline_health() -> None:
    uids = [_load(p)["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)) == len(GOLD_MODELS) + 1
    folders = {p.parent.name for p in DASHBOARDS}
    assert folders == {GOLD_FOLDER, PIPELINE_FOLDER}
    titles = {_load(p)["title"] for p in DASHBOARDS}
    assert "Pipeline health" in titles


def _grid(board: dict[str, Any], kind: str) -> list[dict[str, int]]:
    return [p["gridPos"] for p in board["panels"] if p["type"] == kind]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_layout(path: Path) -> None:
    board = _load(path)
    assert len(board["uid"]) <= 40
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["w"] >= 1 and g["x"] + g["w"] <= 24, panel["title"]
        assert g["h"] >= 1 and g["y"] >= 0
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
    # Operators read stats first, then the series, then the tables: every panel of a kind ends
    # above every panel of the next kind begins.
    kinds = ("stat", "timeseries", "table")
    assert {p["type"] for p in board["panels"]} == set(kinds)
    for upper, lower in itertools.pairwise(kinds):
        bottom = max(g["y"] + g["h"] for g in _grid(board, upper))
        top = min(g["y"] for g in _grid(board, lower))
        assert bottom <= top, f"a {upper} reaches y={bottom}, below a {lower} at y={top}"
    # Links: every piper dashboard (by tag) and the Dagster UI.
    link_types = {link["type"] for link in board["links"]}
    assert link_types == {"dashboards", "link"}
    assert all(
        link["url"].startswith("${dagster_url}/")
        for link in board["links"]
        if link["type"] == "link"
    )
    assert "piper" in board["tags"]
    assert [v["name"] for v in board["templating"]["list"]] == ["dagster_url"]


@pytest.mark.parametrize(("where", "panel"), PANELS, ids=[w for w, _ in PANELS])
def test_panel_query_model(where: str, panel: dict[str, Any]) -> None:
    assert panel["datasource"] == {"type": PLUGIN_ID, "uid": DATASOURCE_UID}
    assert panel["targets"], where
    for target in panel["targets"]:
        assert target["datasource"] == {"type": PLUGIN_ID, "uid": DATASOURCE_UID}
        assert type(target["format"]) is int and target["format"] in (0, 1)
        assert target["editorMode"] == "code" and target["rawQuery"] is True
        sql = target["rawSql"]
        assert "$__timeFilter(" in sql
        # A bare column: sqlds' older macro regex stops at the first closing parenthesis.
        args = re.findall(r"\$__timeFilter\(([^)]*)\)", sql)
        assert args and all(re.fullmatch(r"\w+", a) for a in args), args
        # Only the macro the plugin implements well; no file access around the views.
        assert set(re.findall(r"\$__\w+", sql)) == {"$__timeFilter"}
        assert "read_parquet" not in sql and "'/" not in sql and "${DS" not in sql


def grafana_color(steps: list[dict[str, Any]], value: float) -> str:
    """The color Grafana gives a value: the last step whose value is <= it."""
    color = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            color = step["color"]
    return color


def test_thresholds_give_the_catalog_levels() -> None:
    rng = random.Random(6)
    checked = 0
    for entry in load_catalog():
        steps = threshold_steps(entry)
        if entry.warn is None and entry.fail is None:
            assert len(steps) == 1
            continue
        thresholds = [t for t in (entry.warn, entry.fail) if t is not None]
        values = [v + d for v in thresholds for d in (-1e-9, 0.0, 1e-9)]
        values += [rng.uniform(-0.5, 1.5) for _ in range(200)]
        for value in values:
            assert grafana_color(steps, value) == LEVEL_COLORS[entry.level(value)], (
                entry.name,
                value,
            )
            checked += 1
    assert checked > 0


def test_every_headline_metric_has_a_stat_with_its_catalog_thresholds() -> None:
    stats = {p["options"]["reduceOptions"]["fields"]: p for _, p in PANELS if p["type"] == "stat"}
    for entry in load_catalog():
        if entry.headline:
            panel = stats[f"/^{entry.column}$/"]
            assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"] == threshold_steps(entry)
            assert panel["description"].startswith(entry.description)


def check_stat_steps(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The threshold steps of each pipeline-health stat field the checks judge, by field."""
    stats = {p["title"]: p for p in board["panels"] if p["type"] == "stat"}
    steps = {
        field: stats[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        for title, field in (
            ("Invalid rate (latest spool day)", "invalid_rate"),
            ("Clock-skewed share (latest spool day)", "skewed_share"),
        )
    }
    for override in stats["Newest event age (hours)"]["fieldConfig"]["overrides"]:
        (prop,) = override["properties"]
        assert prop["id"] == "thresholds"
        steps[override["matcher"]["options"]] = prop["value"]["steps"]
    return steps


def check_thresholds(checks: ChecksSettings) -> dict[str, tuple[float, float]]:
    """(WARN, FAIL) of what each of those fields shows, as the checks read them."""
    out = {
        "invalid_rate": (checks.invalid_rate_warn, checks.invalid_rate_fail),
        "skewed_share": (checks.clock_skew_warn, checks.clock_skew_fail),
    }
    for f in SOURCE_FAMILIES:
        out[f] = (
            getattr(checks, f"freshness_{f}_warn_hours"),
            getattr(checks, f"freshness_{f}_fail_hours"),
        )
    return out


@pytest.mark.parametrize("changed", [False, True], ids=["committed", "regenerated"])
def test_pipeline_stats_color_as_the_checks_grade(changed: bool) -> None:
    """Freshness per family, invalid rate and clock skew: green, orange, red exactly where the
    checks say PASS, WARN, FAIL. The committed dashboard carries the settings' thresholds;
    other thresholds give other colors once regenerated."""
    checks = load_settings().checks
    if changed:
        checks = checks.model_copy(
            update={"freshness_farm_warn_hours": 3.0, "freshness_farm_fail_hours": 9.0,
                    "invalid_rate_warn": 0.2, "clock_skew_fail": 0.5}
        )  # fmt: skip
        board = pipeline_health_dashboard(checks)
    else:
        board = _load(REPO_ROOT / "grafana/dashboards/piper-pipeline/pipeline_health.json")
    steps = check_stat_steps(board)
    thresholds = check_thresholds(checks)
    assert steps.keys() == thresholds.keys()
    for field, (warn, fail) in thresholds.items():
        for value in (0.0, warn / 2, warn, warn + 1e-9, (warn + fail) / 2, fail, fail + 1e-9, 99.0):
            want = STATUS_COLORS[grade(value, warn, fail)]
            assert grafana_color(steps[field], value) == want, (field, value)


def test_every_check_status_has_its_color_skip_its_own() -> None:
    """SKIP (a check that could not judge) is colored apart from PASS, WARN and FAIL, in the
    latest-results table and the outcomes chart of the committed dashboard."""
    from piper_dagster.checks import Status

    board = _load(REPO_ROOT / "grafana/dashboards/piper-pipeline/pipeline_health.json")
    panels = {p["title"]: p for p in board["panels"]}
    (status,) = [
        o
        for o in panels["Latest check results"]["fieldConfig"]["overrides"]
        if o["matcher"] == {"id": "byName", "options": "status"}
    ]
    (mapping,) = [p["value"] for p in status["properties"] if p["id"] == "mappings"]
    colors = {s: m["color"] for s, m in mapping[0]["options"].items()}
    assert set(colors) == {str(s) for s in Status}
    assert len(set(colors.values())) == len(colors)  # SKIP is not PASS's green
    chart = {
        o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
        for o in panels["Check outcomes per day"]["fieldConfig"]["overrides"]
    }
    assert chart == {f".*{s}.*": c for s, c in colors.items()}
    assert "WHEN 'SKIP' THEN 2" in panels["Latest check results"]["targets"][0]["rawSql"]


# --- provisioning -----------------------------------------------------------------------------


def _datasource() -> dict[str, Any]:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "piper.yaml").read_text())
    (source,) = doc["datasources"]
    return source


def test_datasource_is_the_plugins_in_memory_duckdb_with_the_serving_views() -> None:
    source = _datasource()
    assert source["uid"] == DATASOURCE_UID and source["type"] == PLUGIN_ID
    assert source["jsonData"]["path"] == ""  # in memory: never a warehouse file
    init = source["jsonData"]["initSql"]
    views = set(re.findall(r"CREATE OR REPLACE TEMP VIEW (\w+) AS", init))
    assert views == set(SERVED)
    for path in re.findall(r"read_parquet\('([^']+)'\)", init):
        assert path.startswith(f"{CONTAINER_DATA_ROOT}/serving/current/")


def test_dashboard_provider_reads_folders_from_files() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "piper.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["foldersFromFilesStructure"] is True
    assert "folder" not in provider and "folderUid" not in provider  # not with folders from files


# --- the SQL, on served data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A demo warehouse (real Dagster run, check results), published."""
    from piper_dagster.serving import publish

    with piper_settings(tmp_path_factory.mktemp("demo")) as settings:
        generate(settings)
        hostile_spool(settings.raw_root)  # skipped and reported: the spool anomalies panels
        last = DEMO_START + timedelta(days=DEMO_DAYS - 1)
        materialize_all(DEMO_START - timedelta(days=1), last)
        insert_check_results(settings, DEMO_START, DEMO_DAYS)
        insert_refresh_backlog(settings, last)
        insert_alerts(settings)
        publish(settings)
        yield settings


# The ranges every panel runs over: the demo's days (a week before them to now), and a month
# before any data.
WIDE, EMPTY = "wide", "empty"


def _range(name: str) -> tuple[datetime, datetime]:
    if name == EMPTY:
        return datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)
    start = datetime.combine(DEMO_START - timedelta(days=7), datetime.min.time(), UTC)
    # The macro writes whole seconds: a range ending "now" in the publication's own second
    # would end before it.
    return start, datetime.now(UTC) + timedelta(seconds=2)


def plugin_sql(settings: Settings, queries: list[str], connections: int = 1) -> list[dict]:
    """Queries as the plugin runs them: on its DuckDB, over pooled connections of one in-memory
    database, each set up by the provisioned initSql alone (the container's data root replaced
    by this test's)."""
    report = plugin_query(provisioned_init(settings), queries, connections)
    assert report["init_errors"] == [None] * connections
    return report["results"]


@pytest.fixture(scope="module")
def panel_results(served: Settings) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every panel target's result over each range, by (panel, refId, range): one reader, eight
    pooled connections, as a dashboard loading."""
    keys, queries = [], []
    for where, panel in PANELS:
        for target in panel["targets"]:
            for name in (WIDE, EMPTY):
                keys.append((where, target["refId"], name))
                queries.append(expand_macros(target["rawSql"], *_range(name)))
    results = plugin_sql(served, queries, connections=8)
    return dict(zip(keys, results, strict=True))


def columns_used(panel: dict[str, Any]) -> set[str]:
    """Columns a panel refers to by name: overrides, sorting, series labels, stat fields."""
    used = {
        o["matcher"]["options"]
        for o in panel["fieldConfig"]["overrides"]
        if o["matcher"]["id"] == "byName"
    }
    used |= {s["displayName"] for s in panel["options"].get("sortBy", [])}
    display = panel["fieldConfig"]["defaults"].get("displayName", "")
    used |= set(re.findall(r"\$\{__field\.labels\.(\w+)\}", display))
    if panel["type"] == "timeseries":
        used.add("time")
    return used


def test_the_reader_is_the_plugins_duckdb(served: Settings) -> None:
    assert plugin_query(provisioned_init(served), [])["duckdb"] == PLUGIN_DUCKDB_VERSION


@pytest.mark.parametrize(("where", "panel"), PANELS, ids=[w for w, _ in PANELS])
def test_panel_sql_runs_on_the_served_data(
    panel_results: dict[tuple[str, str, str], dict[str, Any]], where: str, panel: dict[str, Any]
) -> None:
    for target in panel["targets"]:
        result = panel_results[where, target["refId"], WIDE]
        assert "error" not in result, f"{where}: {result.get('error')}"
        names, types, rows = result["columns"], result["types"], result["rows"]
        assert rows, f"{where}: no rows"
        assert set(types) <= PLUGIN_TYPES, f"{where}: {dict(zip(names, types, strict=True))}"
        assert columns_used(panel) <= set(names), f"{where}: {names}"
        if panel["type"] == "stat":
            pattern = panel["options"]["reduceOptions"]["fields"].strip("/")
            fields = [n for n in names if re.fullmatch(pattern, n)]
            assert fields and all(types[names.index(f)] in NUMERIC for f in fields), where
            assert any(r[names.index(f)] is not None for r in rows for f in fields), where
        if target["format"] == 0:
            # The plugin's long-to-wide conversion wants time first, sorted ascending.
            assert names[0] == "time" and types[0].startswith("TIMESTAMP"), where
            times = [r[0] for r in rows]
            assert times == sorted(times), where
            assert any(t in NUMERIC for t in types[1:]), where


@pytest.mark.parametrize(("where", "panel"), PANELS, ids=[w for w, _ in PANELS])
def test_panel_time_filter_excludes_other_times(
    panel_results: dict[tuple[str, str, str], dict[str, Any]], where: str, panel: dict[str, Any]
) -> None:
    # A range before any data: nothing, or a stat over nothing.
    for target in panel["targets"]:
        result = panel_results[where, target["refId"], EMPTY]
        assert "error" not in result, f"{where}: {result.get('error')}"
        assert all(v in (None, 0) for r in result["rows"] for v in r), where


def test_source_families_are_the_dashboards(served: Settings) -> None:
    (result,) = plugin_sql(served, ["SELECT DISTINCT source_family FROM health_ingest_daily"])
    assert {r[0] for r in result["rows"]} == set(SOURCE_FAMILIES)


def test_time_filter_on_a_date_keeps_the_days_the_range_touches(served: Settings) -> None:
    # Grafana's "last 24 hours" starts and ends inside days: the plugin's filter compares a DATE
    # with RFC 3339 strings, which DuckDB casts to DATE, so both days touched are shown.
    start = datetime.combine(DEMO_START, datetime.min.time(), UTC) + timedelta(hours=13)
    end = start + timedelta(hours=22)
    sql = expand_macros(
        "SELECT DISTINCT event_date FROM gold_data_quality_daily WHERE $__timeFilter(event_date)"
        " ORDER BY 1",
        start,
        end,
    )
    (result,) = plugin_sql(served, [sql])
    assert [r[0] for r in result["rows"]] == [DEMO_START, DEMO_START + timedelta(days=1)]


# Each rate of contract §7: the event types its denominator counts, the status its numerator
# counts, and the gold column holding its denominator (dq_error_rate's is not a gold column).
RATES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "publish_success_rate": (PUBLISH_TYPES, "success", "publish_count"),
    "tool_success_rate": (TOOL_TYPES, "success", "tool_invocations"),
    "render_success_rate": (("render.stats.summary",), "success", "render_job_count"),
    "dq_error_rate": (STATUS_TYPES, "failure", None),
}


def test_rates_are_added_up_only_through_their_denominators() -> None:
    weighted = {
        pair
        for _, panel in PANELS
        for target in panel["targets"]
        for pair in re.findall(r"sum\((\w+) \* (\w+)\)", target["rawSql"])
    }
    # Each by its contract denominator; the breakdown models' (publish, tool) do add up.
    assert weighted <= {(rate, d) for rate, (_, _, d) in RATES.items() if d}, weighted
    assert {"publish_success_rate", "tool_success_rate"} <= {rate for rate, _ in weighted}
    with pytest.raises(ValueError, match="no denominator"):
        next(e for e in load_catalog() if e.name == "dq_error_rate").aggregate_sql()


def test_the_catalog_declares_every_rates_rule_and_the_gold_panels_follow_it() -> None:
    """The catalog is the single source of how a metric adds up: every rate declares the
    contract's denominator (or none), and every aggregate a gold panel computes is the catalog's,
    a rate without a denominator column never added up."""
    catalog = load_catalog()
    rates = [e for e in catalog if e.aggregate == "rate"]
    assert {e.name: e.denominator for e in rates} == {r: d for r, (_, _, d) in RATES.items()}
    assert {e.name for e in catalog if e.unit == "ratio"} == {e.name for e in rates}
    sqls = [t["rawSql"] for w, p in PANELS if w.startswith(GOLD_FOLDER) for t in p["targets"]]
    added_up: set[str] = set()
    for sql in sqls:
        for e in rates:
            if e.denominator is not None and e.aggregate_sql() in sql:
                sql = sql.replace(e.aggregate_sql(), f"<{e.name}>")
                added_up.add(e.name)
        for e in catalog:
            # Any function of a metric column left is its catalog aggregate (a rate's: none).
            calls = re.findall(rf"\w+\({e.column}\b", sql)
            want = 0 if e.aggregate == "rate" else sql.count(e.aggregate_sql())
            assert len(calls) == want, (e.name, sql)
            if calls:
                added_up.add(e.name)
    breakdown = {"gold_publish_health_daily", "gold_tool_reliability_daily"}
    assert {e.name for e in catalog if e.model in breakdown} <= added_up
    assert "dq_error_rate" not in added_up


def test_every_rate_a_panel_shows_is_numerator_over_denominator(served: Settings) -> None:
    """Every rate a gold panel shows, for a day or added up over several (across a breakdown, over
    the range), is the contract's numerator over its denominator counted from the warehouse's
    events, not an average of rates. Over days 2 to 4 of the demo."""
    first, last = DEMO_START + timedelta(days=1), DEMO_START + timedelta(days=DEMO_DAYS - 1)
    start, end = datetime.combine(first, time.min, UTC), datetime.combine(last, time.max, UTC)
    with connect(served.warehouse_path, read_only=True) as wh:
        events = wh.execute(
            "SELECT event_date, event_type, payload ->> '$.status' FROM silver_events"
            " WHERE event_date BETWEEN ? AND ?",
            [first, last],
        ).fetchall()
    gold = [p for w, p in PANELS if w.startswith(GOLD_FOLDER)]
    sqls = [expand_macros(t["rawSql"], start, end) for p in gold for t in p["targets"]]
    checked: dict[str, set[date | None]] = {}
    for result in plugin_sql(served, sqls):
        for row in result["rows"]:
            r = dict(zip(result["columns"], row, strict=True))
            day = r.get("time", r.get("event_date"))
            day = day.date() if isinstance(day, datetime) else day  # None: over the range
            group = [
                (t, status)
                for d, t, status in events
                if day in (None, d) and r.get("event_type") in (None, t)
            ]
            for column in RATES.keys() & r.keys():
                types, outcome, _ = RATES[column]
                counted = [status for t, status in group if t in types]
                want = sum(s == outcome for s in counted) / len(counted) if counted else None
                assert r[column] == pytest.approx(want), (column, r)
                checked.setdefault(column, set()).add(day)
    # Every rate on several days, and the breakdown tables' range aggregates.
    assert all(len(days - {None}) == DEMO_DAYS - 1 for days in checked.values()), checked
    assert set(checked) == set(RATES)
    assert None in checked["publish_success_rate"] and None in checked["tool_success_rate"]


def test_pipeline_stats_show_what_the_checks_measure(served: Settings) -> None:
    """The invalid-rate and clock-skew stats show, per spool day, the value the check computes
    from the warehouse (the invalid rate only where the check judges it)."""
    board = _load(REPO_ROOT / "grafana/dashboards/piper-pipeline/pipeline_health.json")
    stats = {p["title"]: p for p in board["panels"] if p["type"] == "stat"}
    titles = ("Invalid rate (latest spool day)", "Clock-skewed share (latest spool day)")
    sqls = [expand_macros(stats[t]["targets"][0]["rawSql"], *_range(WIDE)) for t in titles]
    shown = [{r[0].date(): r[1] for r in result["rows"]} for result in plugin_sql(served, sqls)]
    checks = load_settings().checks
    first, last = min(shown[0]), max(shown[0])
    with connect(served.warehouse_path, read_only=True) as wh:
        measured = [
            {o.partition_date: o for o in check(wh, checks, first, last)}
            for check in (invalid_rate, clock_skew)
        ]
    judged = {
        day for day, o in measured[0].items() if o.detail["lines"] >= checks.invalid_rate_min_lines
    }
    assert judged and judged == {day for day, v in shown[0].items() if v is not None}
    for values, outcomes, days in zip(shown, measured, (judged, set(shown[1])), strict=True):
        assert days <= set(values)
        for day in days:
            assert values[day] == pytest.approx(outcomes[day].value), day
