-- The spool entries a plan skipped (a name that is not UTF-8, a symlink loop, permission denied,
-- no possible partition) or read but reported (a future mtime), into spool_anomalies: at most
-- one row per entry, kind and UTC day, so a file skipped by every run of a day is one row and
-- the pipeline-health dashboard counts files per day, not runs.
-- Inputs: the registered table plan_issues(source_file, kind, detail), printable paths.
-- Parameters: $run_id (the ingest run, NULL for a command that ran none).
INSERT INTO spool_anomalies (source_file, kind, detail, detected_at, ingest_run_id)
SELECT DISTINCT ON (i.source_file, i.kind) i.source_file, i.kind, i.detail, now(), $run_id
FROM plan_issues AS i
WHERE NOT EXISTS (
    SELECT 1
    FROM spool_anomalies AS a
    WHERE a.source_file = i.source_file
        AND a.kind = i.kind
        AND (a.detected_at AT TIME ZONE 'UTC')::DATE = (now() AT TIME ZONE 'UTC')::DATE
)
