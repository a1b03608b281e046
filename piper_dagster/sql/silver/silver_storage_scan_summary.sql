-- Storage roots: one row per event of storage.scan.summary in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.root' AS root,
    CAST(payload->>'$.total_bytes' AS BIGINT) AS total_bytes,
    CAST(payload->>'$.file_count' AS BIGINT) AS file_count,
    CAST(payload->>'$.scan_duration_ms' AS BIGINT) AS scan_duration_ms
FROM silver_base($start, $end, ['storage.scan.summary'])
