-- USD publishes: one row per event of the 5 publish types in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- piper_user() (a temp macro, piper_dagster.models.define_user_macro) hashes user names when
-- users are masked; it is applied to the user column, the user folder of source_file and the
-- usd_path segments equal to the user (or to the user folder of source_file).
SELECT
    event_id,
    event_type,
    event_date,
    ts,
    host,
    piper_user("user") AS "user",
    "show",
    session_id,
    clock_skewed,
    concat_ws(
        '/',
        split_part(source_file, '/', 1),
        piper_user(split_part(source_file, '/', 2)),
        array_to_string(string_split(source_file, '/')[3:], '/')
    ) AS source_file,
    source_line,
    payload->>'$.status' AS status,
    CAST(payload->>'$.duration_ms' AS BIGINT) AS duration_ms,
    CAST(payload->>'$.output_bytes' AS BIGINT) AS output_bytes,
    payload->>'$.asset' AS asset,
    payload->>'$.department' AS department,
    array_to_string(
        list_transform(
            string_split(payload->>'$.usd_path', '/'),
            lambda s: CASE
                WHEN s IN ("user", split_part(source_file, '/', 2)) THEN piper_user(s) ELSE s
            END
        ),
        '/'
    ) AS usd_path,
    payload->>'$.error' AS error
FROM silver_events
WHERE event_date >= $start AND event_date < $end
    AND event_type IN (
        'publish.asset.usd',
        'publish.anim.usd',
        'publish.camera.usd',
        'publish.customanim.usd',
        'publish.previs_asset.usd'
    )
