-- Record how far each file of the batch was consumed (committed with the batch's data).
-- Input: batch_files (ingest/batch.py _files_table): one row per file of the batch, its new
-- offset and the fingerprints of the bytes the reader consumed. No parameters.
-- Columns by name: consumed_hash was added to older warehouses by ALTER TABLE (at the end).
INSERT INTO spool_files (
    source_file, host, "user", spool_date, size_seen, mtime_ns, offset_bytes, lines_read,
    head_md5, tail_md5, generation, first_read_at, last_read_at, consumed_hash
)
SELECT
    source_file, host, "user", spool_date, size_seen, mtime_ns, offset_bytes, lines_read,
    head_md5, tail_md5, generation, now(), now(), consumed_hash
FROM batch_files
ON CONFLICT (source_file) DO UPDATE SET
    spool_date = excluded.spool_date,
    size_seen = excluded.size_seen,
    mtime_ns = excluded.mtime_ns,
    offset_bytes = excluded.offset_bytes,
    lines_read = excluded.lines_read,
    head_md5 = excluded.head_md5,
    tail_md5 = excluded.tail_md5,
    consumed_hash = excluded.consumed_hash,
    generation = excluded.generation,
    last_read_at = excluded.last_read_at;
