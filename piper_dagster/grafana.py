"""Grafana, generated: the dashboards and the provisioning files under grafana/, from code.

One source of truth: the gold panels' thresholds, units and descriptions come from the metrics
catalog (piper_dagster/conf/metrics_catalog.yml), the pipeline-health stats' thresholds from the checks'
settings ([checks] in piper_dagster/conf/settings.toml), the views the datasource defines from the serving
layer's table list (piper_dagster/serving.py). `piper grafana generate` writes the files; a test checks that
the committed files are exactly what this module generates.

Every panel names the provisioned datasource by its fixed uid (provisioned dashboards cannot
take `${DS_...}` inputs), uses an integer `format` (0 time series, 1 table: what the DuckDB
plugin v0.4.5 reads), filters time with `$__timeFilter(<time column>)` (the plugin's
`$__timeGroup` is broken on DuckDB) and reads only the serving layer's views.

Plain dictionaries rather than grafana-foundation-sdk: the plugin's query model is not in the
SDK, and what must hold (SQL that runs on the served data, layout, uids) is tested here directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from piper_dagster.catalog import MetricEntry, load_catalog
from piper_dagster.contract.families import FAMILIES
from piper_dagster.dagster_home import DAGSTER_URL
from piper_dagster.models import GOLD_MODELS, Model
from piper_dagster.serving import init_sql
from piper_dagster.settings import PROJECT_ROOT, ChecksSettings, load_settings

# --- what the deployment fixes (docker-compose.yml agrees; a test checks it) -------------------

PLUGIN_ID = "motherduck-duckdb-datasource"
PLUGIN_VERSION = "0.4.5"
# The DuckDB that plugin version embeds: the serving layer must stay readable by it, and the tests
# read it with exactly this version.
PLUGIN_DUCKDB_VERSION = "1.5.4"
DATASOURCE_UID = "piper-serving"
DATASOURCE_NAME = "piper serving layer"
DATASOURCE = {"type": PLUGIN_ID, "uid": DATASOURCE_UID}
# Where Grafana's container sees piper's data root (read-only) and the dashboards.
CONTAINER_DATA_ROOT = "/var/lib/piper"
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
GRAFANA_URL = "http://localhost:3001"  # docker-compose's default GRAFANA_PORT, not Dagster's

GRAFANA_DIR = PROJECT_ROOT / "grafana"
GOLD_FOLDER = "piper-gold"
PIPELINE_FOLDER = "piper-pipeline"
TAG = "piper"
SCHEMA_VERSION = 39

FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1

# Catalog units as Grafana units.
UNITS = {
    "ratio": "percentunit",
    "ms": "ms",
    "bytes": "bytes",
    "hours": "h",
    "events": "short",
    "jobs": "short",
    "frames": "short",
    "blades": "short",
    "users": "short",
    "files": "short",
}
LEVEL_COLORS = {"ok": "green", "warn": "orange", "fail": "red"}
NEUTRAL_COLOR = "blue"


# --- thresholds: the catalog's levels as Grafana steps ------------------------------------------


def level_steps(warn: float | None, fail: float | None, good: str) -> list[dict[str, Any]]:
    """Grafana threshold steps giving each value the color of its level: ok, warn, fail.

    Grafana colors a value with the last step whose value is <= it. With `good: up` a value is
    bad *below* a threshold, so the threshold itself starts the better color. With `good: down` a
    value is bad *above* it (the catalog's levels, the checks' `grade`), so the worse color starts
    just after the threshold (nextafter).
    """
    if warn is None and fail is None:
        return [{"color": NEUTRAL_COLOR, "value": None}]
    steps: list[dict[str, Any]]
    if good == "up":
        steps = [{"color": LEVEL_COLORS["fail" if fail is not None else "warn"], "value": None}]
        if fail is not None and warn is not None:
            steps.append({"color": LEVEL_COLORS["warn"], "value": fail})
        steps.append({"color": LEVEL_COLORS["ok"], "value": warn if warn is not None else fail})
    else:
        steps = [{"color": LEVEL_COLORS["ok"], "value": None}]
        if warn is not None:
            steps.append({"color": LEVEL_COLORS["warn"], "value": math.nextafter(warn, math.inf)})
        if fail is not None:
            steps.append({"color": LEVEL_COLORS["fail"], "value": math.nextafter(fail, math.inf)})
    return steps


def threshold_steps(entry: MetricEntry) -> list[dict[str, Any]]:
    """A catalog metric's levels as Grafana threshold steps."""
    return level_steps(entry.warn, entry.fail, entry.good)


