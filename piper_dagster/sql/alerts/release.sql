-- A claimed message was not tried this round (its channel failed on an earlier message): free.
-- Parameters: $message_id, $channel.
UPDATE alert_outbox SET claimed_until = NULL WHERE message_id = $message_id AND channel = $channel
