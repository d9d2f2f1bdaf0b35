-- 0024_data_subject_requests.sql: data-subject requests as records (issue 17, item 4;
-- docs/gdpr.md "Requests", docs/hipaa.md). One row per request of a data subject (GDPR
-- Art. 15-22) or of a patient (HIPAA 45 CFR 164.524, 164.528): received, due, extended with a
-- reason, status, who handled it, outcome.
-- The subject is never stored in clear: subject_index is HMAC-SHA256 of the subject id under a
-- per-organization key, subject_enc its AES-256-GCM ciphertext under another (both derived from
-- the master key, src/compliance/subject_key.c), so the database can neither compute nor read
-- them and an erasure that NULLs subject_enc leaves nothing of the subject behind.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE data_subject_request (
    id               uuid        PRIMARY KEY,                -- drawn by auditdb
    organization_id  text        NOT NULL,
    kind             text        NOT NULL
        CONSTRAINT data_subject_request_kind_check
        CHECK (kind IN ('access', 'portability', 'erasure', 'pseudonymization', 'rectification',
                        'restriction', 'objection', 'hipaa_accounting', 'hipaa_access')),
    subject_index    bytea       NOT NULL CHECK (length(subject_index) = 32),
    subject_enc      bytea,                                  -- nonce || ciphertext || tag; NULL once erased
    status           text        NOT NULL DEFAULT 'received'
        CONSTRAINT data_subject_request_status_check
        CHECK (status IN ('received', 'in_progress', 'completed', 'refused', 'extended')),
    received_at      timestamptz NOT NULL DEFAULT now(),
    due_at           timestamptz NOT NULL,                   -- GDPR: +1 month; HIPAA: +60 / +30 days
    extended_until   timestamptz,                            -- the new due date after an extension
    extension_reason text,
    handled_by       text,                                   -- the API key id or CLI principal
    completed_at     timestamptz,
    outcome          jsonb,
    basis            text,                                   -- legal basis / article invoked
    fee_status       text        CHECK (fee_status IN ('free', 'chargeable')), -- HIPAA accounting
    CONSTRAINT data_subject_request_extension_check
        CHECK ((extended_until IS NULL) = (extension_reason IS NULL)),
    CONSTRAINT data_subject_request_extension_after_due
        CHECK (extended_until IS NULL OR extended_until > due_at),
    CONSTRAINT data_subject_request_done_check
        CHECK ((completed_at IS NOT NULL) = (status IN ('completed', 'refused')))
);
CREATE INDEX data_subject_request_org_received_idx
    ON data_subject_request (organization_id, received_at DESC, id);
CREATE INDEX data_subject_request_org_subject_idx
    ON data_subject_request (organization_id, subject_index);

ALTER TABLE data_subject_request ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON data_subject_request
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- Requests are opened, advanced and closed as the tenant; never deleted by the service (the
-- record of a request outlives it; erasure NULLs subject_enc).
GRANT SELECT, INSERT ON data_subject_request TO auditdb_app;
GRANT UPDATE (status, extended_until, extension_reason, handled_by, completed_at, outcome,
              subject_enc) ON data_subject_request TO auditdb_app;

-- The auditor reads data-subject requests, exports a subject's data (GDPR Art. 15/20) and reads
-- HIPAA accountings and access reports. Admins have them through *:*.
CREATE OR REPLACE FUNCTION auditdb_default_roles(p_org text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
    VALUES
        (p_org, 'viewer', 'Reads events, archives, presets and the verifiable log',
         '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"},{"resource":"audit.presets","action":"read"},{"resource":"audit.log","action":"read"}]',
         NULL),
        (p_org, 'ingest', 'Sends events and reads the presets they name',
         '[{"resource":"audit.events","action":"create"},{"resource":"audit.presets","action":"read"}]', NULL),
        (p_org, 'auditor', 'Reads, verifies, exports and reports; reads data-subject requests, exports a subject''s data, reads HIPAA accountings',
         '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"},{"resource":"compliance.gdpr","action":"read"},{"resource":"compliance.gdpr","action":"export"},{"resource":"compliance.hipaa","action":"read"}]',
         '["viewer"]'),
        (p_org, 'admin', 'Everything in the organization',
         '[{"resource":"*","action":"*"}]', NULL)
    ON CONFLICT (organization_id, name) DO NOTHING;
$$;

-- the auditor roles of organizations that exist already, unless changed by hand
UPDATE organization_role
   SET permissions = permissions || '[{"resource":"compliance.gdpr","action":"read"},{"resource":"compliance.gdpr","action":"export"},{"resource":"compliance.hipaa","action":"read"}]'::jsonb,
       description = 'Reads, verifies, exports and reports; reads data-subject requests, exports a subject''s data, reads HIPAA accountings'
 WHERE name = 'auditor'
   AND permissions = '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"}]'::jsonb
   AND inherits = '["viewer"]'::jsonb;
