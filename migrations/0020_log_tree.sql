-- 0020_log_tree.sql: each organization's RFC 6962 Merkle tree over its events in chain order,
-- stored as C2SP tlog-tiles (issue 16; docs/log.md). Leaf i is the event at chain position i+1;
-- its entry is 48 bytes (public id, content hash), its leaf hash SHA-256(0x00 || entry).
-- Written only by the integrator (src/log/integrator.c) on the owner's connections, head and
-- tiles in one transaction; read by organizations through row-level security (0006/0016).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- The integrated tree of an organization: size leaves, root = MTH of them. The row is the
-- integration lock: whoever integrates holds it FOR UPDATE until head and tiles are committed.
-- backfill_to: the chain head when the tree was created; a position up to it whose event was
-- already gone (retention before the tree existed, an archive stub) gets the placeholder entry
-- (48 zero bytes, docs/log.md); a position after it must be read, or the tree waits.
CREATE TABLE audit_tree (
    organization_id varchar(255) PRIMARY KEY,
    size            bigint       NOT NULL DEFAULT 0 CHECK (size >= 0),
    root            bytea        NOT NULL CHECK (length(root) = 32),
    backfill_to     bigint       NOT NULL DEFAULT 0 CHECK (backfill_to >= 0),
    updated         timestamptz  NOT NULL DEFAULT now()
);

-- Tile (level, index) of the tlog-tiles layout: the hashes of the subtrees of 256^level leaves
-- number index*256 .. index*256+width-1. Only the latest width of a partial tile is kept: a
-- narrower one is its prefix (served by cutting, docs/log.md). Full tiles (width 256) never
-- change.
CREATE TABLE audit_tree_tile (
    organization_id varchar(255) NOT NULL,
    level           smallint     NOT NULL CHECK (level BETWEEN 0 AND 63),
    index           bigint       NOT NULL CHECK (index >= 0),
    width           smallint     NOT NULL CHECK (width BETWEEN 1 AND 256),
    hashes          bytea        NOT NULL,
    PRIMARY KEY (organization_id, level, index),
    CONSTRAINT audit_tree_tile_length CHECK (length(hashes) = 32 * width)
);

-- Entry bundle index: the 48-byte entries of leaves index*256 .. index*256+width-1, stored
-- back to back (the served bundle prefixes each with its big-endian uint16 length).
CREATE TABLE audit_tree_bundle (
    organization_id varchar(255) NOT NULL,
    index           bigint       NOT NULL CHECK (index >= 0),
    width           smallint     NOT NULL CHECK (width BETWEEN 1 AND 256),
    entries         bytea        NOT NULL,
    PRIMARY KEY (organization_id, index),
    CONSTRAINT audit_tree_bundle_length CHECK (length(entries) = 48 * width)
);

-- Append-only, as far as the service goes: a tree never shrinks, a tile or bundle only grows
-- and keeps its prefix, and nothing is deleted. A superuser can disable these triggers; what
-- catches that is the signed checkpoints outside the database (docs/log.md).
CREATE FUNCTION auditdb_tree_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_TABLE_NAME = 'audit_tree' THEN
        IF NEW.size < OLD.size OR NEW.organization_id <> OLD.organization_id THEN
            RAISE EXCEPTION 'the tree of organization "%" cannot shrink', OLD.organization_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    ELSIF TG_TABLE_NAME = 'audit_tree_tile' THEN
        IF NEW.width < OLD.width OR OLD.width = 256
           OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes
           OR (NEW.organization_id, NEW.level, NEW.index)
              IS DISTINCT FROM (OLD.organization_id, OLD.level, OLD.index) THEN
            RAISE EXCEPTION 'tile %/% of organization "%" can only grow', OLD.level, OLD.index,
                  OLD.organization_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    ELSE
        IF NEW.width < OLD.width OR OLD.width = 256
           OR substring(NEW.entries FROM 1 FOR length(OLD.entries)) <> OLD.entries
           OR (NEW.organization_id, NEW.index) IS DISTINCT FROM (OLD.organization_id, OLD.index) THEN
            RAISE EXCEPTION 'entry bundle % of organization "%" can only grow', OLD.index,
                  OLD.organization_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_tree_append_only BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION auditdb_tree_append_only();
CREATE TRIGGER audit_tree_tile_append_only BEFORE UPDATE OR DELETE ON audit_tree_tile
    FOR EACH ROW EXECUTE FUNCTION auditdb_tree_append_only();
CREATE TRIGGER audit_tree_bundle_append_only BEFORE UPDATE OR DELETE ON audit_tree_bundle
    FOR EACH ROW EXECUTE FUNCTION auditdb_tree_append_only();

-- Tenant data: an organization reads its own tree (the tiles API, proofs) and nothing else;
-- only the owner writes.
ALTER TABLE audit_tree ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_tree_tile ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_tree_bundle ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_tree
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_isolation ON audit_tree_tile
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_isolation ON audit_tree_bundle
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT ON audit_tree, audit_tree_tile, audit_tree_bundle TO auditdb_app;

-- Permission audit.log:read (tiles, consistency proofs, checkpoints, receipts) for viewers, and
-- so for auditors (who inherit viewer) and admins (*:*).
CREATE OR REPLACE FUNCTION auditdb_default_roles(p_org text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
    VALUES
        (p_org, 'viewer', 'Reads events, archives, presets and the verifiable log',
         '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"},{"resource":"audit.presets","action":"read"},{"resource":"audit.log","action":"read"}]',
         NULL),
        (p_org, 'ingest', 'Sends events and reads the presets they name',
         '[{"resource":"audit.events","action":"create"},{"resource":"audit.presets","action":"read"}]', NULL),
        (p_org, 'auditor', 'Reads, verifies, exports and reports',
         '[{"resource":"audit.events","action":"verify"},{"resource":"audit.events","action":"export"},{"resource":"reports","action":"*"}]',
         '["viewer"]'),
        (p_org, 'admin', 'Everything in the organization',
         '[{"resource":"*","action":"*"}]', NULL)
    ON CONFLICT (organization_id, name) DO NOTHING;
$$;

-- the viewer roles of organizations that exist already, unless changed by hand
UPDATE organization_role
   SET permissions = permissions || '[{"resource":"audit.log","action":"read"}]'::jsonb,
       description = 'Reads events, archives, presets and the verifiable log'
 WHERE name = 'viewer'
   AND permissions = '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"},{"resource":"audit.presets","action":"read"}]'::jsonb;
