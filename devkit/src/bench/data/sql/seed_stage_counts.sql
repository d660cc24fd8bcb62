-- The per-stage counters of the seeded batch (its trigger is off while
-- seeding).
INSERT INTO scan_job_stage_counts (scan_job_id, stage, done, skipped, failed)
SELECT scan_job_id, stage,
       count(*) FILTER (WHERE outcome = 'done'),
       count(*) FILTER (WHERE outcome = 'skipped'),
       count(*) FILTER (WHERE outcome = 'failed')
FROM scan_job_stage_items
GROUP BY scan_job_id, stage
