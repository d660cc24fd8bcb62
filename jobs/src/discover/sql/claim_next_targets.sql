-- WebMagic's "Get next target for autopilot", claimed: the same filter and
-- order, several at a time, and FOR UPDATE SKIP LOCKED so that schedulers
-- running at once never claim the same territory.
-- $1 how many, $2 who claims
WITH next_targets AS (
    SELECT id FROM coverage_grid
    WHERE status = 'pending'
      AND (cooldown_until IS NULL OR cooldown_until < NOW())
    ORDER BY priority DESC, population DESC
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE coverage_grid g
SET status = 'in_progress',
    claimed_at = now(),
    claimed_by = $2,
    run_count = g.run_count + 1,
    last_error = NULL,
    discover_job_id = NULL,
    -- Every run starts at the first page with fresh counters.
    provider = NULL,
    next_offset = 0,
    next_page_token = NULL,
    pending_request_id = NULL,
    exhausted = false,
    pages_fetched = 0,
    results_fetched = 0,
    rejected_count = 0
FROM next_targets
WHERE g.id = next_targets.id
RETURNING g.id, g.run_count, g.priority, g.population, g.country, g.state, g.city, g.industry
