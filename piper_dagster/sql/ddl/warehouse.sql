-- The warehouse schema owned by the ingest core. Idempotent: applied on every connection.

-- One row per distinct event_id (contract §3: a re-sent event counts once).
CREATE TABLE IF NOT EXISTS silver_events (
    event_id        VARCHAR NOT NULL,
    event_type      VARCHAR NOT NULL,
    schema_version  VARCHAR NOT NULL,
    ts              TIMESTAMPTZ NOT NULL,
    event_date      DATE NOT NULL,      -- UTC date of ts, or the spool date when clock-skewed (§6)
    host            VARCHAR NOT NULL,
    "user"          VARCHAR NOT NULL,
    "show"          VARCHAR NOT NULL,
    session_id      VARCHAR,
    payload         JSON NOT NULL,      -- the payload object, unknown fields kept
    envelope_extra  JSON,               -- unknown envelope fields (minor versions), if any
    clock_skewed    BOOLEAN NOT NULL,
    spool_date      DATE NOT NULL,      -- spool date of the file the event was first read from
    source_file     VARCHAR NOT NULL,   -- path relative to raw_root
    source_line     BIGINT NOT NULL,    -- 1-based line number in source_file
    ingested_at     TIMESTAMPTZ NOT NULL,
    ingest_run_id   VARCHAR,
    -- The commit that inserted the row (silver_events_seq.last_seq then): the Parquet copy is
    -- written incrementally by ranges of it (ingest/export.py). Never in the Parquet copy.
    ingest_seq      BIGINT DEFAULT 0
);
-- Warehouses made before ingest_seq: their rows get 0, before every new commit's (they were
-- exported whole-day by the older piper, so the watermark 0 already covers them).
ALTER TABLE silver_events ADD COLUMN IF NOT EXISTS ingest_seq BIGINT DEFAULT 0;

-- The last ingest_seq given out: bumped in the transaction of each batch (or replay day) that
-- inserts events, so it is exact (a rolled-back batch gives nothing out; a DuckDB SEQUENCE may
-- skip values and reports its next value, not its last, after a reopen).
CREATE TABLE IF NOT EXISTS silver_events_seq (last_seq BIGINT NOT NULL);
INSERT INTO silver_events_seq SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM silver_events_seq);

-- Incremental Parquet copies: rows with ingest_seq <= exported_seq are in the copy; a range
-- (exported_seq, exporting_seq] is recorded (its own commit) before its files are written, so
-- a rerun after a crash rewrites exactly that range under the same file names.
CREATE TABLE IF NOT EXISTS export_state (
    target          VARCHAR PRIMARY KEY,    -- 'silver_events'
    exported_seq    BIGINT NOT NULL,
    exporting_seq   BIGINT                  -- the range in progress, NULL when none
);

-- The dedupe index: md5_number(event_id) of every row of silver_events, written in the same
-- transaction (ingest/insert_event_ids.sql). The cross-batch probe (ingest/new_events.sql) joins
-- the batch's hashes against these 16-byte numbers instead of every event_id string ever
-- ingested (design.md, "Dedupe"). Warehouses made before it: built once by warehouse.upgrade.
CREATE TABLE IF NOT EXISTS event_ids (
    id_hash         UHUGEINT NOT NULL   -- md5_number(event_id): 128 bits, stable across versions
);

-- Every rejected line with its reason (contract §5); nothing invalid is dropped silently.
CREATE TABLE IF NOT EXISTS quarantine (
    reason          VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,
    source_line     BIGINT NOT NULL,
    spool_date      DATE NOT NULL,
    raw_line        VARCHAR NOT NULL,   -- first 4 KiB, valid UTF-8, undecodable bytes escaped \xNN
    raw_bytes       BLOB,               -- the whole line for replay (NULL for line_too_long)
    raw_length      BIGINT NOT NULL,    -- bytes, after NUL removal
    raw_md5         VARCHAR NOT NULL,   -- identity with (source_file, occurrence): no line twice
    quarantined_at  TIMESTAMPTZ NOT NULL,
    ingest_run_id   VARCHAR,
    -- The k-th line with these bytes in its file: a line shifted by a rewrite is the same line,
    -- two identical bad lines are two (design.md, "Quarantine: each line once").
    occurrence      BIGINT,
    -- Met by the file's latest read from line 1: counted by the occurrences of the lines after it.
    in_last_read    BOOLEAN DEFAULT true
);
-- Warehouses made before the occurrence key: add the columns, number the lines they hold (in
-- line order; a no-op once every row has its occurrence).
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS occurrence BIGINT;
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS in_last_read BOOLEAN DEFAULT true;
UPDATE quarantine SET occurrence = b.occurrence, in_last_read = coalesce(in_last_read, true)
FROM (
    SELECT
        n.rowid AS rid,
        coalesce((
            SELECT max(x.occurrence) FROM quarantine AS x
            WHERE x.source_file = n.source_file AND x.raw_md5 = n.raw_md5
        ), 0) + row_number() OVER (PARTITION BY n.source_file, n.raw_md5 ORDER BY n.source_line)
            AS occurrence
    FROM quarantine AS n
    WHERE n.occurrence IS NULL
) AS b
WHERE quarantine.rowid = b.rid;

