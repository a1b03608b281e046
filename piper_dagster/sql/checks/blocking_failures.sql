-- Spool partitions whose latest recorded outcome of a blocking check is FAIL, outside the
-- partitions $first..$last that `piper doctor` looks at: their silver and gold may still be held
-- back (doctor re-evaluates each now and lists those that still FAIL, whatever --date/--days
-- say). With the event dates that partition brought events to (the dates held back).
-- Parameters: $checks (the blocking checks' names), $asset, $first, $last (DATE).
WITH latest AS (
    SELECT check_name, partition_date, status, evaluated_at, run_id
    FROM pipeline_check_results
    WHERE check_name IN (SELECT unnest($checks::VARCHAR[]))
      AND asset = $asset
      AND partition_date IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY check_name, scope, partition_date ORDER BY evaluated_at DESC
    ) = 1
)
SELECT
    l.check_name,
    l.partition_date,
    l.evaluated_at AS recorded_at,
    l.run_id,
    (
        SELECT array_sort(list(DISTINCT e.event_date))
        FROM silver_events AS e
        WHERE e.spool_date = l.partition_date
    ) AS event_dates
FROM latest AS l
WHERE l.status = 'FAIL' AND l.partition_date NOT BETWEEN $first AND $last
ORDER BY l.partition_date, l.check_name
