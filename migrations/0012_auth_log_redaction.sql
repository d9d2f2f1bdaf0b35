-- 0012_auth_log_redaction.sql: retention keeps auth_audit_log's hash chain
-- verifiable. auth_audit_log is one chain across organizations, so deleting
-- one organization's expired rows (its own policy) cut links in the middle of
-- the chain, and `auditdb verify --auth-log` reported tampering where there was
-- none. Expired rows are now redacted instead: what names a person or a
-- client (user, key, address, user agent, session, request, reason, details)
-- is cleared, and redacted_at set; id, time, organization, type, status and
-- the chain columns stay, so every link can still be checked. Every other
-- security table is still deleted from, as in 0007.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE auth_audit_log ADD COLUMN redacted_at timestamptz;

CREATE OR REPLACE FUNCTION auditdb_apply_security_retention(p_now timestamptz)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t       text;
    ts_col  text;
    org_col boolean;
    act     text;
    n       bigint;
    total   bigint;
    p       record;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_access_log', 'auth_audit_log', 'rate_limit_violations',
                             'security_events', 'user_sessions', 'compliance_reports', 'error_log']
    LOOP
        ts_col  := CASE t WHEN 'error_log' THEN 'timestamp' ELSE 'created_at' END;
        org_col := t <> 'error_log';
        -- what expiry does to a row x: auth_audit_log's are redacted ($3 is the clock)
        act := CASE WHEN t = 'auth_audit_log' THEN
                   'UPDATE auth_audit_log x SET user_id = NULL, api_key_id = NULL, ip_address = NULL,'
                   ' user_agent = NULL, session_id = NULL, request_id = NULL, failure_reason = NULL,'
                   ' details = ''{}'', redacted_at = $3 WHERE x.redacted_at IS NULL AND '
               ELSE format('DELETE FROM %I x WHERE ', t) END;
        total   := 0;
        -- each organization's own policy for its rows
        IF org_col THEN
            FOR p IN SELECT d.organization_id, d.retention_days FROM data_retention_policies d
                      WHERE d.table_name = t AND d.is_active AND d.organization_id IS NOT NULL
            LOOP
                EXECUTE act || format('x.organization_id = $1 AND x.%I < $2', ts_col)
                    USING p.organization_id, p_now - make_interval(days => p.retention_days), p_now;
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
            END LOOP;
        END IF;
        -- the default policy for every other row
        FOR p IN SELECT d.retention_days FROM data_retention_policies d
                  WHERE d.table_name = t AND d.is_active AND d.organization_id IS NULL
        LOOP
            IF org_col THEN
                EXECUTE act || format('x.%I < $1 AND NOT EXISTS (SELECT 1 FROM'
                               ' data_retention_policies d WHERE d.table_name = $2 AND d.is_active'
                               ' AND d.organization_id = x.organization_id)', ts_col)
                    USING p_now - make_interval(days => p.retention_days), t, p_now;
            ELSE
                EXECUTE act || format('x.%I < $1', ts_col)
                    USING p_now - make_interval(days => p.retention_days);
            END IF;
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
        END LOOP;
        table_name := t;
        deleted := total;
        RETURN NEXT;
    END LOOP;
END;
$$;
