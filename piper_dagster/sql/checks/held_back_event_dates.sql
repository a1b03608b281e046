-- Of the event dates a run reports, those with events from spool partitions whose blocking check
-- failed: their silver and gold wait for an operator (fix, replay, refresh), the run's other
-- dates do not.
-- Parameters: $event_dates (the run's), $spool_dates (the blocked spool partitions).
SELECT DISTINCT event_date
FROM silver_events
WHERE spool_date IN (SELECT unnest($spool_dates::DATE[]))
    AND event_date IN (SELECT unnest($event_dates::DATE[]))
ORDER BY event_date
