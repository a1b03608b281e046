-- Per spool date (a spool partition): lines read, quarantined lines, events and clock-skewed
-- events: the measures of the invalid-rate and clock-skew checks (sql/checks/), which the
-- pipeline-health dashboard colors with the checks' thresholds.
-- Inputs: spool_files, quarantine, silver_events, the temp table health_days(day) (the spool
-- dates to aggregate).
WITH lines AS (
    SELECT spool_date, count(*) AS files, sum(lines_read) AS lines_read
    FROM spool_files
    WHERE spool_date IN (SELECT day FROM health_days)
    GROUP BY 1
),
invalid AS (
    SELECT spool_date, count(*) AS invalid_lines
    FROM quarantine
    WHERE spool_date IN (SELECT day FROM health_days)
    GROUP BY 1
),
events AS (
    SELECT spool_date, count(*) AS events, count(*) FILTER (WHERE clock_skewed) AS skewed_events
    FROM silver_events
    WHERE spool_date IN (SELECT day FROM health_days)
    GROUP BY 1
)
SELECT
    spool_date,
    coalesce(l.files, 0)::BIGINT AS files,
    coalesce(l.lines_read, 0)::BIGINT AS lines_read,
    coalesce(i.invalid_lines, 0)::BIGINT AS invalid_lines,
    coalesce(e.events, 0)::BIGINT AS events,
    coalesce(e.skewed_events, 0)::BIGINT AS skewed_events
FROM lines AS l
FULL JOIN invalid AS i USING (spool_date)
FULL JOIN events AS e USING (spool_date)
