-- Delete the records of quarantined lines a replay ingested (quarantine_replayed), replayed
-- before the bound (retention.quarantine_replayed_days). Their lines left the quarantine when
-- they were replayed.
-- Parameters: $before (TIMESTAMPTZ).
DELETE FROM quarantine_replayed
WHERE replayed_at < $before
RETURNING 1
