-- The event dates whose pipeline-health aggregates (health_ingest_daily,
-- health_skewed_hosts_daily) the batch's new events change. Input: new_events.
INSERT OR IGNORE INTO health_pending SELECT DISTINCT 'event_date', event_date FROM new_events;
