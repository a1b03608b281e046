-- One spool date's quarantine, as replayable JSON lines (raw_base64: the exact original bytes).
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
ORDER BY source_file, source_line
