-- Quarantine the batch's rejected lines (batch_quarantine.sql), each line once: a line already
-- quarantined (same file, bytes and occurrence: re-read, e.g. after a rewrite shifted it) takes
-- its line number and reason of now instead of a second row.
-- Inputs: batch_quarantine; parameter $run_id.
UPDATE quarantine AS x
SET source_line = k.source_line, reason = k.reason, in_last_read = true
FROM batch_quarantine AS k
WHERE k.known
  AND x.source_file = k.source_file AND x.raw_md5 = k.raw_md5 AND x.occurrence = k.occurrence;

INSERT INTO quarantine (
    reason, source_file, source_line, spool_date, raw_line, raw_bytes, raw_length, raw_md5,
    quarantined_at, ingest_run_id, occurrence, in_last_read
)
SELECT
    reason, source_file, source_line, spool_date, raw_line, raw_bytes, raw_length, raw_md5,
    now(), $run_id, occurrence, true
FROM batch_quarantine
WHERE NOT known;
