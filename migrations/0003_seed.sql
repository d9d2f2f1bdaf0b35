-- 0003_seed.sql: default rows the service expects to find.
-- Retention policies: smart-logs MigrationUtils.insertDefaultRetentionPolicies
-- (packages/audit-db/src/migration-utils.ts), values also in shared/testdata/smartlogs-vectors.md.
-- Audit presets: smart-logs MigrationUtils.insertDefaultAuditPresets, same file. The original
-- seeds them for organization_id '*', meaning "every organization"; an organization's own
-- preset with the same name overrides the '*' one (see docs/schema.md).
-- data_retention_policies gets no rows: smart-logs has no such defaults (see docs/schema.md).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

INSERT INTO audit_retention_policy
    (policy_name, retention_days, archive_after_days, data_classification, description, created_by)
VALUES
    ('standard',     2555, 365, 'INTERNAL',
     'Standard retention policy for internal audit data', 'system'),
    ('phi_extended', 2555, 365, 'PHI',
     'Extended retention policy for PHI data to meet HIPAA requirements', 'system'),
    ('minimal',        90,  30, 'PUBLIC',
     'Minimal retention policy for public data', 'system'),
    ('confidential', 1825, 365, 'CONFIDENTIAL',
     'Extended retention policy for confidential business data', 'system');

-- validation: the original stores its DEFAULT_VALIDATION_CONFIG for every preset that does not
-- bring its own; only fhir_access brings its own (partial) object. Presets without an explicit
-- value below therefore take the column default, which is that same configuration.
INSERT INTO audit_preset
    (name, description, organization_id, action, data_classification,
     required_fields, default_values, created_by)
VALUES
    ('authentication', 'Authentication Events', '*', 'auth.generic', 'INTERNAL',
     '["principalId", "sessionContext"]',
     '{"retentionPolicy": "auth-logs-1-year"}', 'system'),
    ('system', 'System Operations', '*', 'system.operation', 'INTERNAL',
     '["action", "status"]',
     '{"retentionPolicy": "system-logs-2-years"}', 'system'),
    ('data_operation', 'Data Operations', '*', 'data.operation', 'CONFIDENTIAL',
     '["principalId", "targetResourceType", "targetResourceId"]',
     '{"retentionPolicy": "data-ops-3-years"}', 'system'),
    ('admin', 'Administrative Actions', '*', 'admin.action', 'CONFIDENTIAL',
     '["principalId", "organizationId"]',
     '{"retentionPolicy": "admin-logs-7-years"}', 'system'),
    ('security', 'Security Events', '*', 'security.event', 'CONFIDENTIAL',
     '["principalId", "sessionContext"]',
     '{"retentionPolicy": "security-logs-7-years"}', 'system'),
    ('compliance', 'Compliance Events', '*', 'compliance.event', 'CONFIDENTIAL',
     '["principalId", "action", "outcomeDescription"]',
     '{"retentionPolicy": "compliance-logs-10-years"}', 'system'),
    ('practitioner', 'Practitioner Management', '*', 'practitioner.management', 'CONFIDENTIAL',
     '["principalId", "targetResourceId"]',
     '{"retentionPolicy": "practitioner-logs-permanent"}', 'system');

INSERT INTO audit_preset
    (name, description, organization_id, action, data_classification,
     required_fields, default_values, validation, created_by)
VALUES
    ('fhir_access', 'FHIR Resource Access', '*', 'fhir.resource.access', 'PHI',
     '["principalId", "targetResourceType", "targetResourceId"]',
     '{"retentionPolicy": "hipaa-6-years"}',
     '{"maxStringLength": 5000, "requiredFields": ["timestamp", "action", "status", "principalId", "targetResourceType"]}',
     'system');
