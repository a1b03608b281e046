-- The dedupe index follows silver_events: the hashes of the batch's new events (new_events),
-- inserted in the transaction that inserts the events (insert_events.sql), so the two never
-- disagree. Input: new_events. No parameters.
INSERT INTO event_ids
SELECT id_hash FROM new_events;
