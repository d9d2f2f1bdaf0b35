-- 0035_detection_rules.sql: detection rules as data (issue 20; docs/alerts.md "Detection
-- rules", "The engine"; src/detect/). Every edit of a rule is a new version row; the current
-- one is flagged. The engine's position, watermark and counters per organization and source
-- are one row (detection_cursor), written in the same transaction as the hits and the alerts
-- they raise, so that a restart neither loses nor doubles an alert.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE detection_rules (
    organization_id varchar(64)  NOT NULL,  -- an organization, or "_process" (the service's pseudo-organization)
    rule_id         varchar(64)  NOT NULL,
    version         integer      NOT NULL CHECK (version >= 1),
    is_current      boolean      NOT NULL,
    enabled         boolean      NOT NULL DEFAULT true,
    definition      jsonb        NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    created_by      text         NOT NULL,
    reason          text,
    PRIMARY KEY (organization_id, rule_id, version),
    CHECK (rule_id ~ '^[a-z0-9][a-z0-9._-]{0,63}$')
);
-- one current version per rule
CREATE UNIQUE INDEX detection_rules_current_idx
    ON detection_rules (organization_id, rule_id) WHERE is_current;

-- the organization's detection settings: the time zone of time-of-day windows
CREATE TABLE detection_settings (
    organization_id varchar(64) PRIMARY KEY,
    timezone        text        NOT NULL DEFAULT 'UTC',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- the engine's persisted state: one row per (organization, source); position is the last
-- chain_seq (source 'events') or row id (security_events, integrity) evaluated; state the
-- live counters (src/detect/state.c's format); written with the hits and alerts of a round
CREATE TABLE detection_cursor (
    organization_id varchar(64) NOT NULL,
    source          text        NOT NULL CHECK (source IN ('events', 'security_events', 'integrity')),
    position        bigint      NOT NULL DEFAULT 0,
    watermark_ms    bigint      NOT NULL DEFAULT 0,
    state           bytea,
    evaluated       bigint      NOT NULL DEFAULT 0,
    late_events     bigint      NOT NULL DEFAULT 0,
    dropped_groups  bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, source)
);

-- what the rules found: one row per (rule version, group, window) whose condition held;
-- event_count grows while the window is open
CREATE TABLE detection_hits (
    organization_id varchar(64) NOT NULL,
    rule_id         varchar(64) NOT NULL,
    rule_version    integer     NOT NULL,
    group_key       text        NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    event_count     bigint      NOT NULL,
    alert_id        varchar(64),
    raised_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, rule_id, rule_version, group_key, window_start)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['detection_rules', 'detection_settings', 'detection_hits'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                       ' USING (organization_id = (SELECT auditdb_tenant()))'
                       ' WITH CHECK (organization_id = (SELECT auditdb_tenant()))', t);
    END LOOP;
END;
$$;
GRANT SELECT, INSERT, UPDATE ON detection_rules, detection_settings TO auditdb_app;
GRANT SELECT ON detection_hits TO auditdb_app;

-- The default rules of an organization (idempotent): the original's five at its thresholds
-- (failed auth 5 in 5 min, unauthorized access 3 in 10 min, data velocity 50 in 1 min, bulk
-- operations 100 in 5 min, off-hours 22:00-06:00 in the organization's time zone) and the rules
-- over the security tables. Version 1, created by "system".
CREATE FUNCTION auditdb_default_detection_rules(p_org text) RETURNS void LANGUAGE sql AS $$
INSERT INTO detection_rules (organization_id, rule_id, version, is_current, enabled, definition,
                             created_by, reason)
SELECT p_org, d.id, 1, true, true, d.def::jsonb, 'system', 'default rule'
  FROM (VALUES
    ('failed-auth', '{"title": "Failed authentication", "severity": "HIGH", "alertType": "SECURITY",
      "source": "events",
      "selections": {"failure": {"action|contains": "auth.login.failure", "status": "failure"}},
      "correlation": {"type": "event_count", "rules": ["failure"], "group-by": ["principal"],
                      "timespan": "5m", "condition": {"gte": 5}}}'),
    ('unauthorized-access', '{"title": "Unauthorized access attempts", "severity": "CRITICAL",
      "alertType": "SECURITY", "source": "events",
      "selections": {"denied": {"status": "failure",
                     "outcome|contains": ["unauthorized", "access denied", "forbidden"]}},
      "correlation": {"type": "event_count", "rules": ["denied"], "group-by": ["principal"],
                      "timespan": "10m", "condition": {"gte": 3}}}'),
    ('data-velocity', '{"title": "High-velocity data access", "severity": "MEDIUM",
      "alertType": "SECURITY", "source": "events",
      "selections": {"read": {"action|contains": ["data.read", "fhir."], "status": "success"},
                     "resource": {"resource|exists": true, "status": "success"}},
      "correlation": {"type": "event_count", "rules": ["read", "resource"],
                      "group-by": ["principal"], "timespan": "1m", "condition": {"gte": 50}}}'),
    ('bulk-operations', '{"title": "Bulk operations", "severity": "MEDIUM", "alertType": "SECURITY",
      "source": "events",
      "selections": {"bulk": {"action|contains": ["data.export", "data.import", "bulk"]}},
      "correlation": {"type": "event_count", "rules": ["bulk"], "group-by": [],
                      "timespan": "5m", "condition": {"gte": 100}}}'),
    ('off-hours', '{"title": "Off-hours data access", "severity": "LOW", "alertType": "SECURITY",
      "source": "events",
      "selections": {"access": {"action|contains": ["data.", "fhir."], "status": "success"}},
      "timeOfDay": {"start": "22:00", "end": "06:00"},
      "correlation": {"type": "event_count", "rules": ["access"], "group-by": ["principal"],
                      "timespan": "1h", "condition": {"gte": 1}}}'),
    ('security-bad-keys', '{"title": "Repeated bad API keys", "severity": "HIGH",
      "alertType": "SECURITY", "source": "security_events",
      "selections": {"bad": {"type": "repeated_auth_failure"}},
      "correlation": {"type": "event_count", "rules": ["bad"], "group-by": ["ip"],
                      "timespan": "10m", "condition": {"gte": 1}}}'),
    ('security-cross-tenant', '{"title": "Cross-tenant probes", "severity": "HIGH",
      "alertType": "SECURITY", "source": "security_events",
      "selections": {"probe": {"type": "cross_tenant_probe"}},
      "correlation": {"type": "event_count", "rules": ["probe"], "group-by": ["key"],
                      "timespan": "10m", "condition": {"gte": 3}}}'),
    ('security-rate-abuse', '{"title": "Rate-limit abuse", "severity": "MEDIUM",
      "alertType": "SECURITY", "source": "security_events",
      "selections": {"abuse": {"type": "rate_limit_abuse"}},
      "correlation": {"type": "event_count", "rules": ["abuse"], "group-by": ["key"],
                      "timespan": "10m", "condition": {"gte": 1}}}'),
    ('integrity-failure', '{"title": "Integrity verification failed", "severity": "CRITICAL",
      "alertType": "SECURITY", "source": "integrity",
      "selections": {"tampered": {"status": "tampered"}},
      "correlation": {"type": "event_count", "rules": ["tampered"], "group-by": [],
                      "timespan": "1h", "condition": {"gte": 1}}}')
  ) AS d(id, def)
ON CONFLICT DO NOTHING;
INSERT INTO detection_settings (organization_id) VALUES (p_org) ON CONFLICT DO NOTHING;
$$;

-- every organization gets them when it is created, wherever it is created
CREATE FUNCTION auditdb_detection_rules_on_org() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM auditdb_default_detection_rules(NEW.id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER organization_detection_rules AFTER INSERT ON organization
    FOR EACH ROW EXECUTE FUNCTION auditdb_detection_rules_on_org();

-- the organizations that exist already, and the operator's pseudo-organization
-- "_process" (docs/monitoring.md) for security rows that name no organization
SELECT auditdb_default_detection_rules(id) FROM organization;
SELECT auditdb_default_detection_rules('_process');