def _field_config(entry: MetricEntry) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": UNITS[entry.unit],
        "thresholds": {"mode": "absolute", "steps": threshold_steps(entry)},
        "color": {"mode": "thresholds"},
    }
    if entry.unit == "ratio":
        defaults.update(min=0, max=1, decimals=1)
    return defaults


# --- panels -----------------------------------------------------------------------------------


def _target(sql: str, fmt: int, ref: str = "A") -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "rawSql": sql.strip(),
        "format": fmt,
        "editorMode": "code",
        "rawQuery": True,
    }


def _panel(kind: str, title: str, description: str, sql: str, fmt: int) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [_target(sql, fmt)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    }


def stat_panel(
    title: str, description: str, sql: str, field: str, defaults: dict[str, Any], fmt: int
) -> dict[str, Any]:
    """A stat of the last non-null value of `field` (a daily series gives a sparkline)."""
    panel = _panel("stat", title, description, sql, fmt)
    panel["fieldConfig"]["defaults"] = defaults
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^{field}$/", "values": False},
        "colorMode": "background",
        "graphMode": "area",
        "textMode": "value",
        "justifyMode": "center",
        "orientation": "auto",
    }
    return panel


def timeseries_panel(
    title: str,
    description: str,
    sql: str,
    defaults: dict[str, Any],
    *,
    series_label: str | None = None,
    bars: bool = False,
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A time series (format 0): `time` first and sorted; a string column becomes a label of
    each series (the plugin turns the long frame wide), shown as the series' name."""
    panel = _panel("timeseries", title, description, sql, FORMAT_TIME_SERIES)
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
    }
    if bars:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    else:
        custom.update(lineWidth=2, pointSize=5, showPoints="always", spanNulls=False)
    panel["fieldConfig"]["defaults"] = {**defaults, "custom": custom}
    if series_label:
        panel["fieldConfig"]["defaults"]["displayName"] = f"${{__field.labels.{series_label}}}"
    panel["fieldConfig"]["overrides"] = overrides or []
    panel["options"] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def column_override(column: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def table_panel(
    title: str,
    description: str,
    sql: str,
    overrides: list[dict[str, Any]],
    sort_by: str | None = None,
) -> dict[str, Any]:
    panel = _panel("table", title, description, sql, FORMAT_TABLE)
    panel["fieldConfig"]["overrides"] = overrides
    panel["options"] = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        panel["options"]["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return panel


def metric_column(entry: MetricEntry) -> dict[str, Any]:
    """A table column of a metric: its unit, and its catalog colors when it has thresholds."""
    props: dict[str, Any] = {"unit": UNITS[entry.unit], "description": entry.description}
    if entry.unit == "ratio":
        props["decimals"] = 1
    if entry.warn is not None or entry.fail is not None:
        props["thresholds"] = {"mode": "absolute", "steps": threshold_steps(entry)}
        props["custom.cellOptions"] = {"type": "color-text"}
        props["color"] = {"mode": "thresholds"}
    return column_override(entry.column, props)


def layout(rows: list[list[tuple[dict[str, Any], int, int]]]) -> list[dict[str, Any]]:
    """Place panels row by row on the 24-column grid: each row is [(panel, width, height)]."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        x = 0
        height = 0
        for panel, width, h in row:
            if x + width > 24:
                x, y = 0, y + height
                height = 0
            panel["gridPos"] = {"x": x, "y": y, "w": width, "h": h}
            panel["id"] = len(panels) + 1
            panels.append(panel)
            x += width
            height = max(height, h)
        y += height
    return panels


def _spread(panels: list[dict[str, Any]], height: int) -> list[tuple[dict[str, Any], int, int]]:
    """Panels sharing a row as evenly as the 24 columns allow (at most 6 per row)."""
    per_row = min(len(panels), 6) or 1
    width = 24 // per_row
    return [(p, width, height) for p in panels]


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    *,
    dagster_links: list[tuple[str, str]],
    time_from: str = "now-30d",
) -> dict[str, Any]:
    links: list[dict[str, Any]] = [
        {
            "title": "piper dashboards",
            "type": "dashboards",
            "tags": [TAG],
            "asDropdown": False,
            "includeVars": False,
            "keepTime": True,
            "targetBlank": False,
        }
    ]
    links += [
        {
            "title": text,
            "type": "link",
            "url": f"${{dagster_url}}{path}",
            "icon": "external link",
            "targetBlank": True,
            "tooltip": "Open in the Dagster UI",
        }
        for text, path in dagster_links
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "5m",
        "time": {"from": time_from, "to": "now"},
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "dagster_url",
                    "label": "Dagster UI",
                    "type": "textbox",
                    "query": DAGSTER_URL,
                    "current": {"text": DAGSTER_URL, "value": DAGSTER_URL},
                    "hide": 0,
                }
            ]
        },
        "links": links,
        "panels": panels,
    }


# --- the gold dashboards ----------------------------------------------------------------------


@dataclass(frozen=True)
class GoldView:
    """How a gold model is shown: its title and the breakdown column (a grain column besides the
    date) if any. Without one a model has one row per day, shown as it is."""

    title: str
    breakdown: str | None = None
    time_from: str = "now-30d"


GOLD_VIEWS: dict[str, GoldView] = {
    "gold_publish_health_daily": GoldView("Publish health", "event_type"),
    "gold_render_health_daily": GoldView("Render health"),
    "gold_farm_pressure_daily": GoldView("Farm pressure"),
    "gold_tool_reliability_daily": GoldView("Tool reliability", "event_type"),
    "gold_storage_growth_weekly": GoldView("Storage growth", "root", time_from="now-180d"),
    "gold_data_quality_daily": GoldView("Data quality"),
}

# Each rate's denominator (contract §7): the sum of rate * denominator over the sum of
# denominators is the rate of the whole, exactly; an average of rates is not.
RATE_DENOMINATOR: dict[str, str | None] = {
    "publish_success_rate": "publish_count",
    "render_success_rate": "render_job_count",
    "tool_success_rate": "tool_invocations",
    # failures / (publish + tool + render events): no gold column counts those (dq_events counts
    # every event, and contract §7 fixes the columns), so it is never added up: a model without
    # a breakdown is shown per day, its stat the latest day's own value.
    "dq_error_rate": None,
}


def _rate(column: str, denominator: str | None) -> str:
    if denominator is None:
        raise ValueError(f"{column} has no denominator column: it cannot be added up")
    return f"sum({column} * {denominator}) / nullif(sum({denominator}) FILTER (WHERE {column} IS NOT NULL), 0)"


# How a metric adds up across a model's breakdown, for one date (stats) or over the range
# (tables): counts and sizes add, rates through their denominators, percentiles and peaks take
# the worst (a p95 of p95s would mean nothing).
_AGG: dict[str, Callable[[MetricEntry], str]] = {
    "sum": lambda m: f"sum({m.column})::DOUBLE",
    "rate": lambda m: _rate(m.column, RATE_DENOMINATOR[m.name]),
    "max": lambda m: f"max({m.column})::DOUBLE",
}
METRIC_AGG: dict[str, str] = {
    "publish_count": "sum",
    "publish_success_rate": "rate",
    "publish_duration_p95_ms": "max",
    "publish_output_bytes": "sum",
    "render_job_count": "sum",
    "render_success_rate": "rate",
    "render_cpu_hours": "sum",
    "render_failed_frames": "sum",
    "farm_peak_active_blades": "max",
    "farm_peak_errored_jobs": "max",
    "farm_jobs_spooled": "sum",
    "tool_invocations": "sum",
    "tool_success_rate": "rate",
    "tool_duration_p95_ms": "max",
    "storage_bytes": "sum",
    "storage_file_count": "sum",
    "dq_events": "sum",
    "dq_error_rate": "rate",
    "dq_active_users": "max",
    "dq_skewed_events": "sum",
}
AGG_WORDS = {"sum": "total", "rate": "overall", "max": "worst"}


def _agg(entry: MetricEntry) -> str:
    return _AGG[METRIC_AGG[entry.name]](entry)


def gold_dashboard(model: Model, metrics: list[MetricEntry]) -> dict[str, Any]:
    view = GOLD_VIEWS[model.name]
    table, key = model.name, model.key
    where = f"WHERE $__timeFilter({key})"
    period = "week" if model.grain == "iso_week" else "day"
    headline = [m for m in metrics if m.headline] or metrics

    def latest(m: MetricEntry) -> tuple[str, str]:
        """A stat's SQL (one value per date) and how its value is made."""
        if not view.breakdown:
            sql = f"SELECT {key}::TIMESTAMP AS time, {m.column}\nFROM {table}\n{where}\nORDER BY 1"
            return sql, f"Latest {period} of the range."
        sql = (
            f"SELECT {key}::TIMESTAMP AS time, {_agg(m)} AS {m.column}\n"
            f"FROM {table}\n{where}\nGROUP BY 1\nORDER BY 1"
        )
        how = AGG_WORDS[METRIC_AGG[m.name]]
        return sql, f"Latest {period} of the range, {how} across {view.breakdown}s."

    stats = []
    for m in headline:
        sql, how = latest(m)
        stats.append(
            stat_panel(
                f"{m.name} (latest {period})",
                f"{m.description} {how}",
                sql,
                m.column,
                _field_config(m),
                FORMAT_TIME_SERIES,
            )
        )

    series = []
    for m in metrics:
        if view.breakdown:
            # Per breakdown value: storage adds its buckets up per root, the others have one
            # row per (date, breakdown) already.
            value = _agg(m) if model.grain == "iso_week" else m.column
            group = "GROUP BY 1, 2\n" if model.grain == "iso_week" else ""
            sql = (
                f"SELECT {key}::TIMESTAMP AS time, {view.breakdown}, {value} AS {m.column}\n"
                f"FROM {table}\n{where}\n{group}ORDER BY 1, 2"
            )
            title = f"{m.name} by {view.breakdown}"
        else:
            sql = f"SELECT {key}::TIMESTAMP AS time, {m.column}\nFROM {table}\n{where}\nORDER BY 1"
            title = m.name
        defaults = _field_config(m)
        defaults["color"] = {"mode": "palette-classic"}
        series.append(
            timeseries_panel(
                title,
                f"{m.description} ({m.unit} per {period})",
                sql,
                defaults,
                series_label=view.breakdown,
                bars=(m.good == "neutral" and m.unit != "ratio"),
            )
        )

    columns = [metric_column(m) for m in metrics]
    if model.grain == "iso_week":
        table_sql = (
            f"SELECT week, root, bucket, {', '.join(m.column for m in metrics)}\n"
            f"FROM {table}\n{where}\nQUALIFY week = max(week) OVER ()\n"
            "ORDER BY storage_bytes DESC"
        )
        breakdown = table_panel(
            "Buckets at the latest week",
            "Every bucket of every root at its latest scan of the last week in the range.",
            table_sql,
            columns,
            sort_by=metrics[0].column,
        )
    elif view.breakdown:
        aggs = ",\n    ".join(f"{_agg(m)} AS {m.column}" for m in metrics)
        table_sql = (
            f"SELECT {view.breakdown},\n    {aggs}\nFROM {table}\n{where}\n"
            f"GROUP BY 1\nORDER BY 2 DESC"
        )
        breakdown = table_panel(
            f"By {view.breakdown} over the range",
            "Counts and sizes summed, rates over their summed denominators, p95 the worst day's.",
            table_sql,
            columns,
            sort_by=metrics[0].column,
        )
    else:
        table_sql = (
            f"SELECT {key}, {', '.join(m.column for m in metrics)}\n"
            f"FROM {table}\n{where}\nORDER BY 1 DESC"
        )
        breakdown = table_panel(
            "Day by day", "Every day of the range, the newest first.", table_sql, columns
        )

    panels = layout(
        [
            _spread(stats, 5),
            [(p, 12, 8) for p in series],
            [(breakdown, 24, 9)],
        ]
    )
    return dashboard(
        f"piper-{table.replace('_', '-')}",
        view.title,
        f"{model.description} ({table}, contract §7). Thresholds from piper_dagster/conf/metrics_catalog.yml.",
        panels,
        dagster_links=[(f"{table} in Dagster", f"/assets/{table}")],
        time_from=view.time_from,
    )


# --- the pipeline-health dashboard ------------------------------------------------------------

# The source families of the checks (artists' machines, the farm poller, the storage auditor).
SOURCE_FAMILIES = FAMILIES
# SKIP (the check could not judge: too little data) is neither good nor bad: the neutral color,
# never PASS's green.
STATUS_COLORS = {"SKIP": NEUTRAL_COLOR, "PASS": "green", "WARN": "orange", "FAIL": "red"}

_LATEST_CHECKS = """
SELECT *
FROM pipeline_check_results
WHERE $__timeFilter(evaluated_at)
QUALIFY row_number() OVER (
    PARTITION BY check_name, asset, scope, partition_date ORDER BY evaluated_at DESC
) = 1"""


def _count_thresholds(color: str) -> dict[str, Any]:
    return {
        "unit": "short",
        "decimals": 0,
        "color": {"mode": "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": color, "value": 1}],
        },
    }


