-- 0014_documented_columns.sql: issue 14, items 21 and 23.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- Item 21: serve writes keys' last-use times (apikey.last_request) in one
-- statement per interval. That UPDATE must not wake every server to drop its
-- key and role caches: an update now notifies only when a row changed in more
-- than last_request (compared as whole rows, so a column added later counts).
-- pg_notify folds the identical notifications of one transaction into one.
DROP TRIGGER apikey_changed ON apikey;
CREATE TRIGGER apikey_changed
    AFTER INSERT OR DELETE ON apikey
    FOR EACH STATEMENT EXECUTE FUNCTION auditdb_notify_auth_change();
CREATE TRIGGER apikey_updated
    AFTER UPDATE ON apikey
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_request') IS DISTINCT FROM (to_jsonb(NEW) - 'last_request'))
    EXECUTE FUNCTION auditdb_notify_auth_change();

-- Item 23: every column the seed documents define (tests/schema/seed_columns.tsv, extracted
-- from them by tests/tools/seed_columns.py) exists with its documented type, default and
-- constraint, beside ours where both name the same thing. Where one name has two meanings,
-- or ours is deliberately different, tests/schema/seed_deviations.tsv lists it and
-- docs/schema.md ("Documented columns") says why. Where ours and a documented column hold
-- the same datum under two names, a trigger fills whichever a writer left empty, so rows
-- written by auditdb (our names) and by a client of the original schema (its names) both
-- carry both.

-- The seed ERD's inet addresses: every address auditdb writes comes from inet_ntop().
ALTER TABLE auth_audit_log        ALTER COLUMN ip_address TYPE inet USING nullif(ip_address, '')::inet;
ALTER TABLE rate_limit_violations ALTER COLUMN ip_address TYPE inet USING nullif(ip_address, '')::inet;
ALTER TABLE user_sessions         ALTER COLUMN ip_address TYPE inet USING nullif(ip_address, '')::inet;
ALTER TABLE api_access_log        ALTER COLUMN ip_address TYPE inet USING nullif(ip_address, '')::inet;
ALTER TABLE security_events       ALTER COLUMN ip_address TYPE inet USING nullif(ip_address, '')::inet;
-- documented varchar where ours was text (same storage, no rewrite)
ALTER TABLE auth_audit_log  ALTER COLUMN session_id  TYPE varchar;
ALTER TABLE security_events ALTER COLUMN resolved_by TYPE varchar;
ALTER TABLE api_access_log  ALTER COLUMN api_key_id  TYPE varchar;

-- auth_audit_log (004)
ALTER TABLE auth_audit_log
    ADD COLUMN device_fingerprint varchar,
    ADD COLUMN location           jsonb,
    ADD COLUMN risk_score         integer DEFAULT 0,
    ADD COLUMN correlation_id     uuid    DEFAULT gen_random_uuid(),
    ADD COLUMN processed_at       timestamp;
UPDATE auth_audit_log SET processed_at = created_at AT TIME ZONE 'UTC';

