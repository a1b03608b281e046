-- Freshness: age of the newest event of each source family at $now.
-- Clock-skewed events are left out: their ts is what a wrong clock said (contract §6), and one
-- host with a clock in the future would make a stale family look fresh.
-- Parameters: $families (list of {event_type, family}), $now (TIMESTAMPTZ).
WITH families AS (
    SELECT f.event_type, f.family FROM (SELECT unnest($families) AS f)
),
newest AS (
    SELECT fam.family, max(e.ts) AS newest_ts, max(e.ingested_at) AS last_ingested_at
    FROM silver_events AS e
    JOIN families AS fam USING (event_type)
    WHERE NOT e.clock_skewed
    GROUP BY ALL
)
SELECT
    fam.family,
    n.newest_ts,
    n.last_ingested_at,
    -- A ts up to the skew tolerance ahead of now is not skewed; it is simply fresh.
    epoch($now::TIMESTAMPTZ - least(n.newest_ts, $now::TIMESTAMPTZ)) AS age_seconds
FROM (SELECT DISTINCT family FROM families) AS fam
LEFT JOIN newest AS n USING (family)
ORDER BY fam.family
