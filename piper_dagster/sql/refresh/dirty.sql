-- Record, in the batch's own transaction, the event dates the batch added events to: their
-- silver and gold must be rebuilt (the refresh ledger, refresh_pending).
-- Inputs: new_events (the batch's new events); parameters $why ('ingest' | 'replay'), $run_id.
INSERT INTO refresh_pending
SELECT event_date, nextval('refresh_seq'), now(), $why, $run_id, NULL
FROM (SELECT DISTINCT event_date FROM new_events);