-- Per-file read state: what was consumed, and how to notice a rewrite (contract §1).
CREATE TABLE IF NOT EXISTS spool_files (
    source_file     VARCHAR PRIMARY KEY,
    host            VARCHAR NOT NULL,
    "user"          VARCHAR NOT NULL,
    spool_date      DATE NOT NULL,
    size_seen       BIGINT NOT NULL,    -- st_size when last read
    mtime_ns        BIGINT NOT NULL,    -- st_mtime_ns when last read
    offset_bytes    BIGINT NOT NULL,    -- bytes consumed: everything before is complete lines
    lines_read      BIGINT NOT NULL,    -- complete lines consumed (numbering continues from here)
    head_md5        VARCHAR NOT NULL,   -- md5 of the first min(offset, 4 KiB) bytes
    tail_md5        VARCHAR NOT NULL,   -- md5 of the last min(offset, 4 KiB) consumed bytes
    generation      INTEGER NOT NULL,   -- bumped when the file was found rewritten
    first_read_at   TIMESTAMPTZ NOT NULL,
    last_read_at    TIMESTAMPTZ NOT NULL,
    consumed_hash   VARCHAR             -- 'xxh3_128:<hex>' of all bytes [0, offset) as read
);
-- Warehouses made before consumed_hash: the column is added (last, like above); their rows keep
-- NULL until the file is next read (verified once with head_md5/tail_md5, then hashed).
ALTER TABLE spool_files ADD COLUMN IF NOT EXISTS consumed_hash VARCHAR;

-- Anomalies found while reading (a file that shrank, whose read bytes changed, or that was
-- deleted between the plan and the commit).
CREATE TABLE IF NOT EXISTS spool_anomalies (
    source_file     VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,   -- 'shrunk' | 'rewritten' | 'vanished' (deleted mid-run)
    detail          VARCHAR NOT NULL,
    detected_at     TIMESTAMPTZ NOT NULL,
    ingest_run_id   VARCHAR
);

-- Partitions whose Parquet / quarantine files must be rewritten from the tables. Committed with
-- the data, cleared after the export: a crash in between only means exporting again.
-- silver_events' dates here are compactions (or repairs): the date's files rewritten as one per
-- event type from the rows the watermark covers; new events reach Parquet by export_state.
CREATE TABLE IF NOT EXISTS export_pending (
    target          VARCHAR NOT NULL,   -- 'silver_events' | 'quarantine'
    partition_date  DATE NOT NULL,
    PRIMARY KEY (target, partition_date)
);

-- What each ingest run touched, for downstream partitions and the UI.
CREATE TABLE IF NOT EXISTS ingest_batches (
    ingest_run_id   VARCHAR,
    batch_no        INTEGER NOT NULL,
    committed_at    TIMESTAMPTZ NOT NULL,
    files           INTEGER NOT NULL,
    bytes           BIGINT NOT NULL,
    lines           BIGINT NOT NULL,
    events          BIGINT NOT NULL,
    duplicates      BIGINT NOT NULL,
    invalid         BIGINT NOT NULL,
    blank           BIGINT NOT NULL,
    nul_padding     BIGINT NOT NULL,
    skewed          BIGINT NOT NULL,
    event_dates     DATE[] NOT NULL
);

-- Outcomes of the pipeline's checks (freshness, volume, invalid-rate, clock-skew), one row per
-- evaluation and scope, so that Grafana can show the pipeline's health over time.
CREATE TABLE IF NOT EXISTS pipeline_check_results (
    check_name      VARCHAR NOT NULL,   -- 'freshness' | 'volume' | 'invalid_rate' | 'clock_skew'
    asset           VARCHAR NOT NULL,   -- the asset checked, e.g. 'spool_events'
    partition_date  DATE,               -- the daily partition evaluated; NULL for whole-asset checks
    scope           VARCHAR NOT NULL,   -- what the value is about: 'all', a source family, a host
    status          VARCHAR NOT NULL,   -- 'PASS' | 'WARN' | 'FAIL' | 'SKIP' (could not judge)
    value           DOUBLE,             -- the measured value (a rate, a ratio, an age in seconds)
    warn_threshold  DOUBLE,
    fail_threshold  DOUBLE,
    detail          JSON,               -- breakdowns: reasons, top files, hosts and offsets
    evaluated_at    TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR             -- the Dagster run, NULL for `piper doctor`
);

-- Quarantined lines that a replay (`piper quarantine replay`) found valid under the current
-- contract: moved out of quarantine in the transaction that inserted their events, so a rerun
-- cannot ingest them twice. outcome: 'event' (inserted) or 'duplicate' (its event_id was known).
CREATE TABLE IF NOT EXISTS quarantine_replayed (
    reason          VARCHAR NOT NULL,   -- the reason it had in quarantine
    source_file     VARCHAR NOT NULL,
    source_line     BIGINT NOT NULL,
    spool_date      DATE NOT NULL,
    raw_md5         VARCHAR NOT NULL,
    event_id        VARCHAR NOT NULL,
    outcome         VARCHAR NOT NULL,
    quarantined_at  TIMESTAMPTZ NOT NULL,
    replayed_at     TIMESTAMPTZ NOT NULL,
    replay_run_id   VARCHAR NOT NULL
);

