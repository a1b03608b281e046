"""Grafana panel builders: thresholds as Grafana steps, stat / time-series / table panels, the
grid layout and the dashboard around them (plain dictionaries of Grafana's schema)."""

from __future__ import annotations

import math
from typing import Any

from piper_dagster.catalog import MetricEntry
from piper_dagster.dagster_home import DAGSTER_URL
from piper_dagster.grafana.deployment import DATASOURCE, SCHEMA_VERSION, TAG

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


def field_config(entry: MetricEntry) -> dict[str, Any]:
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


def spread(panels: list[dict[str, Any]], height: int) -> list[tuple[dict[str, Any], int, int]]:
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
