-- Mark the event dates the batch added to, so their Parquet partitions get rewritten.
INSERT OR IGNORE INTO export_pending
SELECT DISTINCT 'silver_events', event_date FROM new_events;
