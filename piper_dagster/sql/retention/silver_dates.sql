-- Event dates whose silver history `piper prune` may delete (retention.silver_days): older than
-- the cutoff, and nothing pending on them: every row inside the Parquet export's watermark
-- (export_state), no compaction or repair waiting (export_pending: silver targets; quarantine's
-- dates are spool dates), no refresh
-- (refresh_pending, held back or not), no health aggregation (health_pending, event dates).
-- Parameters: $cutoff (DATE): only dates strictly before it.
WITH watermark AS (
    SELECT coalesce(max(exported_seq), 0) AS seq FROM export_state WHERE target = 'silver_events'
)
SELECT event_date
FROM silver_events
WHERE event_date < $cutoff
GROUP BY event_date
HAVING max(ingest_seq) <= (SELECT seq FROM watermark)
    AND event_date NOT IN (SELECT event_date FROM refresh_pending)
    AND event_date NOT IN (SELECT day FROM health_pending WHERE kind = 'event_date')
    AND event_date NOT IN (
        SELECT partition_date FROM export_pending WHERE target <> 'quarantine'
    )
ORDER BY event_date
