-- Checkpoints (spool_files) last read before the bound: the caller deletes those whose file is
-- no longer in the spool (retention.spool_checkpoint_days).
-- Parameters: $before (TIMESTAMPTZ).
SELECT source_file
FROM spool_files
WHERE last_read_at < $before
ORDER BY source_file
