-- 0034_alerts.sql: alerts (issue 20; docs/alerts.md). One open alert per (organization,
-- deduplication key), folded triggers with their count, last trigger and sample event ids,
-- dismissal, silences, the organization's alert configuration, the notification groups and the
-- outbox of the alerts' own audit events. auditdb_alert_raise is the one way alerts rows are
-- created (src/alert/raise.c calls it; so does the archival dead-letter queue below).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE alerts
    ADD COLUMN dedup_key          varchar(500),           -- NULL: a row from before 0034
    ADD COLUMN rule_id            varchar(255),
    ADD COLUMN rule_version       integer,
    ADD COLUMN trigger_count      integer     NOT NULL DEFAULT 1,
    ADD COLUMN first_triggered_at timestamptz,
    ADD COLUMN last_triggered_at  timestamptz,
    ADD COLUMN sample_event_ids   jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN dismissed_at       timestamptz,
    ADD COLUMN dismissed_by       varchar(255),
    ADD COLUMN silenced           boolean     NOT NULL DEFAULT false,
    ADD COLUMN silence_id         varchar(255),
    ADD COLUMN notified_at        timestamptz;            -- last sent in a notification

UPDATE alerts SET first_triggered_at = created_at, last_triggered_at = created_at;
ALTER TABLE alerts ALTER COLUMN first_triggered_at SET NOT NULL,
                   ALTER COLUMN last_triggered_at SET NOT NULL,
                   ALTER COLUMN first_triggered_at SET DEFAULT now(),
                   ALTER COLUMN last_triggered_at SET DEFAULT now();
ALTER TABLE alerts ADD CONSTRAINT alerts_status_known
    CHECK (status IN ('active', 'acknowledged', 'resolved', 'dismissed')) NOT VALID;

-- at most one open alert per key: what a raise folds into
CREATE UNIQUE INDEX alerts_open_dedup_idx ON alerts (organization_id, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('active', 'acknowledged');
-- cleanup: closed alerts by the instant they were closed
CREATE INDEX alerts_closed_idx ON alerts ((coalesce(resolved_at, dismissed_at)))
    WHERE status IN ('resolved', 'dismissed');

-- the request connection (auditdb_app) changes an alert's state, nothing else of it
GRANT UPDATE (status, acknowledged, acknowledged_at, acknowledged_by, resolved, resolved_at,
              resolved_by, resolution_notes, dismissed_at, dismissed_by, updated_at)
    ON alerts TO auditdb_app;

-- Silences: while one is in force (starts_at <= now < ends_at) the triggers it matches are
-- recorded (silenced) but not notified. Matchers: an object of optional strings ruleId, type,
-- severity, source, dedupKey (dedupKey ending in '*' matches a prefix); {} matches everything.
-- An expired silence (ends_at passed, or expired by hand: ends_at set to that instant) stops
-- matching at its instant.
CREATE TABLE alert_silences (
    id              varchar(255) PRIMARY KEY,              -- 'silence-' + 32 hex
    organization_id varchar(255) NOT NULL,
    created_by      varchar(255) NOT NULL,                 -- the owner: the key that made it
    reason          text         NOT NULL,
    matchers        jsonb        NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(matchers) = 'object'),
    starts_at       timestamptz  NOT NULL,
    ends_at         timestamptz  NOT NULL,
    expired_by      varchar(255),                          -- ended early by hand
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT alert_silences_period CHECK (ends_at > starts_at)
);
CREATE INDEX alert_silences_org_ends_idx ON alert_silences (organization_id, ends_at);

-- The organization's alert configuration: the client's AlertsConfiguration plus ours
-- (docs/alerts.md): debounceWindow (minutes) is the hold-open time, notification holds the
-- destinations and Alertmanager's group_wait / group_interval / repeat_interval.
CREATE TABLE alert_config (
    organization_id varchar(255) PRIMARY KEY,
    config          jsonb        NOT NULL CHECK (jsonb_typeof(config) = 'object'),
    updated_by      varchar(255),
    updated_at      timestamptz  NOT NULL DEFAULT now()
);

