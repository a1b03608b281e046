-- USD publishes: one row per event of the 5 publish types in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS status,
    CAST(p[2] AS BIGINT) AS duration_ms,
    CAST(p[3] AS BIGINT) AS output_bytes,
    p[4] AS asset,
    p[5] AS department,
    piper_path(p[6], raw_user, raw_folder) AS usd_path,
    p[7] AS error
FROM (
    SELECT *, json_extract_string(payload, ['$.status', '$.duration_ms', '$.output_bytes', '$.asset', '$.department', '$.usd_path', '$.error']) AS p
    FROM silver_base(
        $start,
        $end,
        [
            'publish.asset.usd',
            'publish.anim.usd',
            'publish.camera.usd',
            'publish.customanim.usd',
            'publish.previs_asset.usd'
        ]
    )
)
