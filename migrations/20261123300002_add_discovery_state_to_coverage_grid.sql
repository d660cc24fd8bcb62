-- The autopilot's claim on a territory and the discover job's progress
-- through the provider's pages, so a retried or resumed job continues where
-- the last one stopped instead of paying for the same pages again.
ALTER TABLE coverage_grid
    -- Which provider the pagination state below belongs to.
    ADD COLUMN provider VARCHAR(30),
    -- Outscraper: the `skip` of the next page.
    ADD COLUMN next_offset INTEGER NOT NULL DEFAULT 0
        CONSTRAINT coverage_grid_next_offset_check CHECK (next_offset >= 0),
    -- Google Places: the nextPageToken of the next page.
    ADD COLUMN next_page_token TEXT,
    -- Outscraper: an async request submitted (and paid for) but not yet read.
    ADD COLUMN pending_request_id VARCHAR(200),
    -- True once the provider said there are no more pages this run.
    ADD COLUMN exhausted BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN pages_fetched INTEGER NOT NULL DEFAULT 0
        CONSTRAINT coverage_grid_pages_fetched_check CHECK (pages_fetched >= 0),
    ADD COLUMN results_fetched INTEGER NOT NULL DEFAULT 0
        CONSTRAINT coverage_grid_results_fetched_check CHECK (results_fetched >= 0),
    -- Provider records refused this run (missing name, bad coordinates, …).
    ADD COLUMN rejected_count INTEGER NOT NULL DEFAULT 0
        CONSTRAINT coverage_grid_rejected_count_check CHECK (rejected_count >= 0),
    -- Claims so far; the current one is part of the discover job's key.
    ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0
        CONSTRAINT coverage_grid_run_count_check CHECK (run_count >= 0),
    ADD COLUMN claimed_at TIMESTAMPTZ,
    ADD COLUMN claimed_by VARCHAR(200),
    ADD COLUMN discover_job_id TEXT,
    ADD COLUMN last_error TEXT;

-- WebMagic's "next target" query, as an index.
CREATE INDEX idx_coverage_next_target ON coverage_grid (priority DESC, population DESC)
    WHERE status = 'pending';
CREATE INDEX idx_coverage_in_progress ON coverage_grid (claimed_at) WHERE status = 'in_progress';
