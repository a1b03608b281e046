-- Spool anomalies per UTC day of detection, kind and host, for the pipeline-health dashboard:
-- files found rewritten or shrunk (read again), gone before their commit, and the entries the
-- planner skipped (a name that is not UTF-8, unreadable, no possible partition) or read with a
-- future mtime (piper_dagster/spool/discovery.py). Only the host: no dashboard names a user.
-- Parameters: $first (the first date published).
SELECT
    (detected_at AT TIME ZONE 'UTC')::DATE AS detected_date,
    kind,
    split_part(source_file, '/', 1) AS host,
    count(*) AS anomalies,
    count(DISTINCT source_file) AS files
FROM spool_anomalies
WHERE (detected_at AT TIME ZONE 'UTC')::DATE >= $first
GROUP BY ALL
ORDER BY detected_date, kind, host
