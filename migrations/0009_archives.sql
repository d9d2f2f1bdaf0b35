-- 0009_archives.sql: archival and retention of audit events (issue 5, items 2, 3 and 6).
-- archive_storage holds zstd-compressed JSON Lines of audit_log rows (docs/archive.md):
-- the bytes go to the new payload column; data (text NOT NULL in the original) keeps a short
-- note. An archive belongs to one organization and covers chain positions from first_seq on;
-- (organization_id, first_seq) is unique, so the same positions can never be archived twice.
-- deleted_at marks an archive whose events passed their retention and were replaced by a stub
-- holding only the chain positions and links. Tenants read archives under row-level security
-- like the tables of 0006. The dead-letter queue and its alert are two functions below.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE archive_storage
    ADD COLUMN organization_id varchar(255),
    ADD COLUMN payload         bytea,
    ADD COLUMN first_seq       bigint,
    ADD COLUMN deleted_at      timestamptz;

-- an organization's archives in chain order; unique: a chain position is archived once
CREATE UNIQUE INDEX archive_storage_organization_id_idx
    ON archive_storage (organization_id, first_seq);

ALTER TABLE archive_storage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON archive_storage
    USING (organization_id = current_setting('auditdb.organization_id', true))
    WITH CHECK (organization_id = current_setting('auditdb.organization_id', true));
-- the API lists and reads archives and counts retrievals; archiving is the owner's job
GRANT SELECT ON archive_storage TO auditdb_app;
GRANT UPDATE (retrieved_count, last_retrieved_at) ON archive_storage TO auditdb_app;

-- The policy that applies to an event: the active policy named by its retention_policy, else
-- the active policy of its data classification (the oldest such row); none: the event is never
-- archived or deleted.
CREATE FUNCTION auditdb_retention_policy_for(p_policy text, p_classification text)
RETURNS TABLE (policy_name varchar, archive_after_days integer, retention_days integer)
LANGUAGE sql STABLE AS $$
    SELECT r.policy_name, r.archive_after_days, r.retention_days
      FROM audit_retention_policy r
     WHERE r.is_active = 'true'
       AND (r.policy_name = p_policy OR r.data_classification = p_classification)
     ORDER BY r.policy_name = p_policy DESC NULLS LAST, r.id
     LIMIT 1
$$;

-- Dead-letter queue of the archival jobs, one row per failing job (original_job_id names the
-- job: an organization's month of one policy and classification, an archive, a partition).
-- A failed job is retried once its backoff has passed: 1 hour after the first failure, then
-- doubling, at most 7 days. The fifth failure raises one HIGH alert for the organization.
-- (0001's dlq_event_original_job_id_idx finds the job.)

CREATE FUNCTION auditdb_archive_retry_due(p_job text, p_now timestamptz)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM archive_dlq_event d
         WHERE d.original_job_id = p_job
           AND p_now < d.last_failure_time
                       + least(interval '1 hour' * power(2, least(d.failure_count - 1, 10)),
                               interval '7 days'))
$$;

CREATE FUNCTION auditdb_archive_failed(p_job text, p_action text, p_reason text, p_org text,
                                       p_job_details jsonb, p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE archive_dlq_event
       SET failure_count = failure_count + 1, last_failure_time = p_now, "timestamp" = p_now,
           failure_reason = left(p_reason, 255),
           metadata = metadata || jsonb_build_object('lastReason', p_reason)
     WHERE original_job_id = p_job
    RETURNING failure_count INTO n;
    IF NOT FOUND THEN
        n := 1;
        INSERT INTO archive_dlq_event ("timestamp", action, failure_reason, failure_count,
                                       first_failure_time, last_failure_time, original_job_id,
                                       original_queue_name, original_event, metadata)
        VALUES (p_now, p_action, left(p_reason, 255), 1, p_now, p_now, p_job,
                'auditdb-maintenance', p_job_details,
                jsonb_build_object('organizationId', p_org, 'lastReason', p_reason));
    END IF;
    IF n = 5 THEN
        INSERT INTO alerts (id, organization_id, severity, type, title, description, source,
                            metadata, created_at, updated_at)
        VALUES ('alert-' || replace(gen_random_uuid()::text, '-', ''), coalesce(p_org, ''),
                'HIGH', 'SYSTEM', 'audit archival keeps failing: ' || p_action,
                format('the %s job %s failed %s times; last error: %s', p_action, p_job, n,
                       p_reason),
                'auditdb-archive',
                jsonb_build_object('job', p_job, 'failures', n, 'details', p_job_details),
                p_now, p_now);
    END IF;
    RETURN n;
END;
$$;
