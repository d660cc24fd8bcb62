-- $1 finished jobs over the last 30 days, across the pipeline's queues
-- (retention keeps 7 days of them by default).
INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, lock_at, done_at, priority)
SELECT
    'bench-done-' || g,
    (ARRAY['tech_scan', 'audit', 'score', 'discover'])[1 + g % 4],
    convert_to('{"prospect_id":' || g || '}', 'UTF8'),
    'Done',
    1,
    5,
    t.at,
    t.at,
    t.at + interval '2 seconds',
    0
FROM generate_series(1, $1::bigint) AS g,
     LATERAL (SELECT now() - ((g * 7919) % 2592000) * interval '1 second' AS at) AS t
