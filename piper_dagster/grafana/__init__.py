"""Grafana, generated: the dashboards and the provisioning files under grafana/, from code.

One source of truth: the gold panels' thresholds, units and descriptions come from the metrics
catalog (piper_dagster/conf/metrics_catalog.yml), the pipeline-health stats' thresholds from the checks'
settings ([checks] in piper_dagster/conf/settings.toml), the views the datasource defines from the serving
layer's table list (piper_dagster/serving.py). `piper grafana generate` writes the files; a test checks that
the committed files are exactly what this package generates.

Every panel names the provisioned datasource by its fixed uid (provisioned dashboards cannot
take `${DS_...}` inputs), uses an integer `format` (0 time series, 1 table: what the DuckDB
plugin v0.4.5 reads), filters time with `$__timeFilter(<time column>)` (the plugin's
`$__timeGroup` is broken on DuckDB) and reads only the serving layer's views.

Plain dictionaries rather than grafana-foundation-sdk: the plugin's query model is not in the
SDK, and what must hold (SQL that runs on the served data, layout, uids) is tested here directly.

The package, by concern: `deployment` (what docker-compose fixes: plugin, uids, container paths),
`panels` (panel builders, thresholds as Grafana steps, layout), `gold` (a dashboard per gold
model), `pipeline_health` (the pipeline's own dashboard), `provisioning` (the datasource and the
dashboard provider), `generate` (every file rendered, written or compared).
"""
