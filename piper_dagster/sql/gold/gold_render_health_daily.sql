-- Render health per UTC day (contract §7), for event_date in [$start, $end): one
-- render.stats.summary event per finished render job. A day without a render has no row.
SELECT
    event_date,
    count(*) AS render_job_count,
    count_if(status = 'success') / nullif(count(*), 0)::DOUBLE AS render_success_rate,
    sum(cpu_seconds) / 3600.0 AS render_cpu_hours,
    sum(frames_failed)::BIGINT AS render_failed_frames
FROM silver_render_stats_summary
WHERE event_date >= $start AND event_date < $end
GROUP BY event_date
