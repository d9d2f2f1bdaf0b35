-- 0026_gdpr_export.sql: what an organization declares for the GDPR export (docs/gdpr.md).
-- gdpr_action_purpose maps the organization's actions to the purposes of processing (and their
-- legal basis) that the export's Art. 15(1)(a) answer and its consultations name;
-- gdpr_export_policy says who consulted a subject's data is shown in an export: their principal
-- id ('names'), only their role ('roles') or nothing ('hidden'). Both are tenant data: row-level
-- security as every organization's table (0006).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE gdpr_action_purpose (
    organization_id  text        NOT NULL,
    action           text        NOT NULL CHECK (length(action) BETWEEN 1 AND 255),
    purpose          text        NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),
    legal_basis      text        CHECK (length(legal_basis) <= 255),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text,                                 -- the public id of the API key
    PRIMARY KEY (organization_id, action)
);

CREATE TABLE gdpr_export_policy (
    organization_id  text        PRIMARY KEY,
    consulters       text        NOT NULL DEFAULT 'roles'
        CHECK (consulters IN ('names', 'roles', 'hidden')),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text
);

ALTER TABLE gdpr_action_purpose ENABLE ROW LEVEL SECURITY;
ALTER TABLE gdpr_export_policy ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gdpr_action_purpose
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_isolation ON gdpr_export_policy
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON gdpr_action_purpose, gdpr_export_policy TO auditdb_app;

-- The events whose target is a data subject (their records read, changed, disclosed) found
-- without scanning the organization: the export's events and consultations walk it in time
-- order, as they walk audit_log_org_principal_time_idx for the subject's own actions.
CREATE INDEX audit_log_org_target_time_idx
    ON audit_log (organization_id, target_resource_id, "timestamp", id)
    WHERE target_resource_id IS NOT NULL;
