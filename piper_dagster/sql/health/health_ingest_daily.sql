-- Ingest volume per event date and source family, for the pipeline-health dashboard: events,
-- clock-skewed events, emitting hosts, the newest event (freshness) and when the day last grew.
-- As the freshness check, the newest event leaves clock-skewed events out: a host whose clock
-- runs ahead would make a stale family look fresh.
-- Inputs: silver_events, the temp table health_days(day) (the event dates to aggregate).
-- Parameter: $families (list of {event_type, family}, piper_dagster/contract/families.py: the
-- checks' families).
WITH families AS (
    SELECT f.event_type, f.family FROM (SELECT unnest($families) AS f)
)
SELECT
    e.event_date,
    fam.family AS source_family,
    count(*) AS events,
    count(*) FILTER (e.clock_skewed) AS skewed_events,
    count(DISTINCT e.host) AS hosts,
    max(e.ts) FILTER (NOT e.clock_skewed) AS newest_event_ts,
    max(e.ingested_at) AS last_ingested_at
FROM silver_events AS e
JOIN families AS fam USING (event_type)
WHERE e.event_date IN (SELECT day FROM health_days)
GROUP BY ALL
