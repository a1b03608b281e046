-- Data quality per UTC day (contract §7), for event_date in [$start, $end), over every valid event.
-- dq_error_rate: failures among the types whose status is success-or-failure (publish, tool,
-- render); NULL on a day without such events. dq_active_users counts distinct users, service
-- accounts (svc_*) excluded: a count, never a name.
WITH events AS (
    SELECT
        event_date,
        "user",
        clock_skewed,
        event_type IN (
            'publish.asset.usd', 'publish.anim.usd', 'publish.camera.usd',
            'publish.customanim.usd', 'publish.previs_asset.usd',
            'dcc.launch', 'file.open', 'file.create', 'shot.setup', 'playblast.create',
            'build.houdini.component', 'texture.export.substance', 'texture.convert.tex',
            'render.stats.summary'
        ) AS has_outcome,
        payload ->> '$.status' AS status
    FROM silver_events
    WHERE event_date >= $start AND event_date < $end
)
SELECT
    event_date,
    count(*) AS dq_events,
    count_if(has_outcome AND status = 'failure') / nullif(count_if(has_outcome), 0)::DOUBLE
        AS dq_error_rate,
    count(DISTINCT "user") FILTER (WHERE NOT starts_with("user", 'svc_')) AS dq_active_users,
    count_if(clock_skewed)::BIGINT AS dq_skewed_events
FROM events
GROUP BY event_date
