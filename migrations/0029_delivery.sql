-- 0029_delivery.sql: what the delivery system of seeds 000/001/002 needs beyond the seed's
-- tables, which 0001/0006/0014 created (issue 18; docs/delivery.md): a durable queue (claim id,
-- lease, the exact body bytes), sealed secrets, honest health (breaker window, percentiles,
-- the transitions with their times) and tenant isolation of destination_health and
-- webhook_secrets, which the seed left without an organization.
--
-- Secrets never reach the database in clear: a destination's secret fields (webhook secrets,
-- SMTP passwords, S3 keys, SFTP private keys) are replaced in `config` by the marker
-- {"sealed": true} and kept in `secrets` as AES-256-GCM under a per-organization key derived
-- from the master key (src/compliance/org_keys.c, purpose "delivery-secret"), which the database
-- cannot read. webhook_secrets.secret_key holds the same kind of sealed value, base64.
--
-- The service's delivery threads work the queue on the owner's connections (fixed statements,
-- never as a tenant); the request login reaches these tables only as a tenant, through RLS.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE delivery_destinations
    ADD COLUMN secrets bytea,       -- nonce || AES-256-GCM(JSON of the secret fields) || tag
    ADD CONSTRAINT delivery_destinations_type_check
        CHECK (type IN ('email', 'webhook', 'storage', 'sftp', 'download')),
    ADD CONSTRAINT delivery_destinations_disabled_check CHECK (disabled IN ('true', 'false'));
CREATE INDEX delivery_destinations_org_created_idx
    ON delivery_destinations (organization_id, created_at, id);

-- one row per (delivery, destination): the record of what was sent where, kept after the queue
-- item is gone; attempts is a JSON array of {at, status, httpStatus, ms, error}
ALTER TABLE delivery_logs
    ADD CONSTRAINT delivery_logs_status_check
        CHECK (status IN ('pending', 'delivered', 'failed', 'retrying'));
CREATE UNIQUE INDEX delivery_logs_delivery_dest_idx
    ON delivery_logs (organization_id, delivery_id, destination_id);

-- The durable queue: one item per (delivery, destination). id is the Standard Webhooks
-- webhook-id (msg_...), the same on every attempt. body is the exact bytes sent, fixed at
-- enqueue so that a retry after a crash sends what the first attempt signed. An item is claimed
-- with FOR UPDATE SKIP LOCKED by setting claim_id (a fresh uuid: the fencing token every later
-- update must match) and lease_until; a lease that runs out makes it claimable again.
ALTER TABLE delivery_queue
    ADD COLUMN delivery_id     varchar(255),
    ADD COLUMN delivery_log_id integer REFERENCES delivery_logs (id),
    ADD COLUMN body            bytea,
    ADD COLUMN content_type    varchar(255) NOT NULL DEFAULT 'application/json',
    ADD COLUMN claim_id        uuid,
    ADD COLUMN claimed_by      varchar(255),           -- host:pid/thread of the claimer
    ADD COLUMN lease_until     timestamptz,
    ADD CONSTRAINT delivery_queue_status_check
        CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'held', 'cancelled')),
    ADD CONSTRAINT delivery_queue_priority_check CHECK (priority BETWEEN 0 AND 10);
ALTER TABLE delivery_queue ALTER COLUMN scheduled_at SET DEFAULT now();
CREATE INDEX delivery_queue_due_idx ON delivery_queue (priority DESC, scheduled_at)
    WHERE status IN ('pending', 'processing');
CREATE INDEX delivery_queue_org_delivery_idx ON delivery_queue (organization_id, delivery_id);
CREATE UNIQUE INDEX delivery_queue_idempotency_unique
    ON delivery_queue (organization_id, destination_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE destination_health
    ADD COLUMN organization_id   varchar(255),
    ADD COLUMN p95_response_time integer,             -- ms, over the window
    ADD COLUMN p99_response_time integer,             -- ms, over the window
    ADD COLUMN failing_since     timestamptz,         -- start of the current run of failures
    ADD COLUMN window_started_at timestamptz,         -- the breaker's failure-rate window
    ADD COLUMN window_total      integer NOT NULL DEFAULT 0,
    ADD COLUMN window_failures   integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT destination_health_breaker_check
        CHECK (circuit_breaker_state IN ('closed', 'open', 'half-open'));
UPDATE destination_health h SET organization_id = d.organization_id
  FROM delivery_destinations d WHERE d.id = h.destination_id;
ALTER TABLE destination_health ALTER COLUMN organization_id SET NOT NULL;

ALTER TABLE webhook_secrets ADD COLUMN organization_id varchar(255);
UPDATE webhook_secrets s SET organization_id = d.organization_id
  FROM delivery_destinations d WHERE d.id = s.destination_id;
ALTER TABLE webhook_secrets ALTER COLUMN organization_id SET NOT NULL;

-- every breaker or health transition with its time (issue 18, "Must show")
CREATE TABLE destination_health_transition (
    id              bigserial    PRIMARY KEY,
    destination_id  integer      NOT NULL REFERENCES delivery_destinations (id),
    organization_id varchar(255) NOT NULL,
    at              timestamptz  NOT NULL DEFAULT now(),
    from_state      varchar(20)  NOT NULL,
    to_state        varchar(20)  NOT NULL,
    reason          text         NOT NULL
);
CREATE INDEX destination_health_transition_dest_idx
    ON destination_health_transition (destination_id, at, id);

-- tenant isolation, as for the other tenant tables (0006, 0013)
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['destination_health', 'webhook_secrets',
                             'destination_health_transition']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                       ' USING (organization_id = (SELECT auditdb_tenant()))'
                       ' WITH CHECK (organization_id = (SELECT auditdb_tenant()))', t);
    END LOOP;
END;
$$;
GRANT SELECT, INSERT, UPDATE ON destination_health, webhook_secrets TO auditdb_app;
GRANT SELECT ON destination_health_transition TO auditdb_app;
-- destinations are managed and deliveries enqueued as the tenant (0013 left auditdb_app read-only
-- on these tables)
GRANT INSERT, UPDATE, DELETE ON delivery_destinations TO auditdb_app;
GRANT INSERT, UPDATE ON delivery_logs, delivery_queue TO auditdb_app;
GRANT USAGE ON SEQUENCE delivery_destinations_id_seq, delivery_logs_id_seq TO auditdb_app;
