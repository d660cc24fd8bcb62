-- Batches that admins follow: one row per batch (an import, a discovery run,
-- a scan over a filter), with counters that count every item exactly once.
CREATE TABLE prospect_scan_jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_type        VARCHAR(50) NOT NULL
        CONSTRAINT prospect_scan_jobs_job_type_check
        CHECK (job_type IN ('import', 'discover', 'scan', 'rescan', 'outreach', 'analytics')),
    status          VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT prospect_scan_jobs_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    -- Stages each item goes through, in order (queue names).
    stages          TEXT[] NOT NULL DEFAULT '{}',
    description     TEXT,
    parameters      JSONB NOT NULL DEFAULT '{}',
    total_items     INTEGER NOT NULL DEFAULT 0 CHECK (total_items >= 0),
    processed_items INTEGER NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    failed_items    INTEGER NOT NULL DEFAULT 0 CHECK (failed_items >= 0),
    -- Kept for the prospects design; Prospector's job ids are in scan_job_items.
    celery_task_id  VARCHAR(255),
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_scan_jobs_status ON prospect_scan_jobs (status, created_at DESC);

CREATE TRIGGER prospect_scan_jobs_updated_at BEFORE UPDATE ON prospect_scan_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The final outcome of each item of a batch. The primary key is what makes
-- counting exactly-once: a retried or re-run job upserts the same row.
CREATE TABLE scan_job_items (
    scan_job_id BIGINT NOT NULL REFERENCES prospect_scan_jobs (id) ON DELETE CASCADE,
    item_key    TEXT NOT NULL,
    prospect_id BIGINT REFERENCES prospects (id) ON DELETE SET NULL,
    stage       VARCHAR(40) NOT NULL,
    outcome     VARCHAR(20) NOT NULL
        CONSTRAINT scan_job_items_outcome_check CHECK (outcome IN ('processed', 'failed')),
    reason      TEXT,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scan_job_id, item_key)
);

CREATE INDEX idx_scan_job_items_failed ON scan_job_items (scan_job_id) WHERE outcome = 'failed';

-- Progress of each item through each stage, for per-stage progress.
CREATE TABLE scan_job_stage_items (
    scan_job_id BIGINT NOT NULL REFERENCES prospect_scan_jobs (id) ON DELETE CASCADE,
    stage       VARCHAR(40) NOT NULL,
    item_key    TEXT NOT NULL,
    outcome     VARCHAR(20) NOT NULL
        CONSTRAINT scan_job_stage_items_outcome_check CHECK (outcome IN ('done', 'failed', 'skipped')),
    reason      TEXT,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scan_job_id, stage, item_key)
);

-- Counters follow the item table: +1 on a new outcome, moved when an outcome
-- changes (a failed item retried by an operator that then succeeds).
CREATE FUNCTION scan_job_items_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d_processed INTEGER := 0;
    d_failed    INTEGER := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        d_processed := (NEW.outcome = 'processed')::INTEGER;
        d_failed := (NEW.outcome = 'failed')::INTEGER;
    ELSIF OLD.outcome IS DISTINCT FROM NEW.outcome THEN
        d_processed := (NEW.outcome = 'processed')::INTEGER - (OLD.outcome = 'processed')::INTEGER;
        d_failed := (NEW.outcome = 'failed')::INTEGER - (OLD.outcome = 'failed')::INTEGER;
    ELSE
        RETURN NULL;
    END IF;

    UPDATE prospect_scan_jobs j
    SET processed_items = j.processed_items + d_processed,
        failed_items = j.failed_items + d_failed,
        started_at = coalesce(j.started_at, now()),
        status = CASE
            WHEN j.status IN ('cancelled', 'failed') THEN j.status
            WHEN j.processed_items + d_processed + j.failed_items + d_failed >= j.total_items
                 AND j.total_items > 0 THEN 'completed'
            ELSE 'running'
        END,
        finished_at = CASE
            WHEN j.status IN ('cancelled', 'failed') THEN j.finished_at
            WHEN j.processed_items + d_processed + j.failed_items + d_failed >= j.total_items
                 AND j.total_items > 0 THEN coalesce(j.finished_at, now())
            ELSE NULL
        END
    WHERE j.id = NEW.scan_job_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER scan_job_items_count AFTER INSERT OR UPDATE OF outcome ON scan_job_items
    FOR EACH ROW EXECUTE FUNCTION scan_job_items_count();
