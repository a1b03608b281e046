-- The quarantined lines of one spool date to replay (replay_rows), numbered (idx) in spool order.
-- line_too_long lines have no raw_bytes (not kept) and cannot be replayed.
-- Parameters: $reason (NULL: any), $spool_date.
CREATE OR REPLACE TEMP TABLE replay_rows AS
SELECT q.*, row_number() OVER (ORDER BY q.source_file, q.source_line) - 1 AS idx
FROM quarantine AS q
WHERE q.raw_bytes IS NOT NULL
  AND ($reason IS NULL OR q.reason = $reason)
  AND q.spool_date = $spool_date;
