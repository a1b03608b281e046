-- Delete the ingest bookkeeping older than the bound (retention.bookkeeping_days): ingest batches
-- and spool anomalies. (pipeline_check_results: retention/check_results.sql, latest kept.)
-- Inputs: $table ('ingest_batches' | 'spool_anomalies') and $column (its timestamp: committed_at
-- | detected_at), replaced by the caller. Parameters: $before (TIMESTAMPTZ).
DELETE FROM $table
WHERE $column < $before
RETURNING 1
