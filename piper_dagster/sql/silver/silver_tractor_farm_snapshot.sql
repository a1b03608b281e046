-- Farm snapshots: one row per event of tractor.farm.snapshot in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    CAST(payload->>'$.total_blades' AS BIGINT) AS total_blades,
    CAST(payload->>'$.active_blades' AS BIGINT) AS active_blades,
    CAST(payload->>'$.errored_jobs' AS BIGINT) AS errored_jobs,
    CAST(payload->>'$.active_jobs' AS BIGINT) AS active_jobs,
    CAST(payload->>'$.queued_tasks' AS BIGINT) AS queued_tasks
FROM silver_base($start, $end, ['tractor.farm.snapshot'])
