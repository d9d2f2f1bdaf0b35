-- 0004_signing_key.sql: which master key signs this database's events.
-- A server registers the fingerprint of its key (HKDF-derived, never the key
-- itself) on start and refuses to start when the database already names a
-- different active key: events signed with two keys would fail verification.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE auditdb_signing_key (
    fingerprint char(32)    PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
