-- The ingest_seq of the commit in progress, for ingest/insert_events.sql (a session variable:
-- a constant to the insert's plan, where a subquery made DuckDB materialize the whole join and
-- run out of memory on a batch of 10,000 files). Given out by ingest/pending_events.sql.
SET VARIABLE ingest_seq = (SELECT last_seq + 1 FROM silver_events_seq);
