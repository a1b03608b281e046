-- Which of the batch's valid events are new to the warehouse (narrow: idx, event_date, skew):
-- the first copy in the batch (file order, then line), and not already in silver_events
-- (contract §3: a re-sent event counts once).
-- Inputs: classified (the validated batch), batch_files; parameter $skew_seconds.
CREATE OR REPLACE TEMP TABLE new_events AS
WITH candidates AS (
    SELECT
        c.idx,
        c.event_id,
        c.ts,
        f.spool_date,
        -- Contract §6: after the file's last write (+ tolerance), or over 24 h before its day.
        (c.ts > f.mtime + to_seconds($skew_seconds)
            OR c.ts < f.spool_date::TIMESTAMPTZ - INTERVAL 24 HOUR) AS clock_skewed
    FROM classified AS c
    JOIN batch_files AS f USING (file_idx)
    WHERE c.status = 'event'
),
first_copies AS (
    SELECT min(idx) AS idx FROM candidates GROUP BY event_id
),
-- Probe the warehouse with the batch's ids (the hash table is built on the batch, not on
-- silver_events, so the cost does not grow with the warehouse's memory).
known AS (
    SELECT event_id FROM silver_events
    WHERE event_id IN (SELECT event_id FROM candidates)
)
SELECT
    idx,
    -- A skewed event belongs to its file's spool date (§6); otherwise the UTC date of ts.
    CASE WHEN clock_skewed THEN spool_date ELSE CAST(ts AS DATE) END AS event_date,
    clock_skewed
FROM candidates
WHERE idx IN (SELECT idx FROM first_copies)
  AND event_id NOT IN (SELECT event_id FROM known);
