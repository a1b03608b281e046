-- Quarantined lines per spool date and reason (contract §5), with the files they came from.
SELECT
    spool_date,
    reason,
    count(*) AS lines,
    count(DISTINCT source_file) AS files
FROM quarantine
WHERE spool_date >= $first
GROUP BY ALL
ORDER BY spool_date, reason
