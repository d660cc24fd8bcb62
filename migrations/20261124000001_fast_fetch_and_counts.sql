-- What `prospector bench data` found on a database with 1,000,000 pending
-- jobs and 1,000,000 prospects (see docs/benchmarks.md):
--
-- 1. A queue fetch took 600 ms. apalis-postgres's `apalis.get_jobs` is a SQL
--    function, so its statement is planned generically: with the batch size
--    a parameter, the planner expects 10% of the queue to be picked and
--    joins the whole job table by hash (a sequential scan of every row,
--    finished jobs included). The same function, written so that the picked
--    ids are an array, is planned as a primary-key lookup: the fetch costs
--    the same with an empty queue and with a million jobs waiting.
--    Same signature, same rows, same locking (FOR UPDATE SKIP LOCKED), same
--    order (priority, then run_at). A later apalis-postgres release that
--    redefines the function would replace this one: `prospector bench data`
--    shows it.
CREATE OR REPLACE FUNCTION apalis.get_jobs(
    worker_id TEXT,
    v_job_type TEXT,
    v_job_count INTEGER DEFAULT 5
)
RETURNS SETOF apalis.jobs
LANGUAGE sql
VOLATILE
AS $$
    UPDATE apalis.jobs j
    SET
        status = 'Queued',
        lock_by = worker_id,
        lock_at = now()
    WHERE j.id = ANY (ARRAY(
        SELECT id
        FROM apalis.jobs
        WHERE
            (
                status = 'Pending'
                OR (
                    status = 'Failed'
                    AND attempts < max_attempts
                )
            )
            AND run_at < now()
            AND job_type = v_job_type
        ORDER BY priority DESC, run_at ASC
        LIMIT v_job_count
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING j.*;
$$;

-- 2. The status page counted live jobs with a scan of every live row
--    (310 ms with a million pending). It now counts each queue and state up
--    to a cap, by index only, and reads the oldest ready job from the front
--    of the same index.
DROP INDEX IF EXISTS apalis.idx_prospector_jobs_live;
CREATE INDEX IF NOT EXISTS idx_prospector_jobs_live ON apalis.jobs (job_type, status, run_at)
WHERE status IN ('Pending', 'Queued', 'Running')
   OR (status = 'Failed' AND attempts < max_attempts);

-- 3. Per-stage progress of a batch was a count over its stage items
--    (90 ms for a batch of 500,000). Counters now follow the items, as the
--    batch's own counters follow scan_job_items.
CREATE TABLE scan_job_stage_counts (
    scan_job_id BIGINT NOT NULL REFERENCES prospect_scan_jobs (id) ON DELETE CASCADE,
    stage       VARCHAR(40) NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
    skipped     INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    failed      INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    PRIMARY KEY (scan_job_id, stage)
);

INSERT INTO scan_job_stage_counts (scan_job_id, stage, done, skipped, failed)
SELECT scan_job_id, stage,
       count(*) FILTER (WHERE outcome = 'done'),
       count(*) FILTER (WHERE outcome = 'skipped'),
       count(*) FILTER (WHERE outcome = 'failed')
FROM scan_job_stage_items
GROUP BY scan_job_id, stage;

CREATE FUNCTION scan_job_stage_items_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO scan_job_stage_counts AS c (scan_job_id, stage, done, skipped, failed)
        VALUES (NEW.scan_job_id, NEW.stage, (NEW.outcome = 'done')::INTEGER,
                (NEW.outcome = 'skipped')::INTEGER, (NEW.outcome = 'failed')::INTEGER)
        ON CONFLICT (scan_job_id, stage) DO UPDATE
        SET done = c.done + EXCLUDED.done,
            skipped = c.skipped + EXCLUDED.skipped,
            failed = c.failed + EXCLUDED.failed;
    ELSIF OLD.outcome IS DISTINCT FROM NEW.outcome THEN
        -- The item's insert made the row; an outcome moves between counters.
        UPDATE scan_job_stage_counts c
        SET done = c.done + (NEW.outcome = 'done')::INTEGER - (OLD.outcome = 'done')::INTEGER,
            skipped = c.skipped + (NEW.outcome = 'skipped')::INTEGER - (OLD.outcome = 'skipped')::INTEGER,
            failed = c.failed + (NEW.outcome = 'failed')::INTEGER - (OLD.outcome = 'failed')::INTEGER
        WHERE c.scan_job_id = NEW.scan_job_id AND c.stage = NEW.stage;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER scan_job_stage_items_count AFTER INSERT OR UPDATE OF outcome ON scan_job_stage_items
    FOR EACH ROW EXECUTE FUNCTION scan_job_stage_items_count();

-- 4. "Done in the last hour" is counted per queue, up to the same cap; a busy
--    queue finishes millions of jobs an hour. Pruning deletes per queue from
--    the same index, oldest first.
DROP INDEX IF EXISTS apalis.idx_prospector_jobs_done;
CREATE INDEX IF NOT EXISTS idx_prospector_jobs_done ON apalis.jobs (job_type, done_at)
WHERE status = 'Done';
