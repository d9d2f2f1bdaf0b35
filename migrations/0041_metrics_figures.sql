-- 0041_metrics_figures.sql: figures the metrics service computed as zeros or estimates
-- (issue 20 item 5; docs/monitoring.md "Metrics", "Findings").
-- adb_metrics_verification_time: the mean duration of the tenant's integrity verifications
-- (audit_integrity_log.verification_details->>'durationMs', written by POST .../verify and by
-- auditdb verify runs from this version on; older rows have none and are not counted).
-- auditdb_alert_resolve_absent: resolves the open alerts of a raiser whose condition its last
-- look no longer found (database monitoring's findings, metrics thresholds).
-- auditdb_app may mark an alert silenced (POST /api/v1/alerts/{id}/suppress: the silence it makes
-- and the alert's flag in one transaction as the tenant; row-level security still applies).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- Like adb_metrics_verifications (0038): the organization the calling transaction proves,
-- never a parameter.
CREATE FUNCTION adb_metrics_verification_time(p_start timestamptz, p_end timestamptz)
RETURNS TABLE (timed bigint, mean_ms double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*), coalesce(avg((i.verification_details->>'durationMs')::double precision), 0)
    FROM audit_integrity_log i
    WHERE i.verification_timestamp >= p_start AND i.verification_timestamp < p_end
      AND jsonb_typeof(i.verification_details->'durationMs') = 'number'
      AND coalesce(public.auditdb_tenant(), '') <> ''
      AND (i.verification_details->>'organizationId' = public.auditdb_tenant()
           OR EXISTS (SELECT 1 FROM audit_log a WHERE a.id = i.audit_log_id
                      AND a.organization_id = public.auditdb_tenant()))
$$;
REVOKE ALL ON FUNCTION adb_metrics_verification_time(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION adb_metrics_verification_time(timestamptz, timestamptz) TO auditdb_app;

-- Resolves every open (active or acknowledged) alert of (p_org, p_source) whose dedup key
-- starts with one of p_prefixes (a JSON array of strings: the kinds the raiser looked at)
-- and is not one of p_keys (a JSON array: what it found this time). Each is resolved at
-- p_now by p_by with p_reason, and its alert.resolved event goes through the outbox
-- (docs/alerts.md "Audit trail"). Takes each key's raise lock first (as auditdb_alert_raise
-- does), so a raise of the same key is ordered before or after, never interleaved.
-- Returns how many were resolved. The owner's (not granted to auditdb_app).
CREATE FUNCTION auditdb_alert_resolve_absent(p_org text, p_source text, p_prefixes jsonb,
                                             p_keys jsonb, p_by text, p_reason text,
                                             p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    a record;
    n integer := 0;
BEGIN
    FOR a IN SELECT id, dedup_key, status FROM alerts
              WHERE organization_id = p_org AND source = p_source
                AND status IN ('active', 'acknowledged')
                AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(p_prefixes) x(p)
                             WHERE left(dedup_key, length(x.p)) = x.p)
                AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(p_keys) k(v)
                                 WHERE k.v = dedup_key)
              ORDER BY id
    LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(p_org || chr(31) || a.dedup_key, 20034));
        UPDATE alerts SET status = 'resolved', resolved = 'true', resolved_at = p_now,
                          resolved_by = p_by, resolution_notes = p_reason, updated_at = p_now
         WHERE id = a.id AND status IN ('active', 'acknowledged');
        IF FOUND THEN
            INSERT INTO alert_audit_outbox (organization_id, alert_id, action, details, at)
            VALUES (p_org, a.id, 'alert.resolved',
                    jsonb_build_object('by', p_by, 'from', a.status, 'reason', p_reason), p_now);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END;
$$;
REVOKE ALL ON FUNCTION auditdb_alert_resolve_absent(text, text, jsonb, jsonb, text, text, timestamptz) FROM PUBLIC;

GRANT UPDATE (silenced, silence_id) ON alerts TO auditdb_app;
