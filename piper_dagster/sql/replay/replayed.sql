-- After the replay's events were inserted (new_events), record the lines that passed (moved out
-- of quarantine by settle.sql) with their event_id and whether it was new. Parameter $run_id.
INSERT INTO quarantine_replayed
SELECT
    r.reason, r.source_file, r.source_line, r.spool_date, r.raw_md5, c.event_id,
    CASE WHEN c.idx IN (SELECT idx FROM new_events) THEN 'event' ELSE 'duplicate' END,
    r.quarantined_at, now(), $run_id
FROM replay_rows AS r
JOIN classified AS c USING (idx)
WHERE c.status = 'event';
