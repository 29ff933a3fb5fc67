-- Idle workers LISTEN on aae_jobs; every statement that inserts jobs wakes them once (one
-- notification per statement, not per row, so a bulk enqueue costs one NOTIFY).
CREATE FUNCTION aae_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aae_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION aae_jobs_notify();
