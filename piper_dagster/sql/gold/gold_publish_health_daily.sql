-- Publish health per UTC day and publish type (contract §7), for event_date in [$start, $end).
-- A (day, type) without a publish has no row; p95 is continuous (linear interpolation).
SELECT
    event_date,
    event_type,
    count(*) AS publish_count,
    count_if(status = 'success') / nullif(count(*), 0)::DOUBLE AS publish_success_rate,
    quantile_cont(duration_ms, 0.95) AS publish_duration_p95_ms,
    -- The sum over no success is 0 bytes published, not unknown.
    coalesce(sum(output_bytes) FILTER (WHERE status = 'success'), 0)::BIGINT
        AS publish_output_bytes
FROM silver_publish_usd
WHERE event_date >= $start AND event_date < $end
GROUP BY event_date, event_type
