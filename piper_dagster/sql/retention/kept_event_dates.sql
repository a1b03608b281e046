-- Event dates before the cutoff whose Parquet directories must stay: they still have rows in
-- silver_events, or a refresh or a (silver) export is pending on them. Every other dated
-- directory before the cutoff is what a prune forgot (after its commit, or a killed prune's).
-- Parameters: $cutoff (DATE).
SELECT DISTINCT event_date FROM silver_events WHERE event_date < $cutoff
UNION
SELECT event_date FROM refresh_pending
UNION
SELECT partition_date FROM export_pending WHERE target <> 'quarantine'
