-- Clock skew: share of each spool partition's events that are clock-skewed (contract §6), with
-- the number of hosts that sent them, the $top_n most affected (most skewed events first), each
-- with its share and its typical offset: the median of ts minus the mtime of the
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
),
ranked AS (
    -- Every skewed host is counted (hosts_total); the $top_n most affected are listed.
    SELECT *,
           row_number() OVER (PARTITION BY partition_date ORDER BY skewed DESC, host) AS rank,
           count(*) OVER (PARTITION BY partition_date) AS hosts_total
    FROM host_events
),
hosts AS (
    -- share: the host's skewed events / the partition's events, its part of the check's value
    -- (the shares of all hosts add up to it); host_skewed_share: of the host's own events.
    SELECT r.partition_date, any_value(r.hosts_total) AS hosts_total,
           list({'host': r.host, 'skewed': r.skewed, 'events': r.events,
                 'share': r.skewed / e.events,
                 'host_skewed_share': r.skewed / r.events,
                 'median_offset_hours': round(r.median_offset_seconds / 3600, 2)}
                ORDER BY r.rank) AS hosts
    FROM ranked AS r
    JOIN events AS e USING (partition_date)
    WHERE r.rank <= $top_n
    GROUP BY 1
)
SELECT
    p.partition_date,
    coalesce(e.events, 0) AS events,
    coalesce(e.skewed, 0) AS skewed,
    coalesce(h.hosts_total, 0) AS hosts_total,
    h.hosts
FROM partitions AS p
LEFT JOIN events AS e USING (partition_date)
LEFT JOIN hosts AS h USING (partition_date)
ORDER BY p.partition_date
