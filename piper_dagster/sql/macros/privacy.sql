-- Masking macros when privacy.mask_users is on (defined after piper_user(); without masking
-- piper_dagster.warehouse.define_macros makes them the identity, which costs nothing).

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
