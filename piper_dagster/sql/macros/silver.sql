-- Temporary macros of every piper connection (after the privacy macros, see
-- piper_dagster.warehouse.define_macros): one definition of what every silver domain shares.

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
