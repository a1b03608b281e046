-- The replay's candidates (replay_rows) as the ingest's batch tables: batch_files (file_idx,
-- source_file, spool_date, mtime: the file's mtime when last read, for the clock-skew rule of
-- contract §6) and the validator's input replay_lines (idx, raw with its terminator, term,
-- nul_only: NULs were removed before quarantining; + file_idx, line_no).
CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT
    (row_number() OVER (ORDER BY r.source_file) - 1)::INTEGER AS file_idx,
    r.source_file,
    r.spool_date,
    coalesce(make_timestamp(f.mtime_ns // 1000)::TIMESTAMPTZ, r.quarantined_at) AS mtime
FROM (
    SELECT source_file, any_value(spool_date) AS spool_date, max(quarantined_at) AS quarantined_at
    FROM replay_rows GROUP BY source_file
) AS r
LEFT JOIN spool_files AS f USING (source_file);

CREATE OR REPLACE TEMP TABLE replay_lines AS
SELECT
    r.idx,
    r.raw_bytes || '\x0A'::BLOB AS raw,
    1::TINYINT AS term,
    false AS nul_only,
    b.file_idx,
    r.source_line AS line_no
FROM replay_rows AS r
JOIN batch_files AS b USING (source_file);
