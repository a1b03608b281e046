-- The spool dates holding quarantined lines to replay, oldest first (one transaction each).
-- line_too_long lines have no raw_bytes (not kept) and cannot be replayed.
-- Parameters: $reason (NULL: any), $since (NULL: any spool date).
SELECT DISTINCT spool_date
FROM quarantine
WHERE raw_bytes IS NOT NULL
  AND ($reason IS NULL OR reason = $reason)
  AND ($since IS NULL OR spool_date >= $since)
ORDER BY spool_date;
