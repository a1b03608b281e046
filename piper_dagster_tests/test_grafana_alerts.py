"""Grafana's alert rules, contact point and notification policy, without a Grafana server: the
committed files are what the code generates and validate against the provisioning format
(grafana/schemas/alerting.schema.json); every rule's references hold (refIds, the dashboard panel
it links, its runbook section, unique uids); its thresholds fire exactly at the catalog's levels
and the checks' statuses; and every rule's query runs on a published serving layer in the
plugin's DuckDB, evaluated as Grafana's expressions would (last value, threshold) against what the
warehouse says."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from piper_dagster.catalog import MetricEntry, load_catalog
from piper_dagster.checks import CHECKS, PARTITION_CHECKS, SPOOL_ASSET, CheckOutcome, Status
from piper_dagster.checks import record as record_outcomes
from piper_dagster.checks.evaluate import BLOCKING_CHECKS
from piper_dagster.grafana.alerting import (
    ALERT_WEBHOOK_ENV,
    CHECK_LEVELS,
    CONTACT_POINT,
    EXPR_UID,
    UID_MAX,
    alert_rules_provisioning,
    fires,
    gold_rules,
    level_evaluators,
    uid,
)
from piper_dagster.grafana.deployment import (
    DATASOURCE,
    DATASOURCE_UID,
    GOLD_FOLDER,
    PIPELINE_FOLDER,
)
from piper_dagster.grafana.generate import dashboards, rendered, stale, write
from piper_dagster.grafana.gold import GOLD_VIEWS
from piper_dagster.models import GOLD_MODELS
from piper_dagster.settings import Settings, load_settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.demo_warehouse import (
    DEMO_DAYS,
    DEMO_START,
    expand_macros,
    generate,
    materialize_all,
    piper_settings,
    plugin_query,
    provisioned_init,
)
from piper_dagster_tests.factories import REPO_ROOT

ALERTING = REPO_ROOT / "grafana" / "provisioning" / "alerting"
RULES_FILE = ALERTING / "rules.yaml"
NOTIFICATIONS_FILE = ALERTING / "notifications.yaml"
SCHEMA = REPO_ROOT / "grafana" / "schemas" / "alerting.schema.json"
NUMERIC = {"BIGINT", "INTEGER", "DOUBLE", "FLOAT"}
CATALOG = {e.name: e for e in load_catalog()}


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


RULES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (group, rule) for group in _yaml(RULES_FILE)["groups"] for rule in group["rules"]
]
BOARDS = {
    (b := json.loads(p.read_text(encoding="utf-8")))["uid"]: b
    for p in (REPO_ROOT / "grafana" / "dashboards").rglob("*.json")
}
IDS = [rule["uid"] for _, rule in RULES]


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _query(rule: dict[str, Any]) -> dict[str, Any]:
    (query,) = [d for d in rule["data"] if d["datasourceUid"] != EXPR_UID]
    return query


def _evaluator(rule: dict[str, Any]) -> tuple[str, list[float]]:
    (cond,) = [d for d in rule["data"] if d["refId"] == rule["condition"]]
    (condition,) = cond["model"]["conditions"]
    return condition["evaluator"]["type"], condition["evaluator"]["params"]


# --- the files -------------------------------------------------------------------------------------


def test_committed_alerting_files_are_what_the_code_generates(tmp_path: Path) -> None:
    assert stale() == [], "run `piper grafana generate` and commit the result"
    generated = {p for p in rendered() if p.parts[:3] == ("grafana", "provisioning", "alerting")}
    assert {p.relative_to(REPO_ROOT) for p in ALERTING.iterdir()} == generated
    # --check covers them: a hand edit of a rule is reported, generate writes it back.
    write(tmp_path)
    assert stale(tmp_path) == []
    rules = tmp_path / RULES_FILE.relative_to(REPO_ROOT)
    rules.write_text(rules.read_text().replace("0.95", "0.96"))
    assert stale(tmp_path) == [RULES_FILE.relative_to(REPO_ROOT)]
    assert write(tmp_path) == [RULES_FILE.relative_to(REPO_ROOT)]
    from piper_dagster.cli import app

    result = CliRunner().invoke(app, ["grafana", "generate", "--check"])
    assert result.exit_code == 0, result.output


def test_alerting_files_validate_against_the_provisioning_format(tmp_path: Path) -> None:
    result = check_jsonschema("--schemafile", str(SCHEMA), str(RULES_FILE), str(NOTIFICATIONS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema catches what Grafana would refuse or silently misread.
    doc = _yaml(RULES_FILE)
    bad_docs = []
    for mutate in (
        lambda r: r.pop("condition"),
        lambda r: r.update(uid="x" * (UID_MAX + 1)),
        lambda r: r.update(noDataState="Ok"),
        lambda r: r.update(four="5m"),
        lambda r: r.pop("panelId"),
        lambda r: r["data"][2]["model"]["conditions"][0]["evaluator"].update(type="above"),
        lambda r: r["data"][0].pop("relativeTimeRange"),
    ):
        bad = json.loads(json.dumps(doc))
        mutate(bad["groups"][0]["rules"][0])
        bad_docs.append(bad)
    notifications = _yaml(NOTIFICATIONS_FILE)
    bad = json.loads(json.dumps(notifications))
    bad["contactPoints"][0]["receivers"][0]["settings"].pop("url")
    bad_docs.append(bad)
    bad = json.loads(json.dumps(notifications))
    bad["policies"][0]["routes"][0]["orgId"] = 1  # only the root policy names its org
    bad_docs.append(bad)
    for i, bad in enumerate(bad_docs):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text(yaml.safe_dump(bad))
        result = check_jsonschema("--schemafile", str(SCHEMA), str(path))
        assert result.returncode == 1, (i, result.stdout)


def test_one_rule_per_catalog_threshold_and_per_check_level() -> None:
    gold = {
        (r["labels"]["metric"], r["labels"]["severity"])
        for _, r in RULES
        if "metric" in r["labels"]
    }
    want = {(e.name, "warn") for e in CATALOG.values() if e.warn is not None}
    want |= {(e.name, "fail") for e in CATALOG.values() if e.fail is not None}
    assert gold == want and len(want) >= 8
    checks = {
        (r["labels"]["check"], r["labels"]["severity"]) for _, r in RULES if "check" in r["labels"]
    }
    assert checks == {(c, s) for c in CHECKS for s in ("warn", "fail")}
    assert len(RULES) == len(gold) + len(checks)


def test_uids_titles_and_refids() -> None:
    assert len(IDS) == len(set(IDS))
    titles = [(g["folder"], r["title"]) for g, r in RULES]
    assert len(titles) == len(set(titles)), "Grafana wants unique titles within a folder"
    for group, rule in RULES:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", rule["uid"]), rule["uid"]
        refs = [d["refId"] for d in rule["data"]]
        assert len(refs) == len(set(refs)) and rule["condition"] in refs
        assert refs == ["A", "B", "C"]
        query = _query(rule)
        assert query["datasourceUid"] == DATASOURCE_UID
        assert query["model"]["datasource"] == DATASOURCE
        assert type(query["model"]["format"]) is int
        assert query["relativeTimeRange"]["from"] > query["relativeTimeRange"]["to"] == 0
        # Expressions read only queries or expressions listed before them.
        for i, d in enumerate(rule["data"][1:], start=1):
            assert d["datasourceUid"] == EXPR_UID
            assert d["model"]["datasource"] == {"type": EXPR_UID, "uid": EXPR_UID}
            assert d["model"]["expression"] in refs[:i]
        assert [d["model"]["type"] for d in rule["data"][1:]] == ["reduce", "threshold"]
        assert rule["data"][1]["model"]["reducer"] == "last"
        assert rule["labels"]["severity"] in ("warn", "fail")
        assert rule["noDataState"] == "OK" and rule["execErrState"] == "Error"
        assert group["orgId"] == 1 and group["folder"] in {GOLD_FOLDER, PIPELINE_FOLDER}


def test_uid_is_shortened_within_grafanas_limit() -> None:
    long = uid("piper", "a_metric_name_far_longer_than_any_today", "warn")
    assert len(long) == UID_MAX and long != uid(
        "piper", "a_metric_name_far_longer_than_any_today_", "warn"
    )
    assert uid("piper", "x", "fail") == "piper-x-fail"


def test_nothing_grafana_would_interpolate_by_mistake() -> None:
    """Grafana expands $VAR / ${VAR} from its environment in titles, labels and contact point
    settings (not in a query's model): only the webhook URL may use it; annotations hold
    templates ({{ $labels.x }}), never a ${...}."""
    for group, rule in RULES:
        for text in (group["name"], group["folder"], rule["title"], *rule["labels"].values()):
            assert "$" not in text, text
        for text in rule["annotations"].values():
            assert "${" not in text, text
            assert text.count("{{") == text.count("}}")
    notifications = NOTIFICATIONS_FILE.read_text()
    assert re.findall(r"\$\{?\w+\}?", notifications) == [f"${{{ALERT_WEBHOOK_ENV}}}"]


def test_every_rule_links_a_generated_panel_and_a_runbook_section() -> None:
    runbook = (REPO_ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    for _, rule in RULES:
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"]
        board_uid, panel_id = notes["__dashboardUid__"], int(notes["__panelId__"])
        assert (rule["dashboardUid"], rule["panelId"]) == (board_uid, panel_id)
        (panel,) = [p for p in BOARDS[board_uid]["panels"] if p["id"] == panel_id]
        assert f"'{panel['title']}'" in notes["description"]
        path, anchor = notes["runbook_url"].split("#")
        assert path == "docs/runbook.md" and anchor in anchors, notes["runbook_url"]
        labels = rule["labels"]
        if "metric" in labels:
            entry = CATALOG[labels["metric"]]
            assert anchor == entry.name and labels["model"] == entry.model
            # The metric's stat, on its model's dashboard.
            assert BOARDS[board_uid]["uid"] == f"piper-{entry.model.replace('_', '-')}"
            assert panel["type"] == "stat"
            assert panel["options"]["reduceOptions"]["fields"] == f"/^{entry.column}$/"
        else:
            assert anchor == CHECKS[labels["check"]].anchor
            assert board_uid == "piper-pipeline-health"


def test_gold_rules_query_what_their_stat_shows() -> None:
    """One source of truth: a gold rule fires when the stat it links turns orange or red."""
    for _, rule in RULES:
        if "metric" not in rule["labels"]:
            continue
        (panel,) = [p for p in BOARDS[rule["dashboardUid"]]["panels"] if p["id"] == rule["panelId"]]
        (target,) = panel["targets"]
        model = _query(rule)["model"]
        assert (model["rawSql"], model["format"]) == (target["rawSql"], target["format"])


def _boundary_values(entry: MetricEntry, rng: random.Random) -> list[float]:
    thresholds = [t for t in (entry.warn, entry.fail) if t is not None]
    values = [v for t in thresholds for v in (math.nextafter(t, -1), t, math.nextafter(t, 2))]
    values += [t + d for t in thresholds for d in (-1e-9, 1e-9, -0.01, 0.01)]
    return values + [rng.uniform(-0.5, 1.5) for _ in range(300)] + [0.0, 1.0]


def test_gold_thresholds_are_the_catalogs_and_fire_at_its_levels() -> None:
    """The committed thresholds are the catalog's numbers, and each rule fires exactly when
    MetricEntry.level() says its severity (WARN not on FAIL: one alert per level)."""
    rng = random.Random(15)
    by_metric: dict[str, dict[str, tuple[str, list[float]]]] = {}
    for _, rule in RULES:
        if "metric" in rule["labels"]:
            by_metric.setdefault(rule["labels"]["metric"], {})[rule["labels"]["severity"]] = (
                _evaluator(rule)
            )
    assert by_metric
    for name, evaluators in by_metric.items():
        entry = CATALOG[name]
        assert evaluators == {
            s: (k, list(p))
            for s, (k, p) in level_evaluators(entry.warn, entry.fail, entry.good).items()
        }
        # The numbers: the catalog's (a WARN range ends at FAIL's neighbouring double).
        kind, params = evaluators["fail"]
        assert (kind, params) == ("lt" if entry.good == "up" else "gt", [entry.fail])
        kind, params = evaluators["warn"]
        assert kind == "within_range" and entry.warn in params
        assert math.nextafter(entry.fail, -math.inf if entry.good == "up" else math.inf) in params
        for value in _boundary_values(entry, rng):
            level = entry.level(value)
            for severity, evaluator in evaluators.items():
                assert fires(evaluator, value) == (level == severity), (name, severity, value)


@pytest.mark.parametrize("good", ["up", "down"])
@pytest.mark.parametrize(("warn", "fail"), [(5.0, None), (None, 5.0), (5.0, 5.0)])
def test_evaluators_of_a_single_threshold_fire_at_its_level(
    good: str, warn: float | None, fail: float | None
) -> None:
    """Thresholds the catalog allows but does not use today: WARN or FAIL alone, or equal."""
    entry = MetricEntry(
        name="m", model="gold_render_health_daily", column="m", unit="jobs", description="d",
        good=good, aggregate="sum", warn=warn, fail=fail,
    )  # fmt: skip
    evaluators = level_evaluators(entry.warn, entry.fail, entry.good)
    assert set(evaluators) == {s for s, t in (("warn", warn), ("fail", fail)) if t is not None}
    for value in (0.0, 4.9, math.nextafter(5.0, 0), 5.0, math.nextafter(5.0, 9), 5.1, 9.0):
        for severity, evaluator in evaluators.items():
            assert fires(evaluator, value) == (entry.level(value) == severity), (severity, value)


def test_a_threshold_without_its_stat_is_refused() -> None:
    entry = CATALOG["render_job_count"].model_copy(update={"good": "down", "warn": 9.0})
    boards = dashboards(load_settings().checks)
    board = boards[f"{GOLD_FOLDER}/{entry.model}.json"]
    with pytest.raises(ValueError, match="headline"):
        gold_rules([entry], {entry.model: board}, "")


def test_check_rules_fire_at_their_status() -> None:
    levels = {Status.SKIP: 0.0, Status.PASS: 0.0, Status.WARN: 1.0, Status.FAIL: 2.0}
    for _, rule in RULES:
        if "check" not in rule["labels"]:
            continue
        severity = rule["labels"]["severity"]
        assert _evaluator(rule) == CHECK_LEVELS[severity]
        for status, level in levels.items():
            assert fires(_evaluator(rule), level) == (status == severity.upper())
        sql = _query(rule)["model"]["rawSql"]
        assert f"check_name = '{rule['labels']['check']}'" in sql
        assert "CASE status WHEN 'FAIL' THEN 2 WHEN 'WARN' THEN 1 ELSE 0 END" in sql


def test_windows_and_runbook_links_follow_the_settings() -> None:
    """A blocking check reads the whole served history (its FAIL holds gold back until a new
    outcome passes), the others a day; with checks.runbook_url the links are web addresses."""
    settings = load_settings()
    for _, rule in RULES:
        if "check" in rule["labels"]:
            window = _query(rule)["relativeTimeRange"]["from"]
            blocking = rule["labels"]["check"] in BLOCKING_CHECKS
            assert window == (settings.serving.health_days * 86400 if blocking else 86400)
    assert BLOCKING_CHECKS
    url = "https://git.studio.example/piper/-/blob/main/docs/runbook.md"
    changed = settings.model_copy(
        update={"checks": settings.checks.model_copy(update={"runbook_url": url})}
    )
    boards = dashboards(changed.checks)
    gold = {m.name: boards[f"{GOLD_FOLDER}/{m.name}.json"] for m in GOLD_MODELS}
    pipeline = boards[f"{PIPELINE_FOLDER}/pipeline_health.json"]
    doc = alert_rules_provisioning(load_catalog(), gold, pipeline, changed)
    links = [r["annotations"]["runbook_url"] for g in doc["groups"] for r in g["rules"]]
    committed = [r["annotations"]["runbook_url"] for _, r in RULES]
    assert links == [c.replace("docs/runbook.md", url) for c in committed]


def test_contact_point_and_policy_from_the_environment() -> None:
    doc = _yaml(NOTIFICATIONS_FILE)
    (point,) = doc["contactPoints"]
    assert point["name"] == CONTACT_POINT
    (receiver,) = point["receivers"]
    assert receiver["type"] == "webhook"
    assert receiver["settings"]["url"] == f"${{{ALERT_WEBHOOK_ENV}}}"
    (policy,) = doc["policies"]
    receivers = {policy["receiver"], *(r["receiver"] for r in policy["routes"])}
    assert receivers == {CONTACT_POINT}
    routed = {m[2] for r in policy["routes"] for m in r["object_matchers"]}
    assert routed == {"warn", "fail"}
    # docker compose hands the variable to Grafana, with a default so that Grafana starts.
    compose = _yaml(REPO_ROOT / "docker-compose.yml")
    value = compose["services"]["grafana"]["environment"][ALERT_WEBHOOK_ENV]
    assert re.fullmatch(rf"\$\{{{ALERT_WEBHOOK_ENV}:-http://[^}}]+\}}", value), value
    assert f"# {ALERT_WEBHOOK_ENV}=" in (REPO_ROOT / ".env.example").read_text()


# --- the queries, on a published serving layer ----------------------------------------------------

# Scripted outcomes per check, keyed (scope, partition): (hours ago, status) in order.
SCRIPT: dict[int, list[tuple[float, Status]]] = {
    1: [(3, Status.FAIL), (1, Status.PASS)],  # recovered: the latest outcome counts
    2: [(3, Status.PASS), (1, Status.FAIL)],  # failing now
    3: [(1, Status.WARN)],  # warning now
    4: [(1, Status.SKIP)],  # could not judge: no alert
    5: [(30, Status.WARN)],  # a day and more ago: only a blocking check still reads it
}


def _key(check: str, i: int) -> tuple[str, date | None]:
    return f"pipertest-{i}", (date(2026, 6, i) if check in PARTITION_CHECKS else None)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, datetime]]:
    """A demo warehouse (a real Dagster run: gold, and the checks' own outcomes), the scripted
    outcomes recorded as the checks record theirs, published. Yields the scripting time."""
    from piper_dagster.serving import publish

    with piper_settings(tmp_path_factory.mktemp("alerts")) as settings:
        generate(settings)
        last = DEMO_START + timedelta(days=DEMO_DAYS - 1)
        materialize_all(DEMO_START - timedelta(days=1), last)
        now = datetime.now(UTC)
        with connect(settings.warehouse_path) as con:
            for check in CHECKS:
                for i, steps in SCRIPT.items():
                    scope, partition = _key(check, i)
                    for hours, status in steps:
                        outcome = CheckOutcome(check, partition, scope, status, 0.5, 0.1, 0.9)
                        at = now - timedelta(hours=hours)
                        record_outcomes(
                            con, [outcome], asset=SPOOL_ASSET, evaluated_at=at, run_id="t"
                        )
        publish(settings)
        yield settings, now


def _run(settings: Settings, rules: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each rule's query A over its relative time range ending `now`, on the plugin's DuckDB
    (four pooled connections, set up by the provisioned initSql alone)."""
    queries = []
    for rule in rules:
        query = _query(rule)
        window = query["relativeTimeRange"]
        start = now - timedelta(seconds=window["from"])
        end = now - timedelta(seconds=window["to"])
        queries.append(expand_macros(query["model"]["rawSql"], start, end))
    report = plugin_query(provisioned_init(settings), queries, connections=4)
    assert report["init_errors"] == [None] * 4
    return report["results"]


def _instances(rule: dict[str, Any], result: dict[str, Any]) -> dict[tuple, float | None]:
    """What Grafana's expressions make of a result: a time series (format 0: time first, one
    series per set of text columns) reduced to its last non-null value; a number table (format 1:
    one numeric column, the others text, no time) a number per row, labelled by the text."""
    names, types, rows = result["columns"], result["types"], result["rows"]
    if _query(rule)["model"]["format"] == 0:
        assert names[0] == "time" and types[0].startswith("TIMESTAMP"), names
        value = [i for i, t in enumerate(types) if t in NUMERIC]
        assert len(value) == 1 and set(types[1:]) - NUMERIC <= {"VARCHAR"}, types
        series: dict[tuple, float | None] = {}
        for row in sorted(rows, key=lambda r: r[0]):
            labels = tuple(v for i, v in enumerate(row) if types[i] == "VARCHAR")
            series.setdefault(labels, None)
            if row[value[0]] is not None:  # the reducer's dropNN mode
                series[labels] = row[value[0]]
        return series
    assert not any(t.startswith(("TIMESTAMP", "DATE")) for t in types), types
    numeric = [i for i, t in enumerate(types) if t in NUMERIC]
    assert len(numeric) == 1 and all(
        t == "VARCHAR" for i, t in enumerate(types) if i not in numeric
    )
    out = {}
    for row in rows:
        labels = tuple(v for i, v in enumerate(row) if i not in numeric)
        assert labels not in out, f"two rows labelled {labels}: Grafana refuses duplicates"
        out[labels] = row[numeric[0]]
    return out


def test_check_rules_fire_on_the_latest_published_outcomes(
    served: tuple[Settings, datetime],
) -> None:
    """Every check rule's query runs on the served data; the instances it fires are those whose
    latest outcome in the rule's window (read from the warehouse here) has its status."""
    settings, scripted_at = served
    rules = [r for _, r in RULES if "check" in r["labels"]]
    now = datetime.now(UTC)
    results = _run(settings, rules, now)
    with connect(settings.warehouse_path, read_only=True) as wh:
        recorded = wh.execute(
            "SELECT check_name, scope, partition_date, status, evaluated_at"
            " FROM pipeline_check_results ORDER BY evaluated_at"
        ).fetchall()
    for rule, result in zip(rules, results, strict=True):
        assert "error" not in result, (rule["uid"], result.get("error"))
        check, severity = rule["labels"]["check"], rule["labels"]["severity"]
        window = timedelta(seconds=_query(rule)["relativeTimeRange"]["from"])
        latest: dict[tuple, str] = {}
        for name, scope, partition, status, at in recorded:
            if name == check and now - window <= at <= now:
                latest[(scope, partition)] = status
        partitioned = check in PARTITION_CHECKS

        def labels(scope: str, partition: date | None, partitioned: bool = partitioned) -> tuple:
            return (scope, str(partition)) if partitioned else (scope,)

        want = {labels(*k) for k, status in latest.items() if status == severity.upper()}
        instances = _instances(rule, result)
        assert set(instances) == {labels(*k) for k in latest}, rule["uid"]
        fired = {k for k, v in instances.items() if v is not None and fires(_evaluator(rule), v)}
        assert fired == want, rule["uid"]
        # The script, spelled out: 2 fails, 3 warns, 5 (30 h old) only for a blocking check.
        mine = {k for k in fired if k[0].startswith("pipertest-")}
        expected = {2} if severity == "fail" else {3, 5} if check in BLOCKING_CHECKS else {3}
        assert mine == {labels(*_key(check, i)) for i in expected}, rule["uid"]
    assert scripted_at <= now


def test_gold_rules_fire_on_the_latest_days_value(served: tuple[Settings, datetime]) -> None:
    """Every gold rule's query runs on the served data, evaluated at the end of each demo day:
    its last value is that day's (the warehouse's gold, added up over the breakdown by the
    catalog's rule), and the rule fires exactly when that value is at the rule's level."""
    settings, _ = served
    rules = [r for _, r in RULES if "metric" in r["labels"]]
    days = [DEMO_START + timedelta(days=i) for i in range(DEMO_DAYS)]
    models = {m.name: m for m in GOLD_MODELS}
    checked = 0
    with connect(settings.warehouse_path, read_only=True) as wh:
        for day in days:
            now = datetime.combine(day, time(20, 0), UTC)
            for rule, result in zip(rules, _run(settings, rules, now), strict=True):
                assert "error" not in result, (rule["uid"], result.get("error"))
                entry = CATALOG[rule["labels"]["metric"]]
                model = models[entry.model]
                breakdown = GOLD_VIEWS[model.name].breakdown
                first = (now - timedelta(seconds=_query(rule)["relativeTimeRange"]["from"])).date()
                # The newest day of the window with a value (a day without one is skipped).
                where = f"{model.key} BETWEEN ? AND ?"
                sql = (
                    f"SELECT {model.key}, {entry.aggregate_sql()} AS v FROM {model.name}"
                    f" WHERE {where} GROUP BY 1 HAVING v IS NOT NULL ORDER BY 1"
                    if breakdown
                    else f"SELECT {model.key}, {entry.column} FROM {model.name}"
                    f" WHERE {where} AND {entry.column} IS NOT NULL ORDER BY 1"
                )
                values = wh.execute(sql, [first, day]).fetchall()
                want = values[-1][1] if values else None
                instances = _instances(rule, result)
                assert list(instances) == [()], (rule["uid"], instances)
                value = instances[()]
                assert value == pytest.approx(want), (rule["uid"], day)
                if value is not None:
                    fired = fires(_evaluator(rule), value)
                    assert fired == (entry.level(value) == rule["labels"]["severity"])
                    checked += 1
    assert checked >= len(rules) * (DEMO_DAYS - 1)
    assert {r["labels"]["model"] for r in rules} <= {m.name for m in GOLD_MODELS}
    assert all(_query(r)["relativeTimeRange"]["from"] < 3 * 86400 for r in rules)
