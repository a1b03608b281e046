-- Storage buckets: one row per event of storage.scan.bucket in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.root' AS root,
    payload->>'$.bucket' AS bucket,
    CAST(payload->>'$.bytes' AS BIGINT) AS bytes,
    CAST(payload->>'$.file_count' AS BIGINT) AS file_count
FROM silver_base($start, $end, ['storage.scan.bucket'])
