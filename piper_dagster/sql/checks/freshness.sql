-- Freshness: age of the newest event of each source family at $now.
-- Clock-skewed events are left out: their ts is what a wrong clock said (contract §6), and one
-- host with a clock in the future would make a stale family look fresh.
-- Parameters: $families (list of {event_type, family}), $now (TIMESTAMPTZ), $since (DATE or
-- NULL): only events of event dates since it (a non-skewed event's event_date is its ts's UTC
-- date: the newest event of a family heard of since then is among them; the caller asks again
-- without it for the families that were not).
WITH families AS (
    SELECT f.event_type, f.family FROM (SELECT unnest($families) AS f)
),
newest AS (
    SELECT fam.family, max(e.ts) AS newest_ts, max(e.ingested_at) AS last_ingested_at
    FROM silver_events AS e
    JOIN families AS fam USING (event_type)
    -- Events after $now are not counted: `piper doctor --as-of` evaluates as of a past time. (A
    -- ts a few minutes ahead of the clock, within the skew tolerance, waits until it is due.)
    WHERE NOT e.clock_skewed AND e.ts <= $now::TIMESTAMPTZ
        AND ($since::DATE IS NULL OR e.event_date >= $since::DATE)
    GROUP BY ALL
)
SELECT
    fam.family,
    n.newest_ts,
    n.last_ingested_at,
    -- NULL for a family never heard of (with a trustworthy clock): the check fails it.
    epoch($now::TIMESTAMPTZ - n.newest_ts) AS age_seconds
FROM (SELECT DISTINCT family FROM families) AS fam
LEFT JOIN newest AS n USING (family)
ORDER BY fam.family
