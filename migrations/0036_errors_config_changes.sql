-- 0036_errors_config_changes.sql (issue 20; docs/monitoring.md, "Errors" and "Configuration
-- changes"). Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- ---- configuration changes: a row per change of a setting, role, policy, rule, destination
-- or key, of one organization (RLS like 0029) or process-wide (organization_id NULL: written by
-- the owner only, read by operators only). Append-only for the API role.
ALTER TABLE config_change_event ADD COLUMN organization_id varchar(255);
CREATE INDEX config_change_event_org_id_idx ON config_change_event (organization_id, id);
ALTER TABLE config_change_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON config_change_event
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT, INSERT ON config_change_event TO auditdb_app;
GRANT USAGE ON SEQUENCE config_change_event_id_seq TO auditdb_app;

-- ---- errors: the service's own failures (process-wide; no grant to the API role)
-- error_log: the organization concerned (or NULL) and the fingerprint's version.
ALTER TABLE error_log ADD COLUMN organization_id varchar(255);
ALTER TABLE error_log ADD COLUMN fingerprint_version smallint NOT NULL DEFAULT 1;
-- the rate and trend count one key's rows over the last minutes
CREATE INDEX error_log_key_timestamp_idx ON error_log (aggregation_key, "timestamp");

-- error_aggregation: what the fingerprint was made of, and its resolution (a resolved
-- aggregation that occurs again is a regression: an alert, and resolved_at is cleared).
ALTER TABLE error_aggregation ADD COLUMN fingerprint_version smallint NOT NULL DEFAULT 1;
ALTER TABLE error_aggregation ADD COLUMN code varchar(20);
ALTER TABLE error_aggregation ADD COLUMN component varchar(100);
ALTER TABLE error_aggregation ADD COLUMN operation varchar(100);
ALTER TABLE error_aggregation ADD COLUMN message_pattern text;
ALTER TABLE error_aggregation ADD COLUMN resolved_at timestamptz;
ALTER TABLE error_aggregation ADD COLUMN resolved_by varchar(255);
ALTER TABLE error_aggregation ADD COLUMN resolution_notes text;
ALTER TABLE error_aggregation ADD COLUMN regression_count integer NOT NULL DEFAULT 0;
ALTER TABLE error_aggregation ADD COLUMN last_regression_at timestamptz;