def _status_overrides(regex: bool) -> list[dict[str, Any]]:
    if not regex:
        mappings = [
            {
                "type": "value",
                "options": {
                    s: {"color": c, "index": i} for i, (s, c) in enumerate(STATUS_COLORS.items())
                },
            }
        ]
        return [
            column_override(
                "status",
                {"mappings": mappings, "custom.cellOptions": {"type": "color-background"}},
            )
        ]
    return [
        {
            "matcher": {"id": "byRegexp", "options": f".*{status}.*"},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for status, color in STATUS_COLORS.items()
    ]


def _daily_counts(
    title: str, description: str, table: str, day: str, label: str, count: str
) -> dict[str, Any]:
    """Stacked daily bars of a count column of a health table, one series per `label`."""
    sql = (
        f"SELECT {day}::TIMESTAMP AS time, {label}, sum({count})::DOUBLE AS {count}\n"
        f"FROM {table}\nWHERE $__timeFilter({day})\nGROUP BY 1, 2\nORDER BY 1, 2"
    )
    return timeseries_panel(
        title, description, sql, {"unit": "short", "decimals": 0}, series_label=label, bars=True
    )


def _check_thresholds(warn: float | None = None, fail: float | None = None) -> dict[str, Any]:
    """A check's WARN / FAIL thresholds as a field's (`grade`: bad *above* each; none: neutral)."""
    return {"thresholds": {"mode": "absolute", "steps": level_steps(warn, fail, "down")}}


def _check_rate(warn: float, fail: float) -> dict[str, Any]:
    """A share of a spool partition, colored as its check grades it."""
    return {
        "unit": "percentunit",
        "decimals": 1,
        "min": 0,
        "color": {"mode": "thresholds"},
        **_check_thresholds(warn, fail),
    }


def pipeline_health_dashboard(checks: ChecksSettings) -> dict[str, Any]:
    """The pipeline's own health. Stats the checks judge take the checks' thresholds (`checks`:
    the settings the dashboards are generated with)."""
    failing = stat_panel(
        "Failing checks",
        "Checks whose latest evaluation in the range is FAIL (per check, asset, scope, partition).",
        f"SELECT count(*) FILTER (WHERE status = 'FAIL') AS failing\nFROM ({_LATEST_CHECKS.strip()})",
        "failing",
        _count_thresholds("red"),
        FORMAT_TABLE,
    )
    warning = stat_panel(
        "Warning checks",
        "Checks whose latest evaluation in the range is WARN.",
        f"SELECT count(*) FILTER (WHERE status = 'WARN') AS warning\nFROM ({_LATEST_CHECKS.strip()})",
        "warning",
        _count_thresholds("orange"),
        FORMAT_TABLE,
    )
    invalid_rate = stat_panel(
        "Invalid rate (latest spool day)",
        "Quarantined lines / lines read of the latest spool date in the range, colored as the"
        " invalid-rate check grades it (checks.invalid_rate_warn / _fail); a day with fewer than"
        f" {checks.invalid_rate_min_lines} lines read is not judged, as by the check.",
        "SELECT spool_date::TIMESTAMP AS time,\n"
        f"    CASE WHEN lines_read >= {checks.invalid_rate_min_lines}"
        " THEN invalid_lines / lines_read::DOUBLE END AS invalid_rate\n"
        "FROM health_spool_daily\nWHERE $__timeFilter(spool_date)\nORDER BY 1",
        "invalid_rate",
        _check_rate(checks.invalid_rate_warn, checks.invalid_rate_fail),
        FORMAT_TIME_SERIES,
    )
    skewed_share = stat_panel(
        "Clock-skewed share (latest spool day)",
        "Clock-skewed events / events of the latest spool date in the range (contract §6),"
        " colored as the clock-skew check grades it (checks.clock_skew_warn / _fail); the hosts"
        " are in the table below.",
        "SELECT spool_date::TIMESTAMP AS time,"
        " skewed_events / nullif(events, 0)::DOUBLE AS skewed_share\n"
        "FROM health_spool_daily\nWHERE $__timeFilter(spool_date)\nORDER BY 1",
        "skewed_share",
        _check_rate(checks.clock_skew_warn, checks.clock_skew_fail),
        FORMAT_TIME_SERIES,
    )
    ages = ",\n    ".join(
        f"(epoch(now()) - epoch(max(newest_event_ts) FILTER (WHERE source_family = '{f}')))"
        f" / 3600.0 AS {f}"
        for f in SOURCE_FAMILIES
    )
    freshness = stat_panel(
        "Newest event age (hours)",
        "Hours since the newest event of each source family, colored as the freshness check"
        " grades it (checks.freshness_<family>_warn_hours / _fail_hours); empty when the family"
        " sent nothing in the range.",
        f"SELECT\n    {ages}\nFROM health_ingest_daily\nWHERE $__timeFilter(event_date)",
        "(" + "|".join(SOURCE_FAMILIES) + ")",
        {"unit": "h", "decimals": 1, "color": {"mode": "thresholds"}, **_check_thresholds()},
        FORMAT_TABLE,
    )
    freshness["fieldConfig"]["overrides"] = [
        column_override(
            f,
            _check_thresholds(
                getattr(checks, f"freshness_{f}_warn_hours"),
                getattr(checks, f"freshness_{f}_fail_hours"),
            ),
        )
        for f in SOURCE_FAMILIES
    ]
    freshness["options"]["graphMode"] = "none"
    freshness["options"]["textMode"] = "value_and_name"
    published = stat_panel(
        "Serving layer age",
        "Seconds since the serving layer Grafana reads was last published (after each gold"
        " or checks write).",
        "SELECT epoch(now()) - epoch(published_at) AS publish_age\nFROM serving_publication\n"
        "WHERE $__timeFilter(published_at)",
        "publish_age",
        {"unit": "s", "decimals": 0, "color": {"mode": "fixed", "fixedColor": NEUTRAL_COLOR}},
        FORMAT_TABLE,
    )
    published["options"]["graphMode"] = "none"

    backlog = stat_panel(
        "Refresh backlog: oldest waiting (hours)",
        "Hours the oldest event date has waited in the refresh ledger for its silver and gold,"
        " colored as the refresh-backlog check grades it (checks.refresh_backlog_warn_hours /"
        " _fail_hours); held-back dates (a failed invalid rate) apart. Empty: nothing dirtied in"
        " the time range waits.",
        "SELECT (epoch(now()) - epoch(min(first_dirtied_at))) / 3600.0 AS oldest_waiting_hours\n"
        "FROM health_refresh_backlog\nWHERE $__timeFilter(first_dirtied_at) AND NOT held_back",
        "oldest_waiting_hours",
        {
            "unit": "h",
            "decimals": 1,
            "color": {"mode": "thresholds"},
            **_check_thresholds(
                checks.refresh_backlog_warn_hours, checks.refresh_backlog_fail_hours
            ),
        },
        FORMAT_TABLE,
    )
    backlog["options"]["graphMode"] = "none"
    backlog_table = table_panel(
        "Refresh backlog",
        "Event dates waiting for their silver and gold (the late-data sensor and `piper ingest`"
        " refresh them); held back: events from a spool partition whose invalid rate failed"
        " (docs/runbook.md#refresh-backlog).",
        "SELECT event_date, held_back, first_dirtied_at,"
        " (epoch(now()) - epoch(first_dirtied_at)) / 3600.0 AS waiting_hours, entries, why,"
        " blocked_spool_dates\nFROM health_refresh_backlog\nWHERE $__timeFilter(first_dirtied_at)\n"
        "ORDER BY held_back, event_date",
        [column_override("waiting_hours", {"unit": "h", "decimals": 1})],
    )

    outcomes = timeseries_panel(
        "Check outcomes per day",
        "Check evaluations per day of evaluation, by status (SKIP: could not judge).",
        "SELECT date_trunc('day', evaluated_at)::TIMESTAMP AS time, status,"
        " count(*)::DOUBLE AS evaluations\nFROM pipeline_check_results\n"
        "WHERE $__timeFilter(evaluated_at)\nGROUP BY 1, 2\nORDER BY 1, 2",
        {"unit": "short", "decimals": 0},
        series_label="status",
        bars=True,
        overrides=_status_overrides(regex=True),
    )
    volume = _daily_counts(
        "Events ingested per day by source family",
        "Valid events per event date: artists' machines, the farm poller, the storage auditor.",
        "health_ingest_daily",
        "event_date",
        "source_family",
        "events",
    )
    reasons = _daily_counts(
        "Quarantined lines per day by reason",
        "Rejected lines per spool date and reason (contract §5).",
        "health_quarantine_daily",
        "spool_date",
        "reason",
        "lines",
    )
    skew = _daily_counts(
        "Clock-skewed events per day by source family",
        "Events dated by their spool file because their clock was off (contract §6).",
        "health_ingest_daily",
        "event_date",
        "source_family",
        "skewed_events",
    )

    checks_table = table_panel(
        "Latest check results",
        "The latest evaluation of each check, asset, scope and partition in the range (SKIP: the"
        " check could not judge, too little data); the run links to Dagster.",
        "SELECT check_name, asset, scope, partition_date, status, value, warn_threshold,"
        " fail_threshold, evaluated_at, run_id\n"
        f"FROM ({_LATEST_CHECKS.strip()})\n"
        "ORDER BY CASE status WHEN 'FAIL' THEN 0 WHEN 'WARN' THEN 1 WHEN 'SKIP' THEN 2 ELSE 3 END,"
        " evaluated_at DESC",
        [
            *_status_overrides(regex=False),
            column_override(
                "run_id",
                {
                    "links": [
                        {
                            "title": "Run in Dagster",
                            "url": "${dagster_url}/runs/${__value.raw}",
                            "targetBlank": True,
                        }
                    ]
                },
            ),
        ],
    )
    hosts_table = table_panel(
        "Hosts with a skewed clock",
        "Per host over the range: days with skewed events, skewed events, their share.",
        "SELECT host, count(*)::BIGINT AS days, sum(skewed_events)::BIGINT AS skewed_events,\n"
        "    sum(events)::BIGINT AS events,"
        " sum(skewed_events) / sum(events)::DOUBLE AS skewed_share\n"
        "FROM health_skewed_hosts_daily\nWHERE $__timeFilter(event_date)\nGROUP BY 1\n"
        "ORDER BY skewed_events DESC",
        [column_override("skewed_share", {"unit": "percentunit", "decimals": 1})],
        sort_by="skewed_events",
    )
    reasons_table = table_panel(
        "Quarantine by reason",
        "Rejected lines and the files they came from, over the range.",
        "SELECT reason, sum(lines)::BIGINT AS lines, sum(files)::BIGINT AS file_days\n"
        "FROM health_quarantine_daily\nWHERE $__timeFilter(spool_date)\nGROUP BY 1\n"
        "ORDER BY lines DESC",
        [column_override("file_days", {"description": "files per spool date, summed"})],
        sort_by="lines",
    )
    freshness_table = table_panel(
        "Freshness by source family",
        "The newest event and the last ingest of each source family in the range.",
        "SELECT source_family, max(newest_event_ts) AS newest_event,"
        " max(last_ingested_at) AS last_ingested,\n"
        "    (epoch(now()) - epoch(max(newest_event_ts))) / 3600.0 AS age_hours\n"
        "FROM health_ingest_daily\nWHERE $__timeFilter(event_date)\nGROUP BY 1\nORDER BY 1",
        [column_override("age_hours", {"unit": "h", "decimals": 1})],
    )

    panels = layout(
        [
            [
                (failing, 3, 5),
                (warning, 3, 5),
                (invalid_rate, 3, 5),
                (skewed_share, 3, 5),
                (freshness, 5, 5),
                (published, 3, 5),
                (backlog, 4, 5),
            ],
            [(outcomes, 12, 8), (volume, 12, 8), (reasons, 12, 8), (skew, 12, 8)],
            [(checks_table, 24, 9)],
            [(hosts_table, 8, 8), (reasons_table, 8, 8), (freshness_table, 8, 8)],
            [(backlog_table, 24, 7)],
        ]
    )
    return dashboard(
        "piper-pipeline-health",
        "Pipeline health",
        "piper's own health: check outcomes, ingest volume, quarantine, clock skew, freshness.",
        panels,
        dagster_links=[
            ("Dagster runs", "/runs"),
            ("spool_events checks", "/assets/spool_events?view=checks"),
        ],
        time_from="now-14d",
    )


# --- provisioning -----------------------------------------------------------------------------


def dashboards(checks: ChecksSettings) -> dict[str, dict[str, Any]]:
    """Every dashboard, by its path under grafana/dashboards/ (the folder is Grafana's)."""
    catalog = load_catalog()
    out = {
        f"{GOLD_FOLDER}/{m.name}.json": gold_dashboard(m, [e for e in catalog if e.model == m.name])
        for m in GOLD_MODELS
    }
    out[f"{PIPELINE_FOLDER}/pipeline_health.json"] = pipeline_health_dashboard(checks)
    return out


def datasource_provisioning() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": DATASOURCE_NAME,
                "uid": DATASOURCE_UID,
                "type": PLUGIN_ID,
                "access": "proxy",
                "orgId": 1,
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    # In memory: the views read the serving layer's Parquet, never a .duckdb
                    # file that v0.4.5 would not reload when replaced.
                    "path": "",
                    "initSql": init_sql(f"{CONTAINER_DATA_ROOT}/serving"),
                },
            }
        ],
    }


