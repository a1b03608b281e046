-- Delete the rows of the given event dates from one silver table (silver_events or a silver
-- domain), in the prune's transaction; one row returned per row deleted (the count).
-- Inputs: $table, replaced by the caller with a table name of piper's own (models.py).
-- Parameters: $dates (DATE[]): the dates of retention/silver_dates.sql.
DELETE FROM $table
WHERE event_date IN (SELECT unnest($dates::DATE[]))
RETURNING 1
