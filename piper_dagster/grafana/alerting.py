"""Grafana alerting, provisioned from files: a rule per WARN / FAIL threshold of the metrics
catalog and per level of each pipeline check, the contact point and the notification policy.

Each rule links the dashboard panel that shows what it judges, found in the dashboards as
generated (`dashboards`: the same dictionaries `generate` writes, so uids and panel ids cannot
drift), and its runbook section. A gold rule's query *is* its stat panel's query: it fires when
that stat turns orange or red. A check rule reads the latest outcome the checks published per
scope and partition; the checks' own verdict is the value, not a second grading.

Grafana interpolates environment variables (`$VAR`, `${VAR}`) in most fields of these files
(titles, labels, contact point settings), not in a query's model, and not (or only `${VAR}`) in
annotations: the contact point's URL is `${ALERT_WEBHOOK_ENV}`, and no other field holds a `$`
but the SQL's `$__timeFilter` and the annotations' `{{ $labels.x }}` templates.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from piper_dagster.catalog import MetricEntry
from piper_dagster.checks.evaluate import (
    BLOCKING_CHECKS,
    CHECKS,
    CLOCK_SKEW,
    FRESHNESS,
    INVALID_RATE,
    PARTITION_CHECKS,
    REFRESH_BACKLOG,
    RUNBOOK,
    VOLUME,
)
from piper_dagster.grafana.deployment import (
    DATASOURCE,
    DATASOURCE_UID,
    GOLD_FOLDER,
    PIPELINE_FOLDER,
)
from piper_dagster.settings import Settings

# The environment variable (of Grafana's container) holding the webhook every alert goes to. Not a
# piper setting: piper never reads it (docker-compose.yml passes it to Grafana, like GRAFANA_PORT).
ALERT_WEBHOOK_ENV = "GRAFANA_ALERT_WEBHOOK_URL"
CONTACT_POINT = "piper"
EXPR_UID = "__expr__"
UID_MAX = 40  # Grafana's limit on a rule's uid
SEVERITIES = ("warn", "fail")

# Gold: a day's rate is the stat's latest day; two days back covers yesterday when today has no
# data yet. The value changes only when gold is published: `for` keeps one early-morning
# publication of a handful of events from paging until it has held half an hour.
GOLD_GROUP = "piper gold metrics"
GOLD_INTERVAL = "5m"
GOLD_FOR = "30m"
GOLD_WINDOW_SECONDS = 2 * 86400

# Checks: the latest outcome per scope (and partition) evaluated within the window. A day for
# checks re-evaluated all along (freshness every 15 min, today's partitions on every ingest); a
# blocking check's FAIL holds gold back until the partition passes, so it is read over all the
# served history (serving.health_days) and fires until a new outcome says otherwise.
CHECKS_GROUP = "piper pipeline checks"
CHECKS_INTERVAL = "1m"
CHECKS_FOR = "0s"
CHECK_WINDOW_SECONDS = 86400

# The pipeline-health panel each check's alert links: the one showing what the check measures.
CHECK_PANELS = {
    FRESHNESS: "Newest event age (hours)",
    VOLUME: "Events ingested per day by source family",
    INVALID_RATE: "Invalid rate (latest spool day)",
    CLOCK_SKEW: "Clock-skewed share (latest spool day)",
    REFRESH_BACKLOG: "Refresh backlog: oldest waiting (hours)",
}
CHECK_LEVEL = "level"  # the check rules' value: 0 PASS or SKIP, 1 WARN, 2 FAIL
CHECK_LEVELS = {"warn": ("within_range", [0.0, 2.0]), "fail": ("gt", [1.0])}


def uid(*parts: str) -> str:
    """A rule uid from its parts, shortened with a hash when longer than Grafana allows."""
    full = "-".join(parts)
    if len(full) <= UID_MAX:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[: UID_MAX - 9]}-{digest}"


def level_evaluators(
    warn: float | None, fail: float | None, good: str
) -> dict[str, tuple[str, list[float]]]:
    """Grafana threshold evaluators firing exactly at each level of `MetricEntry.level`.

    Grafana's evaluators are strict (`lt`: value < p; `within_range`: p0 < value < p1). The
    catalog's levels: with `good: up` a value is bad *below* a threshold, with `good: down`
    *above* it, and FAIL is the worse one; a WARN rule fires on WARN only (not on FAIL too, or a
    failing metric would notify twice), so its range ends where FAIL begins: the threshold's
    neighbouring double (nextafter) makes the strict bound an inclusive one.
    """
    out: dict[str, tuple[str, list[float]]] = {}
    if good == "up":
        if fail is not None:
            out["fail"] = ("lt", [fail])
        if warn is not None:
            out["warn"] = (
                ("lt", [warn])
                if fail is None
                else ("within_range", [math.nextafter(fail, -math.inf), warn])
            )
    elif good == "down":
        if fail is not None:
            out["fail"] = ("gt", [fail])
        if warn is not None:
            out["warn"] = (
                ("gt", [warn])
                if fail is None
                else ("within_range", [warn, math.nextafter(fail, math.inf)])
            )
    return out


def fires(evaluator: tuple[str, list[float]], value: float) -> bool:
    """Whether Grafana's threshold expression fires for `value` (pkg/expr/threshold.go)."""
    kind, params = evaluator
    if kind == "gt":
        return value > params[0]
    if kind == "lt":
        return value < params[0]
    if kind == "within_range":
        return params[0] < value < params[1]
    raise ValueError(f"unknown evaluator {kind!r}")


