-- Finished render jobs: one row per event of render.stats.summary in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.job_id' AS job_id,
    payload->>'$.status' AS status,
    CAST(payload->>'$.frames_total' AS BIGINT) AS frames_total,
    CAST(payload->>'$.frames_failed' AS BIGINT) AS frames_failed,
    CAST(payload->>'$.cpu_seconds' AS DOUBLE) AS cpu_seconds,
    CAST(payload->>'$.wall_seconds' AS DOUBLE) AS wall_seconds,
    CAST(payload->>'$.peak_rss_bytes' AS BIGINT) AS peak_rss_bytes
FROM silver_base($start, $end, ['render.stats.summary'])
