-- 0025_hipaa_suspensions.sql: temporary suspensions of a patient's right to an accounting of
-- disclosures to a health oversight agency or a law enforcement official (45 CFR 164.528(a)(2);
-- docs/hipaa.md "Suspensions"). While one is in force, GET /api/v1/compliance/hipaa/accounting
-- leaves out the disclosures to that recipient. A written statement sets its own end date; an
-- oral one holds at most 30 days from the statement unless a written one follows (a new row).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE hipaa_disclosure_suspension (
    id               uuid        PRIMARY KEY,                -- drawn by auditdb
    organization_id  text        NOT NULL,
    recipient        text        NOT NULL,                   -- as details.disclosure.recipient.name
    agency_type      text        NOT NULL
        CHECK (agency_type IN ('health_oversight', 'law_enforcement')),
    statement        text        NOT NULL CHECK (statement IN ('written', 'oral')),
    statement_by     text        NOT NULL,                   -- the agency or official's identity
    reason           text,                                   -- the statement's reason
    subject_index    bytea       CHECK (subject_index IS NULL OR length(subject_index) = 32),
                                                             -- one patient (blind index); NULL: all
    starts_at        timestamptz NOT NULL DEFAULT now(),
    ends_at          timestamptz NOT NULL,
    created_by       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hipaa_disclosure_suspension_period CHECK (ends_at > starts_at),
    CONSTRAINT hipaa_disclosure_suspension_oral_30_days
        CHECK (statement = 'written' OR ends_at <= starts_at + interval '30 days')
);
CREATE INDEX hipaa_disclosure_suspension_org_idx
    ON hipaa_disclosure_suspension (organization_id, ends_at);

ALTER TABLE hipaa_disclosure_suspension ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hipaa_disclosure_suspension
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- recorded and read as the tenant; never changed or deleted by the service (a record)
GRANT SELECT, INSERT ON hipaa_disclosure_suspension TO auditdb_app;
