-- Temporary macros of every piper connection (defined after piper_user(), see
-- piper_dagster.models.define_macros): one definition of what every silver domain shares.

-- A spool path host/user/file with its user folder through piper_user().
CREATE OR REPLACE TEMP MACRO piper_source_file(path) AS concat_ws(
    '/',
    split_part(path, '/', 1),
    piper_user(split_part(path, '/', 2)),
    array_to_string(string_split(path, '/')[3:], '/')
);

-- A payload path whose segments equal to the user (or to the spool folder) go through piper_user().
CREATE OR REPLACE TEMP MACRO piper_path(path, raw_user, raw_folder) AS array_to_string(
    list_transform(
        string_split(path, '/'),
        s -> CASE WHEN s IN (raw_user, raw_folder) THEN piper_user(s) ELSE s END
    ),
    '/'
);

-- The columns every silver domain starts with, for the events of `types` in [start_date,
-- end_date); `payload`, `raw_user` and `raw_folder` are for the domain's SELECT to use and drop.
CREATE OR REPLACE TEMP MACRO silver_base(start_date, end_date, types) AS TABLE
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
    piper_source_file(source_file) AS source_file,
    source_line,
    payload,
    "user" AS raw_user,
    split_part(source_file, '/', 2) AS raw_folder
FROM silver_events
WHERE event_date >= start_date AND event_date < end_date AND list_contains(types, event_type);
