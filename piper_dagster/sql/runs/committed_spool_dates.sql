-- The spool dates (within $first..$last) whose files a run last read: a batch's offsets and its
-- ingest_batches row commit in one transaction, so their now() is the same timestamp.
-- Used when a dead run is reaped: those partitions' data is in the warehouse.
SELECT DISTINCT f.spool_date
FROM spool_files AS f
WHERE f.spool_date BETWEEN CAST($first AS DATE) AND CAST($last AS DATE)
  AND f.last_read_at IN (
      SELECT b.committed_at FROM ingest_batches AS b WHERE b.ingest_run_id = $run_id
  )
ORDER BY 1