-- Notification groups (Alertmanager's aggregation groups): one per organization and group key
-- (the alerts' type and severity by default). The notifier sends a group group_wait after its
-- first alert, then at most every group_interval when its alerts changed, and again every
-- repeat_interval while it has firing alerts.
CREATE TABLE alert_notification_groups (
    organization_id  varchar(255) NOT NULL,
    group_key        varchar(255) NOT NULL,
    first_seen_at    timestamptz  NOT NULL,
    last_notified_at timestamptz,
    last_digest      text,                                 -- the firing alerts last sent
    notifications    integer      NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, group_key)
);

-- The audit events of state changes made inside someone else's transaction (an alert opened
-- by a raise, resolved after its hold-open time): written with the change, logged as the
-- organization's audit events after the commit by serve's alert thread, each with the
-- idempotency key 'alert-outbox-<id>' (exactly once), then deleted.
CREATE TABLE alert_audit_outbox (
    id              bigserial    PRIMARY KEY,
    organization_id varchar(255) NOT NULL,
    alert_id        varchar(255) NOT NULL,
    action          varchar(64)  NOT NULL,
    details         jsonb        NOT NULL DEFAULT '{}',
    at              timestamptz  NOT NULL
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_silences', 'alert_config', 'alert_notification_groups',
                             'alert_audit_outbox']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                       ' USING (organization_id = (SELECT auditdb_tenant()))'
                       ' WITH CHECK (organization_id = (SELECT auditdb_tenant()))', t);
    END LOOP;
END;
$$;
GRANT SELECT, INSERT, UPDATE ON alert_silences, alert_config TO auditdb_app;
GRANT SELECT ON alert_notification_groups TO auditdb_app;
-- a state change through the API writes its event's outbox row in the change's transaction
GRANT SELECT, INSERT, DELETE ON alert_audit_outbox TO auditdb_app;
GRANT USAGE ON SEQUENCE alert_audit_outbox_id_seq TO auditdb_app;

-- Does silence matcher m match this trigger?
CREATE FUNCTION auditdb_alert_silence_matches(m jsonb, p_rule text, p_type text, p_severity text,
                                              p_source text, p_dedup text)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (m->>'ruleId' IS NULL OR m->>'ruleId' = p_rule)
       AND (m->>'type' IS NULL OR m->>'type' = p_type)
       AND (m->>'severity' IS NULL OR m->>'severity' = p_severity)
       AND (m->>'source' IS NULL OR m->>'source' = p_source)
       AND (m->>'dedupKey' IS NULL
            OR (right(m->>'dedupKey', 1) = '*'
                AND left(p_dedup, length(m->>'dedupKey') - 1)
                    = left(m->>'dedupKey', length(m->>'dedupKey') - 1))
            OR m->>'dedupKey' = p_dedup)
$$;

-- The first 10 distinct event ids of a, then b (JSON arrays).
CREATE FUNCTION auditdb_alert_samples(a jsonb, b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(v ORDER BY o), '[]')
      FROM (SELECT v, min(o) AS o
              FROM jsonb_array_elements(coalesce(a, '[]') || coalesce(b, '[]'))
                   WITH ORDINALITY AS x(v, o)
             GROUP BY v ORDER BY min(o) LIMIT 10) d
$$;

-- The hold-open time of an organization's alerts (debounceWindow, minutes; 0: held open until
-- a person resolves them). Default 30 minutes.
CREATE FUNCTION auditdb_alert_hold_open(p_org text)
RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (config->>'debounceWindow')::numeric FROM alert_config
                      WHERE organization_id = p_org), 30) * interval '1 minute'
$$;

