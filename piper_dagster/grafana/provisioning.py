"""Grafana's provisioning: the DuckDB datasource (its initSql defines the serving layer's views)
and the file provider of the dashboards."""

from __future__ import annotations

from typing import Any

from piper_dagster.grafana.deployment import (
    CONTAINER_DASHBOARDS,
    CONTAINER_DATA_ROOT,
    DATASOURCE_NAME,
    DATASOURCE_UID,
    PLUGIN_ID,
)
from piper_dagster.serving import init_sql


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
