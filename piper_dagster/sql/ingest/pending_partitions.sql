-- Mark partitions of a derived file set as to be rewritten (committed with the data that
-- dirtied them; cleared by the export). Parameters: $target (export_pending.target: a silver
-- model's name), $dates (DATE[]: its partitions).
INSERT OR IGNORE INTO export_pending
SELECT $target, unnest($dates::DATE[]);