-- processed_at: when the row reached the database (UTC, as the documented type has no
-- zone); correlation_id: the request's id when it is a UUID, else a UUID derived from it
-- (the same request's api_access_log row has the same request_id), else the documented
-- random default. Neither is part of the row's hash chain (docs/auth.md).
CREATE FUNCTION auditdb_auth_audit_log_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.processed_at := coalesce(NEW.processed_at, statement_timestamp() AT TIME ZONE 'UTC');
    IF NEW.request_id ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        NEW.correlation_id := NEW.request_id::uuid;
    ELSIF NEW.request_id IS NOT NULL THEN
        NEW.correlation_id := md5('auditdb-request:' || NEW.request_id)::uuid;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER auth_audit_log_fill BEFORE INSERT ON auth_audit_log
    FOR EACH ROW EXECUTE FUNCTION auditdb_auth_audit_log_fill();

-- security_events (004): event_category = our event_type, severity_level = our severity,
-- source_ip = our ip_address, is_resolved = our resolved.
ALTER TABLE security_events
    ADD COLUMN event_category    varchar,
    ADD COLUMN severity_level    varchar,
    ADD COLUMN threat_type       varchar,
    ADD COLUMN source_ip         inet,
    ADD COLUMN target_resource   varchar,
    ADD COLUMN attack_vector     varchar,
    ADD COLUMN detection_method  varchar,
    ADD COLUMN mitigation_action varchar,
    ADD COLUMN is_resolved       boolean DEFAULT false,
    ADD COLUMN false_positive    boolean DEFAULT false,
    ADD COLUMN analyst_notes     text;
UPDATE security_events SET event_category = event_type, severity_level = severity,
    source_ip = ip_address, is_resolved = resolved;
ALTER TABLE security_events
    ALTER COLUMN event_category SET NOT NULL,
    ALTER COLUMN severity_level SET NOT NULL;

-- On insert the defaults are already in place, so "given" means "not the default":
-- severity (ours, default LOW) follows severity_level when that names one of our four.
CREATE FUNCTION auditdb_security_events_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- an update through either name reaches the other
        IF NEW.is_resolved IS DISTINCT FROM OLD.is_resolved
           AND NEW.resolved IS NOT DISTINCT FROM OLD.resolved THEN
            NEW.resolved := coalesce(NEW.is_resolved, false);
        END IF;
        IF NEW.severity_level IS DISTINCT FROM OLD.severity_level
           AND NEW.severity IS NOT DISTINCT FROM OLD.severity
           AND upper(NEW.severity_level) IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL') THEN
            NEW.severity := upper(NEW.severity_level);
        END IF;
    ELSE
        NEW.event_category := coalesce(NEW.event_category, NEW.event_type);
        NEW.event_type     := coalesce(NEW.event_type, NEW.event_category);
        IF upper(NEW.severity_level) IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL') THEN
            NEW.severity := upper(NEW.severity_level);
        END IF;
        NEW.resolved := NEW.resolved OR coalesce(NEW.is_resolved, false);
    END IF;
    NEW.severity_level := coalesce(NEW.severity_level, NEW.severity);
    NEW.is_resolved    := NEW.resolved;
    NEW.source_ip      := coalesce(NEW.source_ip, NEW.ip_address);
    NEW.ip_address     := coalesce(NEW.ip_address, NEW.source_ip);
    RETURN NEW;
END;
$$;
CREATE TRIGGER security_events_fill BEFORE INSERT OR UPDATE ON security_events
    FOR EACH ROW EXECUTE FUNCTION auditdb_security_events_fill();

-- rate_limit_violations (004): limit_threshold = our limit_max; time_window_minutes = our
-- window_ms in whole minutes, rounded up (a 1 s window is "1"; window_ms keeps the exact
-- value); violation_type names the bucket that refused ('api_key': ours are per key);
-- blocked_duration_minutes stays 0: auditdb refuses requests, it never blocks a client.
ALTER TABLE rate_limit_violations
    ADD COLUMN limit_threshold          integer,
    ADD COLUMN time_window_minutes      integer,
    ADD COLUMN violation_type           varchar,
    ADD COLUMN user_agent               text,
    ADD COLUMN blocked_duration_minutes integer DEFAULT 0,
    ADD COLUMN unblocked_at             timestamp;
UPDATE rate_limit_violations SET limit_threshold = limit_max,
    time_window_minutes = (window_ms + 59999) / 60000,
    violation_type = CASE WHEN api_key_id IS NOT NULL THEN 'api_key' END;
ALTER TABLE rate_limit_violations
    ALTER COLUMN limit_threshold SET NOT NULL,
    ALTER COLUMN time_window_minutes SET NOT NULL;

CREATE FUNCTION auditdb_rate_limit_violations_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.limit_threshold     := coalesce(NEW.limit_threshold, NEW.limit_max);
    NEW.limit_max           := coalesce(NEW.limit_max, NEW.limit_threshold);
    NEW.time_window_minutes := coalesce(NEW.time_window_minutes, (NEW.window_ms + 59999) / 60000);
    NEW.window_ms           := coalesce(NEW.window_ms, NEW.time_window_minutes * 60000);
    NEW.violation_type      := coalesce(NEW.violation_type,
                                        CASE WHEN NEW.api_key_id IS NOT NULL THEN 'api_key' END);
    RETURN NEW;
END;
$$;
CREATE TRIGGER rate_limit_violations_fill BEFORE INSERT ON rate_limit_violations
    FOR EACH ROW EXECUTE FUNCTION auditdb_rate_limit_violations_fill();

-- user_sessions (004): session_id = our id (the session's text id); logout_at and
-- logout_reason = our revoked_at and revoked_reason; is_active is false once logged out.
-- No code writes sessions yet (docs/schema.md).
ALTER TABLE user_sessions
    ADD COLUMN session_id         varchar,
    ADD COLUMN device_fingerprint varchar,
    ADD COLUMN location           jsonb,
    ADD COLUMN is_active          boolean DEFAULT true,
    ADD COLUMN logout_reason      varchar,
    ADD COLUMN logout_at          timestamp;
UPDATE user_sessions SET session_id = id, logout_reason = revoked_reason,
    logout_at = revoked_at AT TIME ZONE 'UTC', is_active = revoked_at IS NULL;
ALTER TABLE user_sessions
    ALTER COLUMN session_id SET NOT NULL,
    ADD CONSTRAINT user_sessions_session_id_unique UNIQUE (session_id);

CREATE FUNCTION auditdb_user_sessions_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.session_id    := coalesce(NEW.session_id, NEW.id);
    NEW.id            := coalesce(NEW.id, NEW.session_id);
    IF TG_OP = 'UPDATE' AND NEW.logout_at IS DISTINCT FROM OLD.logout_at
       AND NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at THEN
        NEW.revoked_at := NEW.logout_at AT TIME ZONE 'UTC';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.logout_reason IS DISTINCT FROM OLD.logout_reason
       AND NEW.revoked_reason IS NOT DISTINCT FROM OLD.revoked_reason THEN
        NEW.revoked_reason := NEW.logout_reason;
    END IF;
    NEW.revoked_at     := coalesce(NEW.revoked_at, NEW.logout_at AT TIME ZONE 'UTC');
    NEW.logout_at      := coalesce(NEW.logout_at, NEW.revoked_at AT TIME ZONE 'UTC');
    NEW.revoked_reason := coalesce(NEW.revoked_reason, NEW.logout_reason);
    NEW.logout_reason  := coalesce(NEW.logout_reason, NEW.revoked_reason);
    IF NEW.revoked_at IS NOT NULL THEN
        NEW.is_active := false;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER user_sessions_fill BEFORE INSERT OR UPDATE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION auditdb_user_sessions_fill();

-- compliance_reports (004): report_period_start/end = our period_start/end, total_records =
-- record_count, report_data = summary, report_hash = content_hash. Reports are generated
-- by issue 19; until then nothing writes this table. A report being generated has no data
-- or hash yet, so report_data and report_hash stay nullable here (seed_deviations.tsv).
ALTER TABLE compliance_reports
    ADD COLUMN report_period_start      timestamp,
    ADD COLUMN report_period_end        timestamp,
    ADD COLUMN total_records            integer DEFAULT 0,
    ADD COLUMN report_data              jsonb,
    ADD COLUMN report_hash              varchar,
    ADD COLUMN submitted_to_authority   boolean DEFAULT false,
    ADD COLUMN submission_date          timestamp,
    ADD COLUMN authority_acknowledgment varchar;
UPDATE compliance_reports SET
    report_period_start = coalesce(period_start, created_at) AT TIME ZONE 'UTC',
    report_period_end = coalesce(period_end, created_at) AT TIME ZONE 'UTC',
    total_records = coalesce(record_count, 0), report_data = summary, report_hash = content_hash;
CREATE FUNCTION auditdb_compliance_reports_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.period_start        := coalesce(NEW.period_start, NEW.report_period_start AT TIME ZONE 'UTC');
    NEW.period_end          := coalesce(NEW.period_end, NEW.report_period_end AT TIME ZONE 'UTC');
    NEW.report_period_start := coalesce(NEW.report_period_start, NEW.period_start AT TIME ZONE 'UTC');
    NEW.report_period_end   := coalesce(NEW.report_period_end, NEW.period_end AT TIME ZONE 'UTC');
    IF NEW.record_count IS NOT NULL THEN
        NEW.total_records := NEW.record_count;
    END IF;
    NEW.summary      := coalesce(NEW.summary, NEW.report_data);
    NEW.report_data  := coalesce(NEW.report_data, NEW.summary);
    NEW.content_hash := coalesce(NEW.content_hash, NEW.report_hash);
    NEW.report_hash  := coalesce(NEW.report_hash, NEW.content_hash);
    RETURN NEW;
END;
$$;
CREATE TRIGGER compliance_reports_fill BEFORE INSERT OR UPDATE ON compliance_reports
    FOR EACH ROW EXECUTE FUNCTION auditdb_compliance_reports_fill();
ALTER TABLE compliance_reports
    ALTER COLUMN report_period_start SET NOT NULL,
    ALTER COLUMN report_period_end SET NOT NULL;

-- api_access_log (004): endpoint = our path, response_status = status_code, bytes_received
-- = request_bytes, bytes_sent = response_bytes. request_headers stays empty: headers carry
-- API keys and bearer tokens, and no secret is stored (User-Agent has its own column).
ALTER TABLE api_access_log
    ADD COLUMN endpoint             varchar,
    ADD COLUMN request_headers      jsonb,
    ADD COLUMN response_status      integer,
    ADD COLUMN bytes_sent           integer DEFAULT 0,
    ADD COLUMN bytes_received       integer DEFAULT 0,
    ADD COLUMN rate_limit_remaining integer;
UPDATE api_access_log SET endpoint = path, response_status = status_code,
    bytes_received = coalesce(request_bytes, 0), bytes_sent = coalesce(response_bytes, 0);
ALTER TABLE api_access_log ALTER COLUMN endpoint SET NOT NULL;

CREATE FUNCTION auditdb_api_access_log_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.endpoint        := coalesce(NEW.endpoint, NEW.path);
    NEW.path            := coalesce(NEW.path, NEW.endpoint);
    NEW.response_status := coalesce(NEW.response_status, NEW.status_code);
    NEW.status_code     := coalesce(NEW.status_code, NEW.response_status);
    IF NEW.request_bytes IS NOT NULL THEN
        NEW.bytes_received := NEW.request_bytes;
    END IF;
    IF NEW.response_bytes IS NOT NULL THEN
        NEW.bytes_sent := NEW.response_bytes;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER api_access_log_fill BEFORE INSERT ON api_access_log
    FOR EACH ROW EXECUTE FUNCTION auditdb_api_access_log_fill();

-- data_retention_policies (004): retention_period_days = our retention_days (the age after
-- which rows are deleted, or auth_audit_log rows redacted); delete_after_days, when set,
-- is the same age and wins; archive_after_days stays empty (the security tables are not
-- archived); last_cleanup_at is set by each retention run that applied the policy.
ALTER TABLE data_retention_policies
    ADD COLUMN retention_period_days integer,
    ADD COLUMN archive_after_days    integer,
    ADD COLUMN delete_after_days     integer,
    ADD COLUMN last_cleanup_at       timestamp;
UPDATE data_retention_policies SET retention_period_days = retention_days;
ALTER TABLE data_retention_policies ALTER COLUMN retention_period_days SET NOT NULL;

CREATE FUNCTION auditdb_data_retention_policies_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.delete_after_days IS NOT NULL THEN
        NEW.retention_days := NEW.delete_after_days;
        NEW.retention_period_days := NEW.delete_after_days;
    ELSIF TG_OP = 'UPDATE' AND NEW.retention_period_days IS DISTINCT FROM OLD.retention_period_days
          AND NEW.retention_days IS NOT DISTINCT FROM OLD.retention_days THEN
        NEW.retention_days := NEW.retention_period_days;
    ELSIF TG_OP = 'INSERT' AND NEW.retention_days IS NULL THEN
        NEW.retention_days := NEW.retention_period_days;
    END IF;
    NEW.retention_period_days := NEW.retention_days;
    RETURN NEW;
END;
$$;
CREATE TRIGGER data_retention_policies_fill BEFORE INSERT OR UPDATE ON data_retention_policies
    FOR EACH ROW EXECUTE FUNCTION auditdb_data_retention_policies_fill();

-- audit_retention_policy (000, 001): organization_id (NULL: every organization; archival
-- does not read per-organization rows yet, docs/schema.md) and updated_by.
ALTER TABLE audit_retention_policy
    ADD COLUMN organization_id varchar,
    ADD COLUMN updated_by      varchar(255);

-- report_executions (001): report_config_id (the schedule run, = scheduled_report_id) and
-- delivery_attempts. Reports come with issue 19; nothing writes this table yet.
ALTER TABLE report_executions
    ADD COLUMN report_config_id  varchar REFERENCES scheduled_reports (id) ON DELETE CASCADE,
    ADD COLUMN delivery_attempts jsonb;

-- delivery (000, 001, 002): delivery_logs.destination_id, and the destination foreign keys
-- the seeds document. Delivery comes with issue 18; these tables are empty until then.
ALTER TABLE delivery_logs
    ADD COLUMN destination_id integer NOT NULL REFERENCES delivery_destinations (id);
CREATE INDEX delivery_logs_destination_id_idx ON delivery_logs (destination_id);
ALTER TABLE delivery_queue
    ADD CONSTRAINT delivery_queue_destination_id_fk
    FOREIGN KEY (destination_id) REFERENCES delivery_destinations (id);
ALTER TABLE webhook_secrets
    ADD CONSTRAINT webhook_secrets_destination_id_fk
    FOREIGN KEY (destination_id) REFERENCES delivery_destinations (id);
ALTER TABLE destination_health
    ADD CONSTRAINT destination_health_destination_id_fk
    FOREIGN KEY (destination_id) REFERENCES delivery_destinations (id);

-- Retention (0012's function, two changes): redaction of an expired auth_audit_log row also
-- clears the new columns that describe a client (device_fingerprint, location), and each run
-- records last_cleanup_at on the policies it applied.
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
                   ' device_fingerprint = NULL, location = NULL,'
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
        -- the documented last_cleanup_at of every active policy of t just applied
        UPDATE data_retention_policies d SET last_cleanup_at = p_now AT TIME ZONE 'UTC'
         WHERE d.table_name = t AND d.is_active;
        table_name := t;
        deleted := total;
        RETURN NEXT;
    END LOOP;
END;
$$;
