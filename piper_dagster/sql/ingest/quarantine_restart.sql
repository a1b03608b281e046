-- Files read from their first line in this batch (first read, rewritten, re-read) start a new
-- read: their quarantined lines belong to an earlier read, and the occurrences of this read are
-- counted anew (batch_quarantine.sql).
-- Inputs: batch_files, quarantine. Parameter: $restarted (file_idx of those files).
UPDATE quarantine SET in_last_read = false
WHERE in_last_read
  AND source_file IN (SELECT source_file FROM batch_files WHERE list_contains($restarted, file_idx));
