"""Telling the operator about the spool entries a plan skipped or found suspicious: the
warning lines (log, CLI, Dagster) and their spool_anomalies rows (the pipeline-health
dashboard)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from piper_dagster.spool.discovery import SpoolIssue
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import transaction

# A spool can hold thousands of bad entries (a folder of them): name the first ones, count the rest.
MAX_NAMED = 20


def issue_lines(issues: Sequence[SpoolIssue], limit: int = MAX_NAMED) -> list[str]:
    """One warning line per issue (the first `limit`), then how many more."""
    lines = [
        f"{'skipped' if i.skipped else i.kind.replace('_', ' ')}: {i.source_file}: {i.detail}"
        for i in issues[:limit]
    ]
    if len(issues) > limit:
        lines.append(f"... and {len(issues) - limit} more (table spool_anomalies)")
    return lines


def record_issues(
    con: duckdb.DuckDBPyConnection, issues: Sequence[SpoolIssue], run_id: str | None
) -> None:
    """Record the issues in spool_anomalies, once per entry, kind and UTC day."""
    if not issues:
        return
    table = pa.Table.from_pylist(
        [i.as_dict() for i in issues],
        pa.schema([("source_file", pa.string()), ("kind", pa.string()), ("detail", pa.string())]),
    )
    con.register("plan_issues", table)
    try:
        with transaction(con):
            con.execute(load_sql("ingest/insert_spool_issues"), {"run_id": run_id})
    finally:
        con.unregister("plan_issues")
