-- A silver domain model's rows of event dates [$date_first, $date_last], for its Parquet copy
-- (partitioned on write). Inputs: the model's table, named by the caller in place of $model (an
-- identifier, from the model list, never user input); the dates are literals substituted by
-- ingest/export.py. A range predicate, so that the zonemaps of event_date skip row groups.
SELECT * FROM $model
WHERE event_date >= $date_first AND event_date <= $date_last