# --- a rule ------------------------------------------------------------------------------------


def _data(sql: str, fmt: int, window_seconds: int, evaluator: tuple[str, list[float]]) -> list:
    """A: the DuckDB query (the panels' query model); B: its last non-null value per series;
    C: the threshold, the rule's condition."""
    kind, params = evaluator
    return [
        {
            "refId": "A",
            "relativeTimeRange": {"from": window_seconds, "to": 0},
            "datasourceUid": DATASOURCE_UID,
            "model": {
                "refId": "A",
                "datasource": dict(DATASOURCE),
                "rawSql": sql.strip(),
                "format": fmt,
                "editorMode": "code",
                "rawQuery": True,
                "intervalMs": 60000,
                "maxDataPoints": 43200,
            },
        },
        {
            "refId": "B",
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": EXPR_UID,
            "model": {
                "refId": "B",
                "datasource": {"type": EXPR_UID, "uid": EXPR_UID},
                "type": "reduce",
                "expression": "A",
                "reducer": "last",
                "settings": {"mode": "dropNN"},
            },
        },
        {
            "refId": "C",
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": EXPR_UID,
            "model": {
                "refId": "C",
                "datasource": {"type": EXPR_UID, "uid": EXPR_UID},
                "type": "threshold",
                "expression": "B",
                "conditions": [{"evaluator": {"type": kind, "params": list(params)}}],
            },
        },
    ]


def _rule(
    *,
    rule_uid: str,
    title: str,
    data: list[dict[str, Any]],
    for_: str,
    summary: str,
    description: str,
    runbook_url: str,
    board: dict[str, Any],
    panel: dict[str, Any],
    labels: dict[str, str],
) -> dict[str, Any]:
    return {
        "uid": rule_uid,
        "title": title,
        "condition": "C",
        "data": data,
        # The documented fields linking the panel; Grafana keeps them as the two annotations.
        "dashboardUid": board["uid"],
        "panelId": panel["id"],
        "noDataState": "OK",  # nothing to judge (no publish, no evaluation) is not an alert
        "execErrState": "Error",  # an unreadable serving layer is one (DatasourceError)
        "for": for_,
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url,
            "__dashboardUid__": board["uid"],
            "__panelId__": str(panel["id"]),
        },
        "labels": labels,
        "isPaused": False,
    }


def _panel(board: dict[str, Any], match: Any, what: str) -> dict[str, Any]:
    found = [p for p in board["panels"] if match(p)]
    if len(found) != 1:
        raise ValueError(f"dashboard {board['uid']}: {len(found)} panels are {what}, expected one")
    return found[0]


def _level_words(entry: MetricEntry, severity: str) -> str:
    """When a metric is at `severity`, in words (the catalog's thresholds)."""
    side = "below" if entry.good == "up" else "above"
    if severity == "fail":
        return f"{side} {entry.fail:g}"
    words = f"{side} {entry.warn:g}"
    if entry.fail is not None:
        words += f" but not {side} {entry.fail:g} (FAIL)"
    return words


# --- gold ----------------------------------------------------------------------------------------


def gold_rules(
    catalog: list[MetricEntry], boards: dict[str, dict[str, Any]], runbook_url: str
) -> list[dict[str, Any]]:
    """A rule per WARN / FAIL threshold of the catalog, on the metric's stat panel (by model)."""
    rules = []
    for entry in catalog:
        evaluators = level_evaluators(entry.warn, entry.fail, entry.good)
        if not evaluators:
            continue
        board = boards[entry.model]

        def is_stat(p: dict[str, Any], column: str = entry.column) -> bool:
            return (
                p["type"] == "stat" and p["options"]["reduceOptions"]["fields"] == f"/^{column}$/"
            )

        try:
            panel = _panel(board, is_stat, f"the stat of {entry.column}")
        except ValueError as exc:
            raise ValueError(
                f"{exc}: a metric with thresholds needs one (headline: true)"
            ) from None
        (target,) = panel["targets"]
        for severity in SEVERITIES:
            if severity not in evaluators:
                continue
            kind, params = evaluators[severity]
            threshold = entry.fail if severity == "fail" else entry.warn
            side = "below" if entry.good == "up" else "above"
            how = panel["description"].removeprefix(entry.description).strip()
            rules.append(
                _rule(
                    rule_uid=uid("piper", entry.name, severity),
                    title=f"{entry.name} {severity.upper()}",
                    data=_data(
                        target["rawSql"], target["format"], GOLD_WINDOW_SECONDS, (kind, params)
                    ),
                    for_=GOLD_FOR,
                    summary=(
                        f"{entry.name} {side} its {severity.upper()} threshold {threshold:g}:"
                        ' {{ printf "%.4g" $values.B.Value }}'
                    ),
                    description=(
                        f"{entry.description} {how} Fires while it is"
                        f" {_level_words(entry, severity)}"
                        " (piper_dagster/conf/metrics_catalog.yml): the panel"
                        f" '{panel['title']}' of the dashboard '{board['title']}'."
                    ),
                    runbook_url=f"{runbook_url or RUNBOOK}#{entry.name}",
                    board=board,
                    panel=panel,
                    labels={"severity": severity, "model": entry.model, "metric": entry.name},
                )
            )
    return rules


