"""The gold dashboards: one per gold model, its stats, series and table from the metrics catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piper_dagster.catalog import MetricEntry
from piper_dagster.grafana.panels import (
    FORMAT_TIME_SERIES,
    dashboard,
    field_config,
    layout,
    metric_column,
    spread,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from piper_dagster.models import Model


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

# How a metric adds up (the catalog's `aggregate`, its single source), in a stat's description:
# across a model's breakdown for one date (stats) or over the range (tables). A model without a
# breakdown is shown per day as it is, so dq_error_rate (no denominator column) is never added up.
AGG_WORDS = {"sum": "total", "rate": "overall", "max": "worst"}


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
            f"SELECT {key}::TIMESTAMP AS time, {m.aggregate_sql()} AS {m.column}\n"
            f"FROM {table}\n{where}\nGROUP BY 1\nORDER BY 1"
        )
        how = AGG_WORDS[m.aggregate]
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
                field_config(m),
                FORMAT_TIME_SERIES,
            )
        )

    series = []
    for m in metrics:
        if view.breakdown:
            # Per breakdown value: storage adds its buckets up per root, the others have one
            # row per (date, breakdown) already.
            value = m.aggregate_sql() if model.grain == "iso_week" else m.column
            group = "GROUP BY 1, 2\n" if model.grain == "iso_week" else ""
            sql = (
                f"SELECT {key}::TIMESTAMP AS time, {view.breakdown}, {value} AS {m.column}\n"
                f"FROM {table}\n{where}\n{group}ORDER BY 1, 2"
            )
            title = f"{m.name} by {view.breakdown}"
        else:
            sql = f"SELECT {key}::TIMESTAMP AS time, {m.column}\nFROM {table}\n{where}\nORDER BY 1"
            title = m.name
        defaults = field_config(m)
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
        aggs = ",\n    ".join(f"{m.aggregate_sql()} AS {m.column}" for m in metrics)
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
            spread(stats, 5),
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
