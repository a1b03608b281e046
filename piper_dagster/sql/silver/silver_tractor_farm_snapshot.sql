-- Farm snapshots: one row per event of tractor.farm.snapshot in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    CAST(p[1] AS BIGINT) AS total_blades,
    CAST(p[2] AS BIGINT) AS active_blades,
    CAST(p[3] AS BIGINT) AS errored_jobs,
    CAST(p[4] AS BIGINT) AS active_jobs,
    CAST(p[5] AS BIGINT) AS queued_tasks
FROM (
    SELECT *, json_extract_string(payload, ['$.total_blades', '$.active_blades', '$.errored_jobs', '$.active_jobs', '$.queued_tasks']) AS p
    FROM silver_base($start, $end, ['tractor.farm.snapshot'])
)
