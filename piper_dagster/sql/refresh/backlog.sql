-- The refresh ledger per event date: when it was first dirtied, its newest entry (seq), and
-- whether it is held back: it holds events from a spool partition whose latest invalid_rate
-- outcome (the blocking check) is FAIL. Held-back dates wait for an operator (fix, replay, or
-- an explicit `piper materialize`); the others are refreshed by the sensor and the CLI.
-- run_ids: the runs that dirtied it (the sensor waits while one of them is still running: its
-- checks, which may hold the date back, are evaluated after its data is committed).
WITH ledger AS (
    SELECT
        event_date,
        min(dirtied_at) AS first_dirtied_at,
        max(seq) AS max_seq,
        count(*) AS entries,
        list(DISTINCT why ORDER BY why) AS why,
        list(DISTINCT run_id ORDER BY run_id) FILTER (WHERE run_id IS NOT NULL) AS run_ids
    FROM refresh_pending
    GROUP BY event_date
),
blocked AS (
    SELECT partition_date AS spool_date
    FROM pipeline_check_results
    WHERE check_name = 'invalid_rate' AND partition_date IS NOT NULL
    GROUP BY partition_date
    HAVING arg_max(status, evaluated_at) = 'FAIL'
),
held AS (
    SELECT event_date, list(DISTINCT spool_date ORDER BY spool_date) AS blocked_spool_dates
    FROM silver_events
    WHERE spool_date IN (SELECT spool_date FROM blocked)
      AND event_date IN (SELECT event_date FROM ledger)
    GROUP BY event_date
)
SELECT
    l.event_date,
    l.first_dirtied_at,
    l.max_seq,
    l.entries,
    l.why,
    h.event_date IS NOT NULL AS held_back,
    coalesce(h.blocked_spool_dates, []::DATE[]) AS blocked_spool_dates,
    coalesce(l.run_ids, []::VARCHAR[]) AS run_ids
FROM ledger AS l
LEFT JOIN held AS h USING (event_date)
ORDER BY l.event_date;
