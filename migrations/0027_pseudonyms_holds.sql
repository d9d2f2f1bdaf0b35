-- 0027_pseudonyms_holds.sql: pseudonymization and erasure (issue 17, items 2 and 3; docs/gdpr.md,
-- "Pseudonymization" and "Erasure").
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- The seed's pseudonym_mapping (id, timestamp, pseudonym_id, original_id, strategy) gains the
-- organization. original_id holds the original identifier encrypted (AES-256-GCM under a key of
-- the organization derived from the master key: base64 of nonce || ciphertext || tag), never the
-- clear text; a UNIQUE index over randomized ciphertext would enforce nothing, so uniqueness and
-- lookups go through original_index, a keyed blind index (HMAC-SHA256 of the original under
-- another key of the organization). The same subject in two organizations has two unrelated
-- indexes and pseudonyms.
-- The table exists since 0001 (the seed's columns) and no code wrote it: rows there have no
-- organization and cleartext originals, which this design cannot own; they are removed.
DELETE FROM pseudonym_mapping;
DROP INDEX pseudonym_mapping_original_id_idx;   -- UNIQUE over the ciphertext: enforces nothing
ALTER TABLE pseudonym_mapping
    ALTER COLUMN "timestamp" SET DEFAULT now(),
    ADD CONSTRAINT pseudonym_mapping_strategy_check CHECK (strategy IN ('hash', 'token', 'encryption')),
    ADD COLUMN organization_id text NOT NULL,
    ADD COLUMN original_index bytea NOT NULL CHECK (octet_length(original_index) = 32),
    ADD COLUMN request_id text;
CREATE UNIQUE INDEX pseudonym_mapping_org_original_idx
    ON pseudonym_mapping (organization_id, original_index);
CREATE UNIQUE INDEX pseudonym_mapping_org_pseudonym_idx
    ON pseudonym_mapping (organization_id, pseudonym_id);
CREATE INDEX pseudonym_mapping_strategy_idx ON pseudonym_mapping (strategy);

-- Legal holds: events a hold covers may be neither erased nor pseudonymized; a request that
-- would touch one is refused (409, naming the hold). scope 'subject': events where the subject
-- appears (principalId or targetResourceId); 'principal': events whose principalId is the
-- held one. The held identifier is kept as its blind index only (same key as the mapping's).
-- action_pattern: NULL for any action, else a pattern where '*' matches any run of characters;
-- data_classification: NULL for any; until: NULL for no end.
CREATE TABLE legal_hold (
    id                  text        PRIMARY KEY DEFAULT ('hold-' || replace(gen_random_uuid()::text, '-', '')),
    organization_id     text        NOT NULL,
    scope               text        NOT NULL CHECK (scope IN ('subject', 'principal')),
    value_index         bytea       NOT NULL CHECK (octet_length(value_index) = 32),
    action_pattern      text,
    data_classification varchar(20),
    until               timestamptz,
    reason              text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    released_at         timestamptz
);
CREATE INDEX legal_hold_org_idx ON legal_hold (organization_id) WHERE released_at IS NULL;

ALTER TABLE pseudonym_mapping ENABLE ROW LEVEL SECURITY;
ALTER TABLE legal_hold ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pseudonym_mapping
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_isolation ON legal_hold
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- Pseudonymization, erasure and holds run on the owner's connection (they rewrite audit_log
-- and archives, which the request login may not); the request login may only read holds.
GRANT SELECT ON legal_hold TO auditdb_app;
