-- Clock skew: share of each spool partition's events that are clock-skewed (contract §6), with
-- the hosts that sent them and their typical offset: the median of ts minus the mtime of the
-- event's file (its last write). For a clock behind, that is the clock's error plus up to a
-- session's length; for a clock ahead, up to the clock's error.
-- Parameters: $first, $last (DATE), $top_n.
WITH partitions AS (
    SELECT d::DATE AS partition_date
    FROM generate_series($first::DATE::TIMESTAMPTZ, $last::DATE::TIMESTAMPTZ, INTERVAL 1 DAY) AS t(d)
),
events AS (
    SELECT spool_date AS partition_date, count(*) AS events,
           count(*) FILTER (WHERE clock_skewed) AS skewed
    FROM silver_events
    WHERE spool_date BETWEEN $first AND $last
    GROUP BY 1
),
host_events AS (
    SELECT e.spool_date AS partition_date, e.host, count(*) AS events,
           count(*) FILTER (WHERE e.clock_skewed) AS skewed,
           median(epoch(e.ts) - f.mtime_ns / 1e9) FILTER (WHERE e.clock_skewed)
               AS median_offset_seconds
    FROM silver_events AS e
    LEFT JOIN spool_files AS f USING (source_file)
    WHERE e.spool_date BETWEEN $first AND $last
      AND e.host IN (
          SELECT DISTINCT host FROM silver_events
          WHERE clock_skewed AND spool_date BETWEEN $first AND $last
      )
    GROUP BY e.spool_date, e.host
    HAVING count(*) FILTER (WHERE e.clock_skewed) > 0
    QUALIFY row_number() OVER (PARTITION BY e.spool_date ORDER BY skewed DESC, e.host) <= $top_n
),
hosts AS (
    SELECT partition_date,
           list({'host': host, 'skewed': skewed, 'events': events,
                 'median_offset_hours': round(median_offset_seconds / 3600, 2)}
                ORDER BY skewed DESC, host) AS hosts
    FROM host_events
    GROUP BY 1
)
SELECT
    p.partition_date,
    coalesce(e.events, 0) AS events,
    coalesce(e.skewed, 0) AS skewed,
    h.hosts
FROM partitions AS p
LEFT JOIN events AS e USING (partition_date)
LEFT JOIN hosts AS h USING (partition_date)
ORDER BY p.partition_date
