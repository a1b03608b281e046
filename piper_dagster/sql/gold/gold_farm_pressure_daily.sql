-- Farm pressure per UTC day (contract §7), for event_date in [$start, $end). A day has a row when
-- it has a farm snapshot or a job spool; its peaks are NULL on a day without snapshots, and
-- farm_jobs_spooled is 0 on a day with snapshots but no (or only rejected) spools.
WITH snapshots AS (
    SELECT
        event_date,
        max(active_blades) AS farm_peak_active_blades,
        max(errored_jobs) AS farm_peak_errored_jobs
    FROM silver_tractor_farm_snapshot
    WHERE event_date >= $start AND event_date < $end
    GROUP BY event_date
),
spools AS (
    SELECT
        event_date,
        count_if(status = 'spooled') AS farm_jobs_spooled
    FROM silver_tractor_job_spool
    WHERE event_date >= $start AND event_date < $end
    GROUP BY event_date
)
SELECT
    coalesce(s.event_date, j.event_date) AS event_date,
    s.farm_peak_active_blades,
    s.farm_peak_errored_jobs,
    coalesce(j.farm_jobs_spooled, 0)::BIGINT AS farm_jobs_spooled
FROM snapshots AS s
FULL OUTER JOIN spools AS j ON s.event_date = j.event_date
