-- silver_events of the pending event dates, for the Parquet copy (partitioned on write).
SELECT * FROM silver_events
WHERE event_date IN (SELECT partition_date FROM pending_dates)
