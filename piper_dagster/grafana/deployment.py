"""What the deployment fixes for Grafana: the DuckDB plugin, the datasource's uid, the container
paths, the dashboards' folders (docker-compose.yml agrees; test_deploy.py checks it)."""

from __future__ import annotations

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

GOLD_FOLDER = "piper-gold"
PIPELINE_FOLDER = "piper-pipeline"
TAG = "piper"
SCHEMA_VERSION = 39
