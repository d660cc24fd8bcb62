-- Indexes on the job queue's table (created by apalis-postgres's own
-- migrations, which `prospector migrate` runs first) for what Prospector asks
-- of it: status per queue, the dead-job list, and retention pruning.

-- Live jobs per queue (pending, delayed, in flight, waiting for a retry).
CREATE INDEX IF NOT EXISTS idx_prospector_jobs_live ON apalis.jobs (job_type, run_at)
WHERE status IN ('Pending', 'Queued', 'Running')
   OR (status = 'Failed' AND attempts < max_attempts);

-- Dead jobs: failed for good, or killed (permanent error, cancelled).
CREATE INDEX IF NOT EXISTS idx_prospector_jobs_dead ON apalis.jobs (job_type, done_at DESC)
WHERE status = 'Killed'
   OR (status = 'Failed' AND attempts >= max_attempts);

-- Finished jobs by age, for pruning and "done in the last hour".
CREATE INDEX IF NOT EXISTS idx_prospector_jobs_done ON apalis.jobs (done_at)
WHERE status = 'Done';
