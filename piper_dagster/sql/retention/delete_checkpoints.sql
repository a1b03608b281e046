-- Delete the checkpoints (spool_files) of files the caller found gone from a reachable spool
-- (of those retention/old_checkpoints.sql listed).
-- Parameters: $files (VARCHAR[]): paths relative to raw_root.
DELETE FROM spool_files
WHERE source_file IN (SELECT unnest($files::VARCHAR[]))
