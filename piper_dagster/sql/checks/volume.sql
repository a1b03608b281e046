-- Volume: each spool partition's events per source family, and its baseline, the median of the
-- same weekday over the previous $weeks weeks (a quiet Sunday is compared with Sundays).
-- Baseline days before the first spool date the warehouse ever read are not data, so they are
-- left out; a day since then without events counts as 0.
-- The current day (not over at $now) is compared like with like: only events of the first
-- hours of each day, as many hours as have passed today.
-- Parameters: $first, $last (DATE), $weeks, $families, $now (TIMESTAMPTZ).
WITH families AS (
    SELECT f.event_type, f.family FROM (SELECT unnest($families) AS f)
),
partitions AS (
    SELECT
        d::DATE AS partition_date,
        CASE WHEN $now::TIMESTAMPTZ < d + INTERVAL 1 DAY THEN $now::TIMESTAMPTZ - d END AS elapsed
    FROM generate_series($first::DATE::TIMESTAMPTZ, $last::DATE::TIMESTAMPTZ, INTERVAL 1 DAY) AS t(d)
),
history AS (
    SELECT min(spool_date) AS first_day FROM spool_files
),
pairs AS (
    -- k = 0: the partition itself; k >= 1: the same weekday k weeks before.
    SELECT p.partition_date, p.elapsed, r.k, (p.partition_date - 7 * r.k)::DATE AS day
    FROM partitions AS p, (SELECT range::INTEGER AS k FROM range(0, $weeks + 1)) AS r, history AS h
    WHERE r.k = 0 OR (p.partition_date - 7 * r.k)::DATE >= h.first_day
),
counts AS (
    SELECT pr.partition_date, pr.k, fam.family, count(*) AS events
    FROM pairs AS pr
    JOIN silver_events AS e ON e.spool_date = pr.day
    JOIN families AS fam ON fam.event_type = e.event_type
    WHERE e.spool_date BETWEEN ($first::DATE - 7 * $weeks)::DATE AND $last::DATE  -- zone maps
      AND (pr.elapsed IS NULL OR e.ts < e.spool_date::TIMESTAMPTZ + pr.elapsed)
    GROUP BY ALL
),
grid AS (
    SELECT pr.partition_date, pr.k, pr.day, fam.family, coalesce(c.events, 0) AS events
    FROM pairs AS pr
    CROSS JOIN (SELECT DISTINCT family FROM families) AS fam
    LEFT JOIN counts AS c USING (partition_date, k, family)
)
SELECT
    partition_date,
    family,
    sum(events) FILTER (WHERE k = 0) AS events,
    median(events) FILTER (WHERE k > 0) AS baseline,
    list(strftime(day, '%Y-%m-%d') || ': ' || events ORDER BY k) FILTER (WHERE k > 0)
        AS baseline_days,
    any_value(elapsed) IS NOT NULL AS partial_day
FROM grid
JOIN partitions USING (partition_date)
GROUP BY partition_date, family
ORDER BY partition_date, family
