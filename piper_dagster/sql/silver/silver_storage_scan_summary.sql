-- Storage roots: one row per event of storage.scan.summary in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS root,
    CAST(p[2] AS BIGINT) AS total_bytes,
    CAST(p[3] AS BIGINT) AS file_count,
    CAST(p[4] AS BIGINT) AS scan_duration_ms
FROM (
    SELECT *, json_extract_string(payload, ['$.root', '$.total_bytes', '$.file_count', '$.scan_duration_ms']) AS p
    FROM silver_base($start, $end, ['storage.scan.summary'])
)
