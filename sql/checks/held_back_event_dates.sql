-- The event dates a run added events to from spool partitions whose blocking check failed: their
-- silver and gold wait for an operator (fix, replay, refresh), the run's other dates do not.
-- Parameters: $run_id (the ingest run), $spool_dates (the blocked spool partitions).
SELECT DISTINCT event_date
FROM silver_events
WHERE ingest_run_id = $run_id AND spool_date IN (SELECT unnest($spool_dates::DATE[]))
ORDER BY event_date
