-- 0006_tenant_isolation.sql: the database enforces tenant isolation too.
-- Every table holding one organization's data gets row-level security keyed
-- by the per-transaction setting auditdb.organization_id; the API reads them
-- as auditdb_app, a role that owns nothing (SET LOCAL ROLE in each request's
-- transaction). A session without the setting reads no tenant row at all.
-- The migrating role needs CREATEROLE unless a DBA created auditdb_app first.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditdb_app') THEN
        CREATE ROLE auditdb_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END;
$$;

-- the role that runs migrations and the writer may switch to auditdb_app
DO $$
BEGIN
    EXECUTE format('GRANT auditdb_app TO %I', current_user);
END;
$$;

GRANT USAGE ON SCHEMA public TO auditdb_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'audit_log', 'audit_chain_head', 'audit_idempotency', 'alerts', 'scheduled_reports',
        'report_templates', 'report_executions', 'delivery_destinations', 'delivery_logs',
        'delivery_queue', 'download_links', 'organization_configs', 'auth_audit_log',
        'security_events', 'rate_limit_violations', 'user_sessions', 'compliance_reports',
        'api_access_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                       ' USING (organization_id = current_setting(''auditdb.organization_id'', true))'
                       ' WITH CHECK (organization_id = current_setting(''auditdb.organization_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO auditdb_app', t);
    END LOOP;
END;
$$;

-- shared, read-only for the API: presets ('*' rows are for everyone) and retention policies
GRANT SELECT ON audit_preset, audit_retention_policy, data_retention_policies TO auditdb_app;
GRANT INSERT ON audit_integrity_log TO auditdb_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO auditdb_app;
