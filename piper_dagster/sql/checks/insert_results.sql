-- Record check outcomes (the registered relation check_rows) for Grafana: one row per
-- evaluation, partition and scope; history is kept (the latest evaluated_at is the current one).
INSERT INTO pipeline_check_results
SELECT
    check_name, asset, partition_date, scope, status, value, warn_threshold, fail_threshold,
    detail::JSON, evaluated_at, run_id
FROM check_rows
