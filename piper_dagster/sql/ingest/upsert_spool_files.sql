-- Record how far each file of the batch was consumed (committed with the batch's data).
INSERT INTO spool_files
SELECT
    source_file, host, "user", spool_date, size_seen, mtime_ns, offset_bytes, lines_read,
    head_md5, tail_md5, generation, now(), now()
FROM batch_files
ON CONFLICT (source_file) DO UPDATE SET
    spool_date = excluded.spool_date,
    size_seen = excluded.size_seen,
    mtime_ns = excluded.mtime_ns,
    offset_bytes = excluded.offset_bytes,
    lines_read = excluded.lines_read,
    head_md5 = excluded.head_md5,
    tail_md5 = excluded.tail_md5,
    generation = excluded.generation,
    last_read_at = excluded.last_read_at;