def dashboard_provisioning() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "piper",
                "orgId": 1,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": CONTAINER_DASHBOARDS, "foldersFromFilesStructure": True},
            }
        ],
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)

_HEADER = "# Generated by `piper grafana generate` (piper_dagster/grafana.py): do not edit.\n"


def rendered() -> dict[Path, str]:
    """Every generated file (relative to the repository root) with its content. The pipeline
    checks' thresholds are the settings' (piper_dagster/conf/settings.toml and PIPER_CHECKS__* overrides) when
    generated: the committed files carry the repository's defaults, and a changed threshold
    needs `piper grafana generate` (`--check` reports the files out of date until then)."""
    files: dict[Path, str] = {}
    for rel, board in dashboards(load_settings().checks).items():
        files[Path("grafana/dashboards") / rel] = json.dumps(board, indent=2) + "\n"
    for rel, doc in (
        ("datasources/piper.yaml", datasource_provisioning()),
        ("dashboards/piper.yaml", dashboard_provisioning()),
    ):
        body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=200)
        files[Path("grafana/provisioning") / rel] = _HEADER + body
    return files


def write(root: Path = PROJECT_ROOT) -> list[Path]:
    """Write the generated files under `root`; the paths whose content changed."""
    changed = []
    for rel, text in rendered().items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def stale(root: Path = PROJECT_ROOT) -> list[Path]:
    """Generated files missing or different under `root`."""
    return [
        rel
        for rel, text in rendered().items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
    ]
