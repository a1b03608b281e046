-- Take the undelivered messages no other deliverer holds (alerts/deliver.py), oldest first.
-- Parameters: $now (TIMESTAMPTZ), $until (TIMESTAMPTZ): the claim's end (a crashed deliverer's
-- messages are free again then).
UPDATE alert_outbox SET claimed_until = $until
WHERE claimed_until IS NULL OR claimed_until < $now
RETURNING message_id, channel, kind, subject, status, message::VARCHAR AS message, created_at,
    attempts, last_error
