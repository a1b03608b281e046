-- The lines that passed leave quarantine (recorded by replayed.sql); those that still fail take
-- their current reason; the quarantine files of the touched spool dates are re-exported.
-- A quarantined line is (source_file, raw_md5, occurrence): its line number may change (a
-- rewrite relabels it), its identity does not.
DELETE FROM quarantine AS q
USING replay_rows AS r, classified AS c
WHERE r.idx = c.idx
  AND c.status IN ('event', 'blank', 'nul_padding')
  AND q.source_file = r.source_file AND q.raw_md5 = r.raw_md5 AND q.occurrence = r.occurrence;

UPDATE quarantine AS q
SET reason = c.status
FROM replay_rows AS r, classified AS c
WHERE r.idx = c.idx
  AND c.status NOT IN ('event', 'blank', 'nul_padding')
  AND c.status <> r.reason
  AND q.source_file = r.source_file AND q.raw_md5 = r.raw_md5 AND q.occurrence = r.occurrence;

-- The quarantine files of the touched spool dates are rewritten by the export.
INSERT OR IGNORE INTO export_pending
SELECT DISTINCT 'quarantine', r.spool_date
FROM replay_rows AS r JOIN classified AS c USING (idx)
WHERE c.status <> r.reason;
