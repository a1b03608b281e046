-- Invalid rate: quarantined lines / complete lines read, per spool partition, with the
-- breakdown by reason and the files with the most rejected lines.
-- Parameters: $first, $last (DATE), $top_n.
WITH partitions AS (
    SELECT d::DATE AS partition_date
    FROM generate_series($first::DATE::TIMESTAMPTZ, $last::DATE::TIMESTAMPTZ, INTERVAL 1 DAY) AS t(d)
),
lines AS (
    SELECT spool_date AS partition_date, sum(lines_read) AS lines, count(*) AS files
    FROM spool_files
    WHERE spool_date BETWEEN $first AND $last
    GROUP BY 1
),
reasons AS (
    SELECT spool_date AS partition_date, reason, count(*) AS n
    FROM quarantine
    WHERE spool_date BETWEEN $first AND $last
    GROUP BY ALL
),
by_reason AS (
    SELECT partition_date, sum(n) AS invalid,
           map_from_entries(list({'key': reason, 'value': n} ORDER BY n DESC, reason)) AS reasons
    FROM reasons
    GROUP BY 1
),
files AS (
    SELECT q.spool_date AS partition_date, q.source_file, count(*) AS invalid,
           any_value(f.lines_read) AS lines,
           row_number() OVER (PARTITION BY q.spool_date ORDER BY count(*) DESC, q.source_file)
               AS rank
    FROM quarantine AS q
    LEFT JOIN spool_files AS f USING (source_file)
    WHERE q.spool_date BETWEEN $first AND $last
    GROUP BY q.spool_date, q.source_file
    QUALIFY rank <= $top_n
),
top_files AS (
    SELECT partition_date,
           list({'source_file': source_file, 'invalid': invalid, 'lines': lines} ORDER BY rank)
               AS top_files
    FROM files
    GROUP BY 1
)
SELECT
    p.partition_date,
    coalesce(l.lines, 0) AS lines,
    coalesce(l.files, 0) AS files,
    coalesce(b.invalid, 0) AS invalid,
    b.reasons,
    t.top_files
FROM partitions AS p
LEFT JOIN lines AS l USING (partition_date)
LEFT JOIN by_reason AS b USING (partition_date)
LEFT JOIN top_files AS t USING (partition_date)
ORDER BY p.partition_date
