-- 0021_log_checkpoints.sql: the signed checkpoints of each organization's Merkle tree
-- (docs/checkpoints.md). One row per checkpoint the log signed: the organization, the tree size
-- and root it commits to, and the whole signed note (C2SP signed-note: the checkpoint body, the
-- log's signature line and the witnesses' cosignature lines as they arrive). This table is a
-- copy for readers (GET /api/v1/audit/log/checkpoint); the signer's own memory of what it signed
-- is the file under AUDITDB_CHECKPOINT_DIR, outside the database, so that a superuser who
-- rewrites these rows cannot make the log sign a history inconsistent with its last checkpoint.
-- Tenant data: row-level security as every organization's table (0006, proven since 0016).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE log_checkpoint (
    organization_id  text        NOT NULL,
    tree_size        bigint      NOT NULL CHECK (tree_size >= 0),
    root_hash        bytea       NOT NULL CHECK (length(root_hash) = 32),
    note             text        NOT NULL,                  -- the signed note, with cosignatures
    cosignatures     integer     NOT NULL DEFAULT 0 CHECK (cosignatures >= 0),
    signed_at        timestamptz NOT NULL DEFAULT now(),
    cosigned_at      timestamptz,                           -- the last cosignature added
    PRIMARY KEY (organization_id, tree_size)
);

ALTER TABLE log_checkpoint ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON log_checkpoint
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- requests read their organization's checkpoints; only the owner (the checkpointer) writes
GRANT SELECT ON log_checkpoint TO auditdb_app;
