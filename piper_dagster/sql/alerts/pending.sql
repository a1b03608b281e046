-- Messages (one row per message and channel) waiting in the outbox: is a delivery round due?
SELECT count(*) FROM alert_outbox
