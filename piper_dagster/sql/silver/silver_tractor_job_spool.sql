-- Farm job spools: one row per event of tractor.job.spool in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS job_id,
    p[2] AS status,
    CAST(p[3] AS BIGINT) AS task_count,
    p[4] AS title,
    CAST(p[5] AS DOUBLE) AS priority
FROM (
    SELECT *, json_extract_string(payload, ['$.job_id', '$.status', '$.task_count', '$.title', '$.priority']) AS p
    FROM silver_base($start, $end, ['tractor.job.spool'])
)
