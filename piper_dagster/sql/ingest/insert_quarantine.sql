-- Quarantine the batch's rejected lines; a line already quarantined (same file, line and bytes,
-- e.g. on a re-read) is not quarantined twice. Inputs: batch_quarantine, batch_files; $run_id.
INSERT INTO quarantine
SELECT
    q.reason,
    f.source_file,
    q.source_line,
    f.spool_date,
    q.raw_line,
    q.raw_bytes,
    q.raw_length,
    q.raw_md5,
    now(),
    $run_id
FROM batch_quarantine AS q
JOIN batch_files AS f USING (file_idx)
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine AS x
    WHERE x.source_file = f.source_file
      AND x.source_line = q.source_line
      AND x.raw_md5 = q.raw_md5
);
