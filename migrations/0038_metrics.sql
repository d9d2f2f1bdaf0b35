-- 0038_metrics.sql: the metrics service (issue 20; docs/monitoring.md "Metrics",
-- src/monitor/metrics_*.c, src/http/metrics_*.c).
-- metrics_snapshots: the process-wide figures serve's snapshot round writes every
-- AUDITDB_METRICS_SNAPSHOT_S seconds (the host's gauges, which no table keeps, and the
-- period's requests): figures is a JSON object of numbers over [period_start, taken_at).
-- Operators' only: auditdb_app has no right on it. An organization's series are computed
-- from its own rows instead (a period's snapshot would miss events stored later with an
-- earlier timestamp).
-- metrics_config: an organization's metrics configuration (GET/PUT /metrics/config).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE metrics_snapshots (
    id bigserial PRIMARY KEY,
    period_start timestamptz NOT NULL,
    taken_at timestamptz NOT NULL,
    figures jsonb NOT NULL CHECK (jsonb_typeof(figures) = 'object'),
    CHECK (period_start <= taken_at)
);
CREATE INDEX metrics_snapshots_taken ON metrics_snapshots (taken_at);

CREATE TABLE metrics_config (
    organization_id varchar(255) PRIMARY KEY,
    config jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(255)
);

ALTER TABLE metrics_config ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON metrics_config
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));

-- tenants keep their configuration
GRANT SELECT, INSERT, UPDATE ON metrics_config TO auditdb_app;

-- The tenant's integrity verifications by bucket (date_trunc's unit, in UTC):
-- audit_integrity_log has no organization and is not readable by auditdb_app,
-- so this reads it as its owner, for the organization the calling transaction
-- proves (auditdb_tenant(), migration 0016: never a parameter, never the bare
-- setting, so no tenant can name another).
CREATE FUNCTION adb_metrics_verifications(p_start timestamptz, p_end timestamptz, p_unit text)
RETURNS TABLE (bucket timestamptz, status text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT date_trunc(p_unit, i.verification_timestamp, 'UTC'), i.verification_status::text, count(*)
    FROM audit_integrity_log i
    WHERE i.verification_timestamp >= p_start AND i.verification_timestamp < p_end
      AND coalesce(public.auditdb_tenant(), '') <> ''
      AND (i.verification_details->>'organizationId' = public.auditdb_tenant()
           OR EXISTS (SELECT 1 FROM audit_log a WHERE a.id = i.audit_log_id
                      AND a.organization_id = public.auditdb_tenant()))
    GROUP BY 1, 2
$$;
REVOKE ALL ON FUNCTION adb_metrics_verifications(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION adb_metrics_verifications(timestamptz, timestamptz, text) TO auditdb_app;