-- The refresh ledger: event dates whose silver and gold must be rebuilt. A row is written in the
-- transaction of the ingest batch (or replay day) that added events to its date, so no crash can
-- lose it, and deleted by the gold refresh that rebuilt the date, in that refresh's transaction.
-- Append-only between the two: one row per dirtying commit, so a date dirtied again after a
-- refresh read silver keeps a row (a higher seq) that the refresh did not cover.
-- The late-data sensor and the CLI (`piper ingest`, `backfill`, `quarantine replay`) drain it.
CREATE SEQUENCE IF NOT EXISTS refresh_seq;
CREATE TABLE IF NOT EXISTS refresh_pending (
    event_date          DATE NOT NULL,
    seq                 BIGINT NOT NULL,    -- nextval('refresh_seq'): the order of dirtying
    dirtied_at          TIMESTAMPTZ NOT NULL,
    why                 VARCHAR NOT NULL,   -- 'ingest' | 'replay'
    run_id              VARCHAR,            -- the ingest or replay run that dirtied it
    silver_rebuilt_at   TIMESTAMPTZ         -- set by the silver refresh; gold then deletes the row
);

-- Dates whose pipeline-health aggregates (health_ingest_daily, health_skewed_hosts_daily by
-- event date; health_spool_daily by spool date) are stale: marked in the transaction that changed
-- their rows (an ingest batch, a replay), cleared by the publish that re-aggregated them. A
-- publish then aggregates the dates that changed, not the last `serving.health_days` days.
CREATE TABLE IF NOT EXISTS health_pending (
    kind            VARCHAR NOT NULL,   -- 'event_date' | 'spool_date'
    day             DATE NOT NULL,
    PRIMARY KEY (kind, day)
);

-- Notifications (piper_dagster/alerts, docs/design.md#notifications-issue-15). alert_state: the
-- state of each check subject (check, asset, scope, spool partition) as the alerts know it,
-- written in the transaction that records the check outcomes. A SKIP never changes it.
CREATE TABLE IF NOT EXISTS alert_state (
    subject          VARCHAR NOT NULL,   -- check|asset|scope|partition ('-': whole asset)
    check_name       VARCHAR NOT NULL,
    asset            VARCHAR NOT NULL,
    scope            VARCHAR NOT NULL,
    partition_date   DATE,               -- NULL: a whole-asset check (freshness, refresh backlog)
    status           VARCHAR NOT NULL,   -- the latest judged status: 'PASS' | 'WARN' | 'FAIL'
    notified_status  VARCHAR NOT NULL,   -- what the last message said ('PASS': nothing open)
    notified_at      TIMESTAMPTZ,        -- when it was said (the quiet repeat interval's start)
    changed_at       TIMESTAMPTZ NOT NULL,  -- when `status` last changed
    evaluated_at     TIMESTAMPTZ NOT NULL
);

-- Messages to deliver, one row per message and channel, written in the transaction that decided
-- them (the check record, a run failure), delivered after it; a delivered (or dropped) row moves
-- to alert_log. Undelivered rows stay for the next delivery round.
CREATE TABLE IF NOT EXISTS alert_outbox (
    message_id       VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,   -- 'webhook' | 'slack' | 'teams' | 'email'
    kind             VARCHAR NOT NULL,   -- 'problem' | 'repeat' | 'resolved' | 'run_failed' | 'test'
    subject          VARCHAR NOT NULL,   -- alert_state.subject, or 'run:<run id>'
    status           VARCHAR NOT NULL,   -- what the message says: PASS/WARN/FAIL, FAILURE (a run)
    message          JSON NOT NULL,      -- the message's fields, rendered per channel on delivery
    created_at       TIMESTAMPTZ NOT NULL,
    attempts         INTEGER NOT NULL,   -- delivery attempts so far
    last_attempt_at  TIMESTAMPTZ,
    last_error       VARCHAR,
    claimed_until    TIMESTAMPTZ         -- a deliverer holds it until then (a crashed one lets go)
);

-- What was sent (or failed, or was dropped): one row per message, channel and delivery round.
CREATE TABLE IF NOT EXISTS alert_log (
    sent_at          TIMESTAMPTZ NOT NULL,
    message_id       VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    check_name       VARCHAR,            -- NULL for a run failure or a test message
    scope            VARCHAR,
    partition_date   DATE,
    status           VARCHAR NOT NULL,
    previous_status  VARCHAR,
    run_id           VARCHAR,            -- the run that evaluated the check, or that failed
    ok               BOOLEAN NOT NULL,
    attempts         INTEGER NOT NULL,   -- attempts of this message on this channel, in all
    error            VARCHAR,            -- why it failed ('dropped: ...' when given up)
    title            VARCHAR NOT NULL
);
