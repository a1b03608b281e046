-- The notifications of the last `serving.health_days` days for the pipeline-health dashboard:
-- what was sent or failed (alert_log), and what still waits in the outbox (state 'pending').
-- Parameters: $published_at (TIMESTAMPTZ), $days (INTEGER).
SELECT
    sent_at,
    CASE WHEN ok THEN 'sent' WHEN starts_with(error, 'dropped') THEN 'dropped' ELSE 'failed' END
        AS state,
    channel, kind, check_name, scope, partition_date, status, previous_status, run_id, attempts,
    error, title
FROM alert_log
WHERE sent_at >= $published_at::TIMESTAMPTZ - to_days($days)
UNION ALL
SELECT
    coalesce(last_attempt_at, created_at) AS sent_at, 'pending' AS state, channel, kind,
    message ->> 'check' AS check_name, message ->> 'scope' AS scope,
    (message ->> 'partition')::DATE AS partition_date, status,
    message ->> 'previous_status' AS previous_status, message ->> 'run_id' AS run_id, attempts,
    last_error AS error, message ->> 'title' AS title
FROM alert_outbox
ORDER BY sent_at
