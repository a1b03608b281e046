-- Storage roots: one row per event of storage.scan.summary in [$start, $end) (contract §4).
-- Typed payload fields; integers are cast from the JSON text, so a whole float (30000.0) becomes
-- 30000 exactly (no DOUBLE detour: exact beyond 2^53). JSON null or absent optional fields: NULL.
-- piper_user() (a temp macro, piper_dagster.models.define_user_macro) hashes user names when
-- users are masked; it is applied to the user column and the user folder of source_file.
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
    payload->>'$.root' AS root,
    CAST(payload->>'$.total_bytes' AS BIGINT) AS total_bytes,
    CAST(payload->>'$.file_count' AS BIGINT) AS file_count,
    CAST(payload->>'$.scan_duration_ms' AS BIGINT) AS scan_duration_ms
FROM silver_events
WHERE event_date >= $start AND event_date < $end
    AND event_type = 'storage.scan.summary'
