-- Ingest volume per event date and source family, for the pipeline-health dashboard: events,
-- clock-skewed events, emitting hosts, the newest event (freshness) and when the day last grew.
-- $first: the first event date published (the newest minus serving.health_days).
SELECT
    event_date,
    piper_source_family("user") AS source_family,
    count(*) AS events,
    count(*) FILTER (clock_skewed) AS skewed_events,
    count(DISTINCT host) AS hosts,
    max(ts) AS newest_event_ts,
    max(ingested_at) AS last_ingested_at
FROM silver_events
WHERE event_date >= $first
GROUP BY ALL
ORDER BY event_date, source_family