# --- checks --------------------------------------------------------------------------------------


def check_sql(check: str) -> str:
    """The latest outcome of `check` per scope (and partition) evaluated in the time range, as a
    level: a number table (one numeric column, the others text) that Grafana turns into one alert
    instance per row, labelled by the text columns."""
    partition = check in PARTITION_CHECKS
    labels = "scope, partition_date::VARCHAR AS partition_date" if partition else "scope"
    return (
        f"SELECT {labels},\n"
        "    CASE status WHEN 'FAIL' THEN 2 WHEN 'WARN' THEN 1 ELSE 0 END::DOUBLE"
        f" AS {CHECK_LEVEL}\n"
        "FROM pipeline_check_results\n"
        f"WHERE check_name = '{check}' AND $__timeFilter(evaluated_at)\n"
        "QUALIFY row_number() OVER (\n"
        "    PARTITION BY scope, partition_date ORDER BY evaluated_at DESC\n"
        ") = 1\n"
        f"ORDER BY {'1, 2' if partition else '1'}"
    )


def check_window_seconds(check: str, settings: Settings) -> int:
    if check in BLOCKING_CHECKS:
        return settings.serving.health_days * 86400
    return CHECK_WINDOW_SECONDS


def check_rules(board: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """A WARN and a FAIL rule per pipeline check, on the outcomes the checks published."""
    rules = []
    for name, info in CHECKS.items():
        if name not in CHECK_PANELS:
            raise ValueError(f"check {name}: name its pipeline-health panel in CHECK_PANELS")
        title = CHECK_PANELS[name]
        panel = _panel(board, lambda p, title=title: p["title"] == title, f"titled {title!r}")
        where = "{{ $labels.scope }}"
        if name in PARTITION_CHECKS:
            where += ", spool partition {{ $labels.partition_date }}"
        window = check_window_seconds(name, settings)
        days = window // 86400
        within = f"evaluated in the last {days} day{'s' if days > 1 else ''}"
        if name in BLOCKING_CHECKS:
            within += "; it holds gold back, so it is read until a new outcome passes"
        for severity in SEVERITIES:
            status = severity.upper()
            rules.append(
                _rule(
                    rule_uid=uid("piper", "check", name, severity),
                    title=f"check {name} {status}",
                    data=_data(check_sql(name), 1, window, CHECK_LEVELS[severity]),
                    for_=CHECKS_FOR,
                    summary=f"{name} is {status} for {where}",
                    description=(
                        f"{info.description} The latest outcome published by the checks"
                        f" (pipeline_check_results, {within})"
                        f" is {status}; its value, thresholds and run are in the table"
                        " 'Latest check results', what it measures in the panel"
                        f" '{panel['title']}' of the dashboard '{board['title']}'."
                    ),
                    runbook_url=info.runbook_at(settings.checks.runbook_url),
                    board=board,
                    panel=panel,
                    labels={"severity": severity, "check": name},
                )
            )
    return rules


# --- the files -------------------------------------------------------------------------------------


def alert_rules_provisioning(
    catalog: list[MetricEntry],
    gold_boards: dict[str, dict[str, Any]],
    pipeline_board: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    """The rule groups: gold metrics in the gold dashboards' folder, checks in the pipeline's.
    `gold_boards`: the gold dashboards by model."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": GOLD_GROUP,
                "folder": GOLD_FOLDER,
                "interval": GOLD_INTERVAL,
                "rules": gold_rules(catalog, gold_boards, settings.checks.runbook_url),
            },
            {
                "orgId": 1,
                "name": CHECKS_GROUP,
                "folder": PIPELINE_FOLDER,
                "interval": CHECKS_INTERVAL,
                "rules": check_rules(pipeline_board, settings),
            },
        ],
    }


def notification_provisioning() -> dict[str, Any]:
    """The contact point (a webhook whose URL Grafana reads from its environment) and the
    notification policy sending every alert there: FAIL repeated hourly, WARN twice a day."""
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": CONTACT_POINT,
                "receivers": [
                    {
                        "uid": "piper-webhook",
                        "type": "webhook",
                        "disableResolveMessage": False,
                        "settings": {"url": f"${{{ALERT_WEBHOOK_ENV}}}", "httpMethod": "POST"},
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {
                        "receiver": CONTACT_POINT,
                        "object_matchers": [["severity", "=", "fail"]],
                        "repeat_interval": "1h",
                    },
                    {
                        "receiver": CONTACT_POINT,
                        "object_matchers": [["severity", "=", "warn"]],
                        "repeat_interval": "12h",
                    },
                ],
            }
        ],
    }
