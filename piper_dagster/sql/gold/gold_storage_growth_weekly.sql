-- Storage per ISO week, root and bucket (contract §7): the bytes and file count of the latest
-- bucket scan of the week, by ts, ties broken by the greatest event_id. `week` is the Monday of the
-- ISO week of event_date; the window [$start, $end) applies to `week` and is whole weeks, so the
-- event_date filter below only prunes (a week starting before $end ends before $end + 7 days).
SELECT
    week,
    root,
    bucket,
    bytes AS storage_bytes,
    file_count AS storage_file_count
FROM (
    SELECT
        date_trunc('week', event_date)::DATE AS week,
        root,
        bucket,
        bytes,
        file_count,
        ts,
        event_id
    FROM silver_storage_scan_bucket
    WHERE event_date >= $start AND event_date < $end + INTERVAL 7 DAY
)
WHERE week >= $start AND week < $end
QUALIFY row_number() OVER (PARTITION BY week, root, bucket ORDER BY ts DESC, event_id DESC) = 1
