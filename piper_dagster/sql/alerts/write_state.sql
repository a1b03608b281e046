-- Replace the alert state of the subjects in the registered relation state_rows (alerts/state.py),
-- in the transaction that records the check outcomes.
-- Inputs: state_rows (the alert_state columns, one row per subject).
DELETE FROM alert_state WHERE subject IN (SELECT subject FROM state_rows);
INSERT INTO alert_state BY NAME SELECT * FROM state_rows;
