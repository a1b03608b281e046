-- silver_events rows for the Parquet copy (partitioned on write by event_date, event_type):
-- those with ingest_seq in ($seq_lo, $seq_hi] and event_date in [$date_first, $date_last].
-- Literals substituted by ingest/export.py (integers and dates, never input). Range predicates
-- only, so that the zonemaps of ingest_seq and event_date skip the row groups outside.
-- ingest_seq is bookkeeping, not in the copy. Users are masked here as in the silver domains:
-- piper_user() is the identity unless privacy.mask_users is on (then a keyed hash, service
-- accounts kept readable).
SELECT
    * EXCLUDE (ingest_seq)
    REPLACE (piper_user("user") AS "user", piper_source_file(source_file) AS source_file)
FROM silver_events
WHERE ingest_seq > $seq_lo AND ingest_seq <= $seq_hi
    AND event_date >= $date_first AND event_date <= $date_last
