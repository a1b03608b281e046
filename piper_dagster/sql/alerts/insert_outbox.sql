-- Queue messages, one row per message and channel (alerts/deliver.py `enqueue`).
-- Inputs: outbox_rows (message_id, channel, kind, subject, status, message as JSON text,
-- created_at).
INSERT INTO alert_outbox BY NAME
SELECT
    message_id, channel, kind, subject, status, message::JSON AS message, created_at,
    0 AS attempts, NULL::TIMESTAMPTZ AS last_attempt_at, NULL::VARCHAR AS last_error,
    NULL::TIMESTAMPTZ AS claimed_until
FROM outbox_rows
