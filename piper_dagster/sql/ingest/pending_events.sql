-- The batch's new events wait for the Parquet export: give out the ingest_seq that
-- ingest/insert_events.sql just wrote (the export copies the rows past its watermark).
-- Inputs: new_events. In the batch's (or replay day's) transaction, after insert_events.
UPDATE silver_events_seq SET last_seq = last_seq + 1 WHERE EXISTS (SELECT 1 FROM new_events);
