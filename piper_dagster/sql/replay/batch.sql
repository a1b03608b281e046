-- The replay's candidates (replay_rows) as the ingest's batch tables: batch_files (file_idx,
-- source_file, spool_date, mtime: the file's mtime when last read, for the clock-skew rule of
-- contract §6) and the validator's input replay_lines (idx, raw with its terminator, term,
-- nul_only: NULs were removed before quarantining; + file_idx, line_no).
-- Parameter: $bom (the UTF-8 byte order mark). Contract §2: a BOM at byte 0 of a file is not part
-- of its first line; lines quarantined before piper knew it still hold it (line 1 starts at
-- byte 0 of its file, so its leading BOM is that one).
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
    CASE WHEN r.source_line = 1 AND (r.raw_bytes)[1:3] = $bom THEN (r.raw_bytes)[4:]
         ELSE r.raw_bytes END || '\x0A'::BLOB AS raw,
    1::TINYINT AS term,
    false AS nul_only,
    b.file_idx,
    r.source_line AS line_no
FROM replay_rows AS r
JOIN batch_files AS b USING (source_file);
