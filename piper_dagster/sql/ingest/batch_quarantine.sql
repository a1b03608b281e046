-- The batch's rejected lines as quarantine rows, built column-wise (no Python object per line),
-- with their identity across reads of their file: (source_file, raw_md5, occurrence), where
-- occurrence = the k-th line with these bytes in the file since its latest read from line 1
-- (two identical bad lines are two lines; a line shifted by a rewrite is the same line), and
-- `known`: that identity is quarantined already (a re-read line, relabelled, not inserted).
-- Inputs: batch_rejected (batch_rejected.sql), batch_long_lines (the line_too_long
-- lines the reader streamed: file_idx, line_no, prefix, length), batch_files, quarantine; the
-- UDF piper_backslashreplace (only for the prefixes that are not valid UTF-8).
-- Parameter: $prefix_bytes (raw_line's bytes).
CREATE OR REPLACE TEMP TABLE batch_quarantine AS
WITH rejected AS (
    SELECT status AS reason, file_idx, line_no AS source_line,
           raw[1:octet_length(raw) - term] AS body
    FROM batch_rejected
),
lines AS (
    SELECT reason, file_idx, source_line, body[1:$prefix_bytes] AS prefix,
           CASE WHEN reason <> 'line_too_long' THEN body END AS raw_bytes,
           octet_length(body) AS raw_length, md5(body) AS raw_md5
    FROM rejected
    UNION ALL
    -- The reader keeps only a streamed line's first bytes: its md5 is theirs.
    SELECT 'line_too_long', file_idx, line_no, prefix, NULL, length, md5(prefix)
    FROM batch_long_lines
),
seen AS (
    -- Lines with these bytes met earlier in the file's current read (in earlier batches).
    SELECT source_file, raw_md5, count(*) AS n
    FROM quarantine
    WHERE in_last_read AND source_file IN (SELECT source_file FROM batch_files)
    GROUP BY ALL
),
keyed AS (
    SELECT l.*, f.source_file, f.spool_date,
        coalesce(s.n, 0)
            + row_number() OVER (PARTITION BY l.file_idx, l.raw_md5 ORDER BY l.source_line)
            AS occurrence
    FROM lines AS l
    JOIN batch_files AS f USING (file_idx)
    LEFT JOIN seen AS s ON s.source_file = f.source_file AND s.raw_md5 = l.raw_md5
)
SELECT
    k.reason, k.file_idx, k.source_file, k.spool_date, k.source_line,
    -- Valid UTF-8, undecodable bytes as \xNN (Python's 'backslashreplace'). A CASE, not
    -- coalesce: DuckDB 1.5 stores coalesce(try(decode(...)), ...) with the undecoded bytes.
    CASE WHEN try(decode(k.prefix)) IS NULL THEN piper_backslashreplace(k.prefix)
         ELSE try(decode(k.prefix)) END AS raw_line,
    k.raw_bytes, k.raw_length, k.raw_md5, k.occurrence,
    EXISTS (
        SELECT 1 FROM quarantine AS x
        WHERE x.source_file = k.source_file AND x.raw_md5 = k.raw_md5
          AND x.occurrence = k.occurrence
    ) AS known
FROM keyed AS k;
