-- The spool dates whose pipeline-health aggregates (health_spool_daily) this batch changes: its
-- files' lines read, quarantined lines and events. Input: batch_files (the ingest's or replay's).
INSERT OR IGNORE INTO health_pending SELECT DISTINCT 'spool_date', spool_date FROM batch_files;
