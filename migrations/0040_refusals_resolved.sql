-- 0040_refusals_resolved.sql: refused checkpoints as rows (issue 20; docs/alerts.md "Rules over
-- the security tables", docs/proofs.md). The checkpointer refuses to sign, or a witness refuses to
-- cosign, a checkpoint (witness_refused, witness_fork, witness_ahead, witness_no_proof; the log's
-- own: file_missing, forged_row, file_invalid, tree_shrank, root_changed, no_proof,
-- inconsistent): one row per (organization, kind, signed size) as the checkpointer alerts it,
-- copied by a trigger into security_events (event_type checkpoint_refused, target_resource the
-- witness's URL or "log") where the detection engine reads it, and a default rule
-- security-checkpoint-refused over it for every organization and "_process". And the resolved
-- notifications' column of alerts (at the end).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE checkpoint_refusals (
    id              bigserial    PRIMARY KEY,
    organization_id varchar(64)  NOT NULL,
    kind            varchar(32)  NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
    witness         text,        -- the witness's URL; NULL: the log refused
    signed_size     bigint       NOT NULL CHECK (signed_size >= 0),
    offered_size    bigint       NOT NULL CHECK (offered_size >= 0),
    description     text         NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX checkpoint_refusals_org_created_idx ON checkpoint_refusals (organization_id, created_at DESC);
ALTER TABLE checkpoint_refusals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON checkpoint_refusals
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT ON checkpoint_refusals TO auditdb_app; -- the checkpointer writes as the owner

-- the security_events row the detection engine reads (source security_events)
CREATE FUNCTION auditdb_checkpoint_refusal_event() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO security_events (organization_id, event_type, severity, description, details,
                                 target_resource, created_at)
    VALUES (NEW.organization_id, 'checkpoint_refused', 'CRITICAL', NEW.description,
            jsonb_build_object('refusalId', NEW.id, 'kind', NEW.kind, 'signedSize', NEW.signed_size,
                               'offeredSize', NEW.offered_size),
            coalesce(NEW.witness, 'log'), NEW.created_at);
    RETURN NEW;
END;
$$;
CREATE TRIGGER checkpoint_refusal_event AFTER INSERT ON checkpoint_refusals
    FOR EACH ROW EXECUTE FUNCTION auditdb_checkpoint_refusal_event();

-- the default rule (version 1 by "system", idempotent): any refusal, per witness (or the log)
CREATE FUNCTION auditdb_default_checkpoint_rule(p_org text) RETURNS void LANGUAGE sql AS $$
INSERT INTO detection_rules (organization_id, rule_id, version, is_current, enabled, definition,
                             created_by, reason)
VALUES (p_org, 'security-checkpoint-refused', 1, true, true,
        '{"title": "Refused checkpoints", "severity": "CRITICAL", "alertType": "SECURITY",
          "source": "security_events",
          "selections": {"refused": {"type": "checkpoint_refused"}},
          "correlation": {"type": "event_count", "rules": ["refused"], "group-by": ["resource"],
                          "timespan": "1h", "condition": {"gte": 1}}}'::jsonb,
        'system', 'default rule')
ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION auditdb_checkpoint_rule_on_org() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM auditdb_default_checkpoint_rule(NEW.id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER organization_checkpoint_rule AFTER INSERT ON organization
    FOR EACH ROW EXECUTE FUNCTION auditdb_checkpoint_rule_on_org();

SELECT auditdb_default_checkpoint_rule(id) FROM organization;
SELECT auditdb_default_checkpoint_rule('_process');

-- resolved notifications (Alertmanager's send_resolved; docs/alerts.md "Notification"): when
-- an alert that was notified while firing was resolved or dismissed and said so
ALTER TABLE alerts ADD COLUMN resolved_notified_at timestamptz;
