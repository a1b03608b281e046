-- Storage buckets: one row per event of storage.scan.bucket in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS root,
    p[2] AS bucket,
    CAST(p[3] AS BIGINT) AS bytes,
    CAST(p[4] AS BIGINT) AS file_count
FROM (
    SELECT *, json_extract_string(payload, ['$.root', '$.bucket', '$.bytes', '$.file_count']) AS p
    FROM silver_base($start, $end, ['storage.scan.bucket'])
)
