-- Write the batch's new events (new_events) with their lineage. Parameter $run_id.
-- ingest_seq: this commit's (set by ingest/next_seq.sql just before, given out by
-- ingest/pending_events.sql right after).
INSERT INTO silver_events
SELECT
    c.event_id,
    c.event_type,
    c.schema_version,
    c.ts,
    n.event_date,
    c.host,
    c."user",
    c."show",
    c.session_id,
    c.payload,
    c.envelope_extra,
    n.clock_skewed,
    f.spool_date,
    f.source_file,
    c.line_no AS source_line,
    now() AS ingested_at,
    $run_id AS ingest_run_id,
    getvariable('ingest_seq') AS ingest_seq
FROM new_events AS n
JOIN classified AS c USING (idx)
JOIN batch_files AS f USING (file_idx);
