-- What an export of silver_events rows would write, per event date: its partitions (event
-- types) and rows, for ingest_seq in ($seq_lo, $seq_hi] and event_date in [$date_first,
-- $date_last] (the same literals as export_events.sql), to cut the COPYs by open files.
SELECT event_date, count(DISTINCT event_type) AS partitions, count(*) AS n
FROM silver_events
WHERE ingest_seq > $seq_lo AND ingest_seq <= $seq_hi
    AND event_date >= $date_first AND event_date <= $date_last
GROUP BY event_date
ORDER BY event_date