-- Raises one trigger (docs/alerts.md "Alerts"). p_at: when it triggered; p_now: the raiser's
-- clock (silences are matched at p_now). Returns the alert's id and 'opened', 'folded' or
-- 'silenced'. Concurrent raises of one key are serialized by a transaction lock on it.
CREATE FUNCTION auditdb_alert_raise(p_org text, p_source text, p_dedup text, p_rule text,
                                    p_rule_version integer, p_severity text, p_type text,
                                    p_title text, p_description text, p_correlation text,
                                    p_metadata jsonb, p_samples jsonb, p_at timestamptz,
                                    p_now timestamptz, OUT alert_id text, OUT outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    a alerts%ROWTYPE;
    sil text;
    hold interval := auditdb_alert_hold_open(p_org);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_org || chr(31) || p_dedup, 20034));
    SELECT s.id INTO sil FROM alert_silences s
     WHERE s.organization_id = p_org AND s.starts_at <= p_now AND s.ends_at > p_now
       AND auditdb_alert_silence_matches(s.matchers, p_rule, p_type, p_severity, p_source, p_dedup)
     ORDER BY s.ends_at DESC, s.id LIMIT 1;
    SELECT * INTO a FROM alerts
     WHERE organization_id = p_org AND dedup_key = p_dedup AND status IN ('active', 'acknowledged')
     FOR UPDATE;
    IF FOUND AND hold > interval '0' AND p_at > a.last_triggered_at + hold THEN
        -- quiet for longer than its hold-open time: it resolved itself at that instant
        UPDATE alerts SET status = 'resolved', resolved = 'true',
                          resolved_at = a.last_triggered_at + hold, resolved_by = 'auditdb',
                          resolution_notes = format('no new trigger for %s', hold),
                          updated_at = p_now
         WHERE id = a.id;
        INSERT INTO alert_audit_outbox (organization_id, alert_id, action, details, at)
        VALUES (p_org, a.id, 'alert.resolved',
                jsonb_build_object('by', 'auditdb', 'reason', 'hold-open time passed',
                                   'holdOpen', hold::text), a.last_triggered_at + hold);
        a := NULL;
    ELSIF FOUND THEN
        UPDATE alerts
           SET trigger_count = trigger_count + 1,
               last_triggered_at = greatest(last_triggered_at, p_at),
               sample_event_ids = auditdb_alert_samples(sample_event_ids, p_samples),
               silenced = sil IS NOT NULL, silence_id = sil,
               severity = CASE WHEN array_position(ARRAY['INFO','LOW','MEDIUM','HIGH','CRITICAL'], p_severity)
                                    > array_position(ARRAY['INFO','LOW','MEDIUM','HIGH','CRITICAL'], severity::text)
                               THEN p_severity ELSE severity END,
               updated_at = p_now
         WHERE id = a.id;
        alert_id := a.id;
        outcome := CASE WHEN sil IS NULL THEN 'folded' ELSE 'silenced' END;
        RETURN;
    END IF;
    alert_id := 'alert-' || replace(gen_random_uuid()::text, '-', '');
    INSERT INTO alerts (id, organization_id, severity, type, title, description, source,
                        correlation_id, metadata, dedup_key, rule_id, rule_version,
                        trigger_count, first_triggered_at, last_triggered_at, sample_event_ids,
                        silenced, silence_id, created_at, updated_at)
    VALUES (alert_id, p_org, p_severity, p_type, left(p_title, 500), p_description, left(p_source, 100),
            p_correlation, coalesce(p_metadata, '{}'), p_dedup, p_rule, p_rule_version, 1, p_at,
            p_at, auditdb_alert_samples('[]', p_samples),
            sil IS NOT NULL, sil, p_now, p_now);
    INSERT INTO alert_audit_outbox (organization_id, alert_id, action, details, at)
    VALUES (p_org, alert_id, 'alert.opened',
            jsonb_build_object('source', p_source, 'dedupKey', p_dedup, 'ruleId', p_rule,
                               'ruleVersion', p_rule_version, 'severity', p_severity,
                               'type', p_type, 'silenceId', sil), p_now);
    outcome := CASE WHEN sil IS NULL THEN 'opened' ELSE 'silenced' END;
END;
$$;

