-- Derived files waiting for an export (the spool sensor asks for a run when any): the pending
-- partitions, and silver_events rows past the Parquet copy's watermark (partition_date NULL).
SELECT target, partition_date FROM export_pending
UNION ALL
SELECT 'silver_events', NULL
FROM silver_events_seq AS s
WHERE s.last_seq > coalesce(
    (SELECT exported_seq FROM export_state WHERE target = 'silver_events'), 0
)
ORDER BY 1, 2
