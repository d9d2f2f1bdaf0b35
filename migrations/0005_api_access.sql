-- 0005_api_access.sql: what the HTTP API needs to authenticate callers, check
-- their permissions and audit itself (issue 4). Deviations from the original
-- are listed in docs/schema.md ("API keys and self-audit").
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- An API key belongs to one organization and one role; "key" holds the
-- SHA-256 of the secret (hex), never the secret. "start" is the visible id.
ALTER TABLE apikey
    ADD COLUMN organization_id text REFERENCES organization (id) ON DELETE CASCADE,
    ADD COLUMN role            varchar(50),
    ADD COLUMN revoked_at      timestamptz;
ALTER TABLE apikey ALTER COLUMN user_id DROP NOT NULL;
CREATE INDEX apikey_organization_id_idx ON apikey (organization_id);

-- api_access_log: a hash of the request body, never the body itself.
ALTER TABLE api_access_log ADD COLUMN request_body_hash varchar(64);

-- auth_audit_log is hash-chained: each row links to the one before it.
ALTER TABLE auth_audit_log
    ADD COLUMN previous_hash   varchar(64),
    ADD COLUMN blockchain_hash varchar(64),
    ADD COLUMN signature       varchar(64);

-- A changed key or role wakes every server up to drop what it cached.
CREATE FUNCTION auditdb_notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('auditdb_auth', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
CREATE TRIGGER organization_role_changed
    AFTER INSERT OR UPDATE OR DELETE ON organization_role
    FOR EACH STATEMENT EXECUTE FUNCTION auditdb_notify_auth_change();
CREATE TRIGGER apikey_changed
    AFTER INSERT OR UPDATE OR DELETE ON apikey
    FOR EACH STATEMENT EXECUTE FUNCTION auditdb_notify_auth_change();

-- Role inheritance may not form a cycle, and may only name roles of the same
-- organization that exist.
CREATE FUNCTION auditdb_check_role_inherits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_cycle boolean;
BEGIN
    IF NEW.inherits IS NOT NULL AND jsonb_typeof(NEW.inherits) <> 'array' THEN
        RAISE EXCEPTION 'role "%": inherits must be a JSON array of role names', NEW.name;
    END IF;
    WITH RECURSIVE walk(name, path) AS (
        SELECT x, ARRAY[NEW.name::text, x]
          FROM jsonb_array_elements_text(coalesce(NEW.inherits, '[]')) x
        UNION ALL
        SELECT x, w.path || x
          FROM walk w
          JOIN organization_role r ON r.organization_id = NEW.organization_id AND r.name = w.name
         CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(r.inherits, '[]')) x
         WHERE NOT (w.name = ANY (w.path[1:array_length(w.path, 1) - 1]))
    )
    SELECT bool_or(name = NEW.name) INTO v_cycle FROM walk;
    IF coalesce(v_cycle, false) THEN
        RAISE EXCEPTION 'role "%" would inherit from itself: inheritance cycles are not allowed',
            NEW.name USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER organization_role_no_cycle
    BEFORE INSERT OR UPDATE ON organization_role
    FOR EACH ROW EXECUTE FUNCTION auditdb_check_role_inherits();

-- The default roles every organization starts with (issue 4): permissions are
-- resource/action pairs, "*" matches anything.
CREATE FUNCTION auditdb_default_roles(p_org text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
    VALUES
        (p_org, 'viewer', 'Reads events and archives',
         '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"}]',
         NULL),
        (p_org, 'ingest', 'Sends events, nothing else',
         '[{"resource":"audit.events","action":"create"}]', NULL),
        (p_org, 'auditor', 'Reads, verifies, exports and reports',
         '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"}]',
         '["viewer"]'),
        (p_org, 'admin', 'Everything in the organization',
         '[{"resource":"*","action":"*"}]', NULL)
    ON CONFLICT (organization_id, name) DO NOTHING;
$$;

-- Retention of the security tables (used by the lifecycle scheduler, issue 5).
INSERT INTO data_retention_policies (organization_id, table_name, retention_days, description, created_by)
VALUES
    (NULL, 'api_access_log',        90,  'API request log',                         'system'),
    (NULL, 'auth_audit_log',        2555, 'authentication attempts (HIPAA: 6 years)', 'system'),
    (NULL, 'rate_limit_violations', 90,  'rate limit violations',                   'system'),
    (NULL, 'security_events',       730, 'security events',                         'system'),
    (NULL, 'user_sessions',         30,  'expired sessions',                        'system'),
    (NULL, 'compliance_reports',    2555, 'generated compliance reports',           'system');
