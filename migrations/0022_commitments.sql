-- 0022_commitments.sql: the canonical form sha256-c14n-v3 (issue 16, Deliver 7;
-- docs/integrity.md, sections 2b and 8). Its hash covers a commitment to each personal-data
-- field instead of the value, so that a lawful erasure (issue 17) can delete a value and its key
-- while hash, chain link and Merkle leaf stay as they were.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- The event's commitment key: 32 random bytes in hex, drawn when the event is built. NULL for
-- events stored under sha256-c14n-v1/v2 and SHA-256, and once an erasure has deleted it. Added
-- to the partitioned parent (every partition gets it, as 0017 did for event_id); nullable and
-- without a default, so adding it rewrites nothing.
ALTER TABLE audit_log ADD COLUMN commit_key text;

-- After an erasure: the keys of the fields that keep their value (field name -> 64 hex), since
-- the event key that derived them is gone with the erased field's. NULL until then.
ALTER TABLE audit_log ADD COLUMN commit_field_keys jsonb;

-- Signed records of lawful erasures: one per event and erased field. The record keeps the
-- erased field's commitment, which the event's hash still covers; signature =
-- HMAC-SHA256(K_sig, the record's canonical JSON), so nobody without the key can make one.
CREATE TABLE audit_erasure (
    id               bigserial   PRIMARY KEY,
    organization_id  text        NOT NULL,
    event_id         uuid        NOT NULL,
    field            text        NOT NULL,  -- "principalId", "details.ipAddress", ...
    commitment       text        NOT NULL,  -- 64 lowercase hex
    request_id       text        NOT NULL,  -- the data-subject request that ordered it
    legal_basis      text        NOT NULL,  -- e.g. "GDPR Art. 17(1)(a)"
    reason           text,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    signature        text        NOT NULL
);
CREATE UNIQUE INDEX audit_erasure_event_field_idx ON audit_erasure (event_id, field);
CREATE INDEX audit_erasure_org_idx ON audit_erasure (organization_id, erased_at);

ALTER TABLE audit_erasure ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_erasure
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- Records are written by the erasure (issue 17) as the tenant and never changed or deleted.
GRANT SELECT, INSERT ON audit_erasure TO auditdb_app;
GRANT USAGE ON SEQUENCE audit_erasure_id_seq TO auditdb_app;
