-- Farm job spools: one row per event of tractor.job.spool in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.job_id' AS job_id,
    payload->>'$.status' AS status,
    CAST(payload->>'$.task_count' AS BIGINT) AS task_count,
    payload->>'$.title' AS title,
    CAST(payload->>'$.priority' AS DOUBLE) AS priority
FROM silver_base($start, $end, ['tractor.job.spool'])
