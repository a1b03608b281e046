-- Delete the bookkeeping older than the bound (retention.bookkeeping_days): ingest batches, spool
-- anomalies, the alert log. (pipeline_check_results: retention/check_results.sql, latest kept.)
-- Inputs: $table ('ingest_batches' | 'spool_anomalies' | 'alert_log') and $column (its timestamp:
-- committed_at | detected_at | sent_at), replaced by the caller. Parameters: $before (TIMESTAMPTZ).
DELETE FROM $table
WHERE $column < $before
RETURNING 1
