-- silver_events of the pending event dates, for the Parquet copy (partitioned on write).
-- Users are masked here as in the silver domains: piper_user() is the identity unless
-- privacy.mask_users is on (then a keyed hash, service accounts kept readable).
SELECT
    * REPLACE (piper_user("user") AS "user", piper_source_file(source_file) AS source_file)
FROM silver_events
WHERE event_date IN (SELECT partition_date FROM pending_dates)
