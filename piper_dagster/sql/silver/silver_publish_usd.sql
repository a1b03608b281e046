-- USD publishes: one row per event of the 5 publish types in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.status' AS status,
    CAST(payload->>'$.duration_ms' AS BIGINT) AS duration_ms,
    CAST(payload->>'$.output_bytes' AS BIGINT) AS output_bytes,
    payload->>'$.asset' AS asset,
    payload->>'$.department' AS department,
    piper_path(payload->>'$.usd_path', raw_user, raw_folder) AS usd_path,
    payload->>'$.error' AS error
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
