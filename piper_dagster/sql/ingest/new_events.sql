-- Which of the batch's valid events are new to the warehouse (narrow: idx, event_date, skew,
-- id_hash): the first copy in the batch (file order, then line), and not already in
-- silver_events (contract §3: a re-sent event counts once).
-- Inputs: classified (the validated batch), batch_files, event_ids (the dedupe index of
-- silver_events); parameter $skew_seconds.
CREATE OR REPLACE TEMP TABLE new_events AS
WITH candidates AS (
    SELECT
        c.idx,
        c.event_id,
        md5_number(c.event_id) AS id_hash,
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
-- Probe the warehouse's dedupe index with the batch's hashes: the hash table is built on the
-- batch (memory bounded by the batch), the scan reads 16-byte numbers, not every event_id
-- string ever ingested (design.md, "Dedupe": md5's 128 bits, collision odds ~1e-23 at 50 M).
known AS (
    SELECT id_hash FROM event_ids
    WHERE id_hash IN (SELECT id_hash FROM candidates)
)
SELECT
    idx,
    -- A skewed event belongs to its file's spool date (§6); otherwise the UTC date of ts.
    CASE WHEN clock_skewed THEN spool_date ELSE CAST(ts AS DATE) END AS event_date,
    clock_skewed,
    id_hash
FROM candidates
WHERE idx IN (SELECT idx FROM first_copies)
  AND id_hash NOT IN (SELECT id_hash FROM known);
