-- Delete pipeline_check_results rows evaluated before the bound (retention.bookkeeping_days),
-- except the latest of each check, asset, partition and scope: what still holds a partition back
-- (refresh/backlog.sql, checks/blocking_failures.sql) is read from the latest outcomes.
-- Parameters: $before (TIMESTAMPTZ).
DELETE FROM pipeline_check_results
WHERE evaluated_at < $before
    AND rowid NOT IN (
        SELECT rowid
        FROM pipeline_check_results
        QUALIFY row_number() OVER (
            PARTITION BY check_name, asset, partition_date, scope ORDER BY evaluated_at DESC
        ) = 1
    )
RETURNING 1
