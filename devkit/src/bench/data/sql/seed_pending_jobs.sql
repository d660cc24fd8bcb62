-- $1 jobs waiting in queue $2.
INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
SELECT
    'bench-pending-' || $2 || '-' || g,
    $2,
    convert_to('{"prospect_id":' || g || '}', 'UTF8'),
    'Pending',
    0,
    5,
    now() - interval '1 minute' - (g % 3600) * interval '1 second',
    0,
    'bench-pending-' || $2 || '-' || g
FROM generate_series(1, $1::bigint) AS g
