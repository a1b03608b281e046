-- Tool reliability per UTC day and tool event type (contract §7), for event_date in
-- [$start, $end). A (day, type) without an invocation has no row; p95 is continuous.
SELECT
    event_date,
    event_type,
    count(*) AS tool_invocations,
    count_if(status = 'success') / nullif(count(*), 0)::DOUBLE AS tool_success_rate,
    quantile_cont(duration_ms, 0.95) AS tool_duration_p95_ms
FROM silver_tool_events
WHERE event_date >= $start AND event_date < $end
GROUP BY event_date, event_type
