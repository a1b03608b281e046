-- Expire quarantined lines (retention.quarantine_expire_days): those quarantined before the
-- bound, except the lines of a spool date whose latest invalid_rate outcome is FAIL (they hold
-- its gold back: an operator must fix and replay them), that waits for a health aggregation
-- (health_pending, spool dates) or whose quarantine file waits for its export (export_pending).
-- The caller marks the touched spool dates' files for rewriting in the same transaction.
-- Parameters: $before (TIMESTAMPTZ).
DELETE FROM quarantine
WHERE quarantined_at < $before
    AND spool_date NOT IN (
        SELECT partition_date
        FROM pipeline_check_results
        WHERE check_name = 'invalid_rate' AND partition_date IS NOT NULL
        GROUP BY partition_date
        HAVING arg_max(status, evaluated_at) = 'FAIL'
    )
    AND spool_date NOT IN (SELECT day FROM health_pending WHERE kind = 'spool_date')
    AND spool_date NOT IN (SELECT partition_date FROM export_pending WHERE target = 'quarantine')
RETURNING spool_date
