-- A delivery round failed for one message and channel: it stays, for the next round.
-- Parameters: $message_id, $channel, $tries (attempts this round), $at, $error.
UPDATE alert_outbox SET
    attempts = attempts + $tries, last_attempt_at = $at, last_error = $error, claimed_until = NULL
WHERE message_id = $message_id AND channel = $channel
