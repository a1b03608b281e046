-- One spool date's quarantine, as replayable JSON lines (raw_base64: the exact original bytes).
-- Parameter $spool_date. In the order the lines were quarantined (file by file, line by line
-- within a run), not sorted: a sort of millions of rows would take the export past the
-- ingest's memory bound (issue #13: 10 M bad lines, 729 MiB sorted, 300 MiB as stored).
SELECT
    reason,
    source_file,
    source_line,
    spool_date,
    raw_line,
    raw_length,
    CASE WHEN raw_bytes IS NOT NULL THEN base64(raw_bytes) END AS raw_base64
FROM quarantine
WHERE spool_date = $spool_date
