-- Hosts that sent clock-skewed events (contract §6), per event date: a host with a wrong clock
-- shows up here day after day. Only hosts with at least one skewed event.
-- Inputs: silver_events, the temp table health_days(day) (the event dates to aggregate).
SELECT
    event_date,
    host,
    count(*) FILTER (clock_skewed) AS skewed_events,
    count(*) AS events,
    count(*) FILTER (clock_skewed) / count(*) AS skewed_share
FROM silver_events
WHERE event_date IN (SELECT day FROM health_days)
GROUP BY ALL
HAVING count(*) FILTER (clock_skewed) > 0
