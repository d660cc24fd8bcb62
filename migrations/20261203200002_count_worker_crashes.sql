-- A job whose worker process dies while running it is put back as 'Pending'
-- by apalis's orphan rescue (attempts + 1, this last_result). A Pending job
-- is fetched whatever its attempts, so a job that crashes its worker ran
-- forever. Each rescue is counted here, in the row's metadata, so that the
-- worker pool can kill the job once it has no attempts left and say why
-- ("crashed its worker N times"). Only jobs that were running count: the
-- rescue also hands back jobs the dead worker had fetched but not started
-- (and charges them an attempt), which did not crash anything.
CREATE FUNCTION prospector_count_worker_crash() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.metadata := coalesce(NEW.metadata, ''::hstore)
        || hstore('prospector.crashes',
                  (coalesce((OLD.metadata -> 'prospector.crashes')::int, 0) + 1)::text);
    RETURN NEW;
END;
$$;

CREATE TRIGGER prospector_count_worker_crash BEFORE UPDATE OF status ON apalis.jobs
    FOR EACH ROW
    WHEN (OLD.status = 'Running' AND NEW.status = 'Pending'
          AND NEW.last_result = '{"Err": "Re-enqueued due to worker heartbeat timeout."}'::jsonb)
    EXECUTE FUNCTION prospector_count_worker_crash();
