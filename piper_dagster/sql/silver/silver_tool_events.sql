-- DCC tool events: one row per event of the 8 tool types in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
SELECT
    * EXCLUDE (payload, raw_user, raw_folder),
    payload->>'$.status' AS status,
    CAST(payload->>'$.duration_ms' AS BIGINT) AS duration_ms,
    payload->>'$.dcc' AS dcc,
    payload->>'$.dcc_version' AS dcc_version,
    piper_path(payload->>'$.path', raw_user, raw_folder) AS path,
    payload->>'$.error' AS error
FROM silver_base(
    $start,
    $end,
    [
        'dcc.launch',
        'file.open',
        'file.create',
        'shot.setup',
        'playblast.create',
        'build.houdini.component',
        'texture.export.substance',
        'texture.convert.tex'
    ]
)
