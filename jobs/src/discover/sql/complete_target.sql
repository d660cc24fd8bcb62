-- A run finished: counters from the leads themselves (so a re-run or a
-- retry counts each lead once), cooldown, and pagination reset for the next
-- run after the cooldown.
UPDATE coverage_grid g
SET status = 'completed',
    lead_count = (SELECT count(*) FROM prospects p WHERE p.coverage_grid_id = g.id),
    qualified_count = (SELECT count(*) FROM prospects p WHERE p.coverage_grid_id = g.id AND p.qualified),
    last_scraped_at = now(),
    cooldown_until = now() + make_interval(secs => $3),
    next_offset = 0,
    next_page_token = NULL,
    pending_request_id = NULL,
    exhausted = false,
    last_error = NULL
WHERE g.id = $1 AND g.run_count = $2 AND g.status = 'in_progress'
RETURNING g.lead_count, g.qualified_count, g.results_fetched, g.rejected_count, g.pages_fetched
