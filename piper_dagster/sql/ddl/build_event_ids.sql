-- Warehouses made before the dedupe index: event_ids built once, exactly, from silver_events
-- (one hash per row, as insert_event_ids.sql writes them). Run by warehouse.upgrade, in one
-- transaction, only when event_ids is empty and silver_events is not. No parameters.
INSERT INTO event_ids
SELECT md5_number(event_id) FROM silver_events;
