-- A running batch over every prospect, half-way through tech_scan: its
-- per-stage progress is what the status page counts.
WITH batch AS (
    INSERT INTO prospect_scan_jobs (job_type, status, stages, description, total_items,
                                    processed_items, started_at)
    VALUES ('scan', 'running', ARRAY['tech_scan', 'audit', 'score'], 'bench: every prospect',
            $1::int, 0, now() - interval '1 hour')
    RETURNING id
)
INSERT INTO scan_job_stage_items (scan_job_id, stage, item_key, outcome)
SELECT batch.id, 'tech_scan', 'p' || g,
       CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 7 = 0 THEN 'skipped' ELSE 'done' END
FROM batch, generate_series(1, $1::bigint / 2) AS g
