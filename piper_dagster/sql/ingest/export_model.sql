-- A silver domain model's rows of the pending event dates, for its Parquet copy (partitioned
-- on write). Inputs: the model's table, named by the caller in place of $model (an identifier,
-- from the model list, never user input), and the temp table pending_dates(partition_date).
SELECT * FROM $model
WHERE event_date IN (SELECT partition_date FROM pending_dates)