-- the archival dead-letter queue's fifth failure raises through auditdb_alert_raise now
CREATE OR REPLACE FUNCTION auditdb_archive_failed(p_job text, p_action text, p_reason text,
                                                  p_org text, p_job_details jsonb,
                                                  p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE archive_dlq_event
       SET failure_count = failure_count + 1, last_failure_time = p_now, "timestamp" = p_now,
           failure_reason = left(p_reason, 255),
           metadata = metadata || jsonb_build_object('lastReason', p_reason)
     WHERE original_job_id = p_job
    RETURNING failure_count INTO n;
    IF NOT FOUND THEN
        n := 1;
        INSERT INTO archive_dlq_event ("timestamp", action, failure_reason, failure_count,
                                       first_failure_time, last_failure_time, original_job_id,
                                       original_queue_name, original_event, metadata)
        VALUES (p_now, p_action, left(p_reason, 255), 1, p_now, p_now, p_job,
                'auditdb-maintenance', p_job_details,
                jsonb_build_object('organizationId', p_org, 'lastReason', p_reason));
    END IF;
    IF n = 5 THEN
        PERFORM auditdb_alert_raise(coalesce(p_org, ''), 'auditdb-archive',
                                    'archive/' || p_job, NULL, NULL, 'HIGH', 'SYSTEM',
                                    'audit archival keeps failing: ' || p_action,
                                    format('the %s job %s failed %s times; last error: %s',
                                           p_action, p_job, n, p_reason),
                                    NULL,
                                    jsonb_build_object('job', p_job, 'failures', n,
                                                       'details', p_job_details),
                                    '[]', p_now, p_now);
    END IF;
    RETURN n;
END;
$$;

-- Default roles: auditor reads alerts, rules, metrics and configuration changes; responder
-- works the alerts and edits detection rules (docs/auth.md).
CREATE OR REPLACE FUNCTION auditdb_default_roles(p_org text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
    VALUES
        (p_org, 'viewer', 'Reads events, archives, presets and the verifiable log',
         '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"},{"resource":"audit.presets","action":"read"},{"resource":"audit.log","action":"read"}]',
         NULL),
        (p_org, 'ingest', 'Sends events and reads the presets they name',
         '[{"resource":"audit.events","action":"create"},{"resource":"audit.presets","action":"read"}]', NULL),
        (p_org, 'auditor', 'Reads, verifies, exports and reports; reads data-subject requests, exports a subject''s data, reads HIPAA accountings; reads alerts, detection rules, metrics and configuration changes',
         '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"},{"resource":"compliance.gdpr","action":"read"},{"resource":"compliance.gdpr","action":"export"},{"resource":"compliance.hipaa","action":"read"},{"resource":"alerts","action":"read"},{"resource":"alerts.rules","action":"read"},{"resource":"metrics","action":"read"},{"resource":"config.changes","action":"read"}]',
         '["viewer"]'),
        (p_org, 'responder', 'Reads, acknowledges, resolves, dismisses and silences alerts; edits detection rules',
         '[{"resource":"alerts","action":"*"},{"resource":"alerts.rules","action":"*"},{"resource":"metrics","action":"read"}]',
         '["viewer"]'),
        (p_org, 'admin', 'Everything in the organization',
         '[{"resource":"*","action":"*"}]', NULL)
    ON CONFLICT (organization_id, name) DO NOTHING;
$$;

-- the auditor roles of organizations that exist already, unless changed by hand
UPDATE organization_role
   SET permissions = permissions || '[{"resource":"alerts","action":"read"},{"resource":"alerts.rules","action":"read"},{"resource":"metrics","action":"read"},{"resource":"config.changes","action":"read"}]'::jsonb,
       description = 'Reads, verifies, exports and reports; reads data-subject requests, exports a subject''s data, reads HIPAA accountings; reads alerts, detection rules, metrics and configuration changes'
 WHERE name = 'auditor'
   AND permissions = '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"},{"resource":"compliance.gdpr","action":"read"},{"resource":"compliance.gdpr","action":"export"},{"resource":"compliance.hipaa","action":"read"}]'::jsonb
   AND inherits = '["viewer"]'::jsonb;

-- the responder role for organizations that exist already (they have a viewer role)
INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
SELECT organization_id, 'responder',
       'Reads, acknowledges, resolves, dismisses and silences alerts; edits detection rules',
       '[{"resource":"alerts","action":"*"},{"resource":"alerts.rules","action":"*"},{"resource":"metrics","action":"read"}]',
       '["viewer"]'
  FROM organization_role WHERE name = 'viewer'
ON CONFLICT (organization_id, name) DO NOTHING;
