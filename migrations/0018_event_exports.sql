-- 0018_event_exports.sql: asynchronous exports of an organization's events (docs/exports.md).
-- audit_export is the ledger of exports (one row per POST /api/v1/audit/events/export, kept after
-- its file expires: who exported what, when, how many events, the file's checksum);
-- audit_export_chunk holds the file itself, in pieces of at most 256 KiB written by the export
-- worker and streamed back one at a time by the download. Both are tenant data: row-level
-- security as every organization's table (0006, proven organization since 0016).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE TABLE audit_export (
    id               text        PRIMARY KEY,               -- 'export-' || a random UUID
    organization_id  text        NOT NULL,
    requested_by     text        NOT NULL,                  -- the public id of the API key
    request_id       text,
    state            text        NOT NULL DEFAULT 'pending'
        CONSTRAINT audit_export_state_check
        CHECK (state IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired')),
    format           text        NOT NULL CHECK (format IN ('json', 'csv', 'xml')),
    compression      text        NOT NULL CHECK (compression IN ('gzip', 'none')),
    options          jsonb       NOT NULL DEFAULT '{}',     -- includeMetadata, includeHeaders, customFields
    filter           jsonb       NOT NULL DEFAULT '{}',     -- the validated filter (docs/exports.md)
    estimated_count  bigint,                                -- the planner's, for progress
    record_count     bigint      NOT NULL DEFAULT 0,
    data_size        bigint      NOT NULL DEFAULT 0,        -- bytes of the file (compressed)
    chunk_count      integer     NOT NULL DEFAULT 0,
    checksum         text,                                  -- SHA-256 of the file, hex
    error            text,
    cancel_requested boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,                           -- the worker's last sign of life
    finished_at      timestamptz,
    expires_at       timestamptz
);
CREATE INDEX audit_export_org_created_idx ON audit_export (organization_id, created_at DESC);
CREATE INDEX audit_export_queue_idx ON audit_export (created_at) WHERE state IN ('pending', 'processing');
CREATE INDEX audit_export_expiry_idx ON audit_export (expires_at) WHERE state = 'completed';

CREATE TABLE audit_export_chunk (
    export_id        text        NOT NULL REFERENCES audit_export (id) ON DELETE CASCADE,
    seq              integer     NOT NULL CHECK (seq >= 0),
    organization_id  text        NOT NULL,
    data             bytea       NOT NULL,
    PRIMARY KEY (export_id, seq)
);

ALTER TABLE audit_export ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_export_chunk ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_export
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_isolation ON audit_export_chunk
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- The request login (as auditdb_app) queues, reads and cancels its organization's exports and
-- the worker writes chunks and progress as the tenant; neither may delete: the ledger outlives
-- the file, and deleting chunks (a failed, cancelled or expired file) is the owner's.
GRANT SELECT, INSERT ON audit_export, audit_export_chunk TO auditdb_app;
GRANT UPDATE (state, error, cancel_requested, finished_at, record_count, data_size, chunk_count,
              heartbeat_at) ON audit_export TO auditdb_app;
