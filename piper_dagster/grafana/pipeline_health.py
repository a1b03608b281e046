"""The pipeline-health dashboard: check outcomes, ingest volume, quarantine, clock skew,
freshness, the refresh backlog; the stats the checks judge take the checks' thresholds."""

from __future__ import annotations

from typing import Any

from piper_dagster.contract.families import FAMILIES
from piper_dagster.grafana.panels import (
    FORMAT_TABLE,
    FORMAT_TIME_SERIES,
    NEUTRAL_COLOR,
    column_override,
    dashboard,
    layout,
    level_steps,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from piper_dagster.settings import ChecksSettings

# SKIP (the check could not judge: too little data) is neither good nor bad: the neutral color,
# never PASS's green.
STATUS_COLORS = {"SKIP": NEUTRAL_COLOR, "PASS": "green", "WARN": "orange", "FAIL": "red"}

# Ages in hours (the freshness and refresh-backlog checks' unit): one SQL expression, one format.
_HOURS: dict[str, Any] = {"unit": "h", "decimals": 1}


def _hours_since(ts: str) -> str:
    """SQL: the hours from the timestamp expression `ts` to now."""
    return f"(epoch(now()) - epoch({ts})) / 3600.0"


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
        _hours_since(f"max(newest_event_ts) FILTER (WHERE source_family = '{f}')") + f" AS {f}"
        for f in FAMILIES
    )
    freshness = stat_panel(
        "Newest event age (hours)",
        "Hours since the newest event of each source family, colored as the freshness check"
        " grades it (checks.freshness_<family>_warn_hours / _fail_hours); empty when the family"
        " sent nothing in the range.",
        f"SELECT\n    {ages}\nFROM health_ingest_daily\nWHERE $__timeFilter(event_date)",
        "(" + "|".join(FAMILIES) + ")",
        {**_HOURS, "color": {"mode": "thresholds"}, **_check_thresholds()},
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
        for f in FAMILIES
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
        f"SELECT {_hours_since('min(first_dirtied_at)')} AS oldest_waiting_hours\n"
        "FROM health_refresh_backlog\nWHERE $__timeFilter(first_dirtied_at) AND NOT held_back",
        "oldest_waiting_hours",
        {
            **_HOURS,
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
        f" {_hours_since('first_dirtied_at')} AS waiting_hours, entries, why,"
        " blocked_spool_dates\nFROM health_refresh_backlog\nWHERE $__timeFilter(first_dirtied_at)\n"
        "ORDER BY held_back, event_date",
        [column_override("waiting_hours", _HOURS)],
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
        f"    {_hours_since('max(newest_event_ts)')} AS age_hours\n"
        "FROM health_ingest_daily\nWHERE $__timeFilter(event_date)\nGROUP BY 1\nORDER BY 1",
        [column_override("age_hours", _HOURS)],
    )

    anomalies = _daily_counts(
        "Spool anomalies per day by kind",
        "Spool files per day of detection and kind: skipped (unreadable_name: a file or folder"
        " name that is not UTF-8; unreadable: a symlink loop, permission denied; before_start_date:"
        " no partition), read with a future_mtime, or found rewritten, shrunk or vanished"
        " (docs/runbook.md#spool-files-skipped).",
        "health_spool_anomalies_daily",
        "detected_date",
        "kind",
        "files",
    )
    anomalies_table = table_panel(
        "Spool anomalies by host",
        "Per host and kind over the range: the days it was seen and the newest; the files are"
        " named in the ingest runs' metadata, `piper ingest --dry-run` and table spool_anomalies.",
        "SELECT host, kind, count(*)::BIGINT AS days, sum(files)::BIGINT AS file_days,"
        " max(detected_date) AS last_seen\n"
        "FROM health_spool_anomalies_daily\nWHERE $__timeFilter(detected_date)\nGROUP BY 1, 2\n"
        "ORDER BY last_seen DESC, file_days DESC",
        [column_override("file_days", {"description": "files per day of detection, summed"})],
        sort_by="last_seen",
    )

    alerts_table = table_panel(
        "Notifications",
        "What piper sent to the alert channels ([alerts] settings): check state changes (problem,"
        " repeat, resolved), failed runs, tests; failed deliveries stay pending in the outbox and"
        " are retried at the next check evaluation or `piper alerts deliver`"
        " (docs/runbook.md#alerts).",
        "SELECT sent_at, state, channel, kind, check_name, scope, partition_date, status,"
        " previous_status, attempts, error, title\nFROM health_alerts\n"
        "WHERE $__timeFilter(sent_at)\nORDER BY sent_at DESC",
        [
            *_status_overrides(regex=False),
            column_override(
                "state",
                {
                    "custom.cellOptions": {"type": "color-text"},
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                "sent": {"color": "green", "index": 0},
                                "pending": {"color": "orange", "index": 1},
                                "failed": {"color": "red", "index": 2},
                                "dropped": {"color": "red", "index": 3},
                            },
                        }
                    ],
                },
            ),
        ],
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
            [
                (outcomes, 12, 8),
                (volume, 12, 8),
                (reasons, 12, 8),
                (skew, 12, 8),
                (anomalies, 24, 8),
            ],
            [(checks_table, 24, 9)],
            [(hosts_table, 8, 8), (reasons_table, 8, 8), (freshness_table, 8, 8)],
            [(backlog_table, 24, 7)],
            [(anomalies_table, 24, 7)],
            [(alerts_table, 24, 8)],
        ]
    )
    return dashboard(
        "piper-pipeline-health",
        "Pipeline health",
        "piper's own health: check outcomes, ingest volume, quarantine, clock skew, freshness,"
        " spool anomalies.",
        panels,
        dagster_links=[
            ("Dagster runs", "/runs"),
            ("spool_events checks", "/assets/spool_events?view=checks"),
        ],
        time_from="now-14d",
    )
