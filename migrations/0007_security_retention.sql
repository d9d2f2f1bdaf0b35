-- 0007_security_retention.sql: retention of the security tables by
-- data_retention_policies (issue 5, item 7). error_log joins the tables a
-- policy may name; auditdb_apply_security_retention() deletes what is older
-- than each table's policy (an organization's own row wins over the default
-- row whose organization_id is NULL). The scheduler of `auditdb serve` and
-- `auditdb maintenance run` call it.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE data_retention_policies DROP CONSTRAINT data_retention_policies_table_name_check;
ALTER TABLE data_retention_policies ADD CONSTRAINT data_retention_policies_table_name_check
    CHECK (table_name IN ('auth_audit_log', 'security_events', 'rate_limit_violations',
                          'user_sessions', 'compliance_reports', 'api_access_log', 'error_log'));

INSERT INTO data_retention_policies (organization_id, table_name, retention_days, description, created_by)
VALUES (NULL, 'error_log', 90, 'service error log', 'system');

CREATE FUNCTION auditdb_apply_security_retention(p_now timestamptz)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t       text;
    ts_col  text;
    org_col boolean;
    n       bigint;
    total   bigint;
    p       record;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_access_log', 'auth_audit_log', 'rate_limit_violations',
                             'security_events', 'user_sessions', 'compliance_reports', 'error_log']
    LOOP
        ts_col  := CASE t WHEN 'error_log' THEN 'timestamp' ELSE 'created_at' END;
        org_col := t <> 'error_log';
        total   := 0;
        -- each organization's own policy for its rows
        IF org_col THEN
            FOR p IN SELECT d.organization_id, d.retention_days FROM data_retention_policies d
                      WHERE d.table_name = t AND d.is_active AND d.organization_id IS NOT NULL
            LOOP
                EXECUTE format('DELETE FROM %I WHERE organization_id = $1 AND %I < $2', t, ts_col)
                    USING p.organization_id, p_now - make_interval(days => p.retention_days);
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
            END LOOP;
        END IF;
        -- the default policy for every other row
        FOR p IN SELECT d.retention_days FROM data_retention_policies d
                  WHERE d.table_name = t AND d.is_active AND d.organization_id IS NULL
        LOOP
            IF org_col THEN
                EXECUTE format('DELETE FROM %I x WHERE %I < $1 AND NOT EXISTS (SELECT 1 FROM'
                               ' data_retention_policies d WHERE d.table_name = $2 AND d.is_active'
                               ' AND d.organization_id = x.organization_id)', t, ts_col)
                    USING p_now - make_interval(days => p.retention_days), t;
            ELSE
                EXECUTE format('DELETE FROM %I WHERE %I < $1', t, ts_col)
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
