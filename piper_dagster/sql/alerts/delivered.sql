-- A message left the outbox on one channel: delivered, or dropped (alerts/deliver.py).
-- Parameters: $message_id, $channel.
DELETE FROM alert_outbox WHERE message_id = $message_id AND channel = $channel
