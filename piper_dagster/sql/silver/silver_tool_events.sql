-- DCC tool events: one row per event of the 8 tool types in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- Common columns (users masked per privacy settings): silver_base(), sql/macros/silver.sql.
-- The payload is parsed once for all its fields (`->>` per field would parse it per field).
SELECT
    * EXCLUDE (payload, raw_user, raw_folder, p),
    p[1] AS status,
    CAST(p[2] AS BIGINT) AS duration_ms,
    p[3] AS dcc,
    p[4] AS dcc_version,
    piper_path(p[5], raw_user, raw_folder) AS path,
    p[6] AS error
FROM (
    SELECT *, json_extract_string(payload, ['$.status', '$.duration_ms', '$.dcc', '$.dcc_version', '$.path', '$.error']) AS p
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
)
