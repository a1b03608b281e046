-- The alert state of some check subjects (alerts/state.py).
-- Parameters: $subjects (VARCHAR[]): alert_state.subject values.
SELECT subject, status, notified_status, notified_at, changed_at
FROM alert_state
WHERE list_contains($subjects, subject)
