-- Finished render jobs: one row per event of render.stats.summary in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS job_id,
    p[2] AS status,
    CAST(p[3] AS BIGINT) AS frames_total,
    CAST(p[4] AS BIGINT) AS frames_failed,
    CAST(p[5] AS DOUBLE) AS cpu_seconds,
    CAST(p[6] AS DOUBLE) AS wall_seconds,
    CAST(p[7] AS BIGINT) AS peak_rss_bytes
FROM (
    SELECT *, json_extract_string(payload, ['$.job_id', '$.status', '$.frames_total', '$.frames_failed', '$.cpu_seconds', '$.wall_seconds', '$.peak_rss_bytes']) AS p
    FROM silver_base($start, $end, ['render.stats.summary'])
)
