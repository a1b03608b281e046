-- Mark the spool dates whose quarantine file must be rewritten.
INSERT OR IGNORE INTO export_pending
SELECT DISTINCT 'quarantine', f.spool_date
FROM batch_quarantine AS q JOIN batch_files AS f USING (file_idx);
