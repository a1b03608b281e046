-- The batch's rejected lines, narrow (filled slice by slice by batch.py): their status (the
-- reason), file, line number, bytes with their terminator, terminator length.
-- Inputs: classified (for the column types). Parameter: $kept (the statuses not rejected).
CREATE OR REPLACE TEMP TABLE batch_rejected AS
SELECT idx, status, file_idx, line_no, raw, term
FROM classified
WHERE NOT list_contains($kept, status);
