-- 0019_preset_versions_usage.sql: presets managed through the API (issue 15, docs/presets.md).
-- audit_preset keeps the seed's columns (ingestion reads action, data_classification,
-- required_fields and default_values); two columns are added: spec, the preset as the API
-- shows it (template, validation, tags, enabled...), and version, the number of its current
-- version. Every create, update and restore writes a row of audit_preset_version; usage is
-- counted in memory and added to audit_preset_usage in batches (one row per organization,
-- preset, principal and hour). Organizations read their own rows and the shared '*' presets,
-- and write only their own. Runs in the migration runner's transaction.

ALTER TABLE audit_preset ADD COLUMN spec jsonb;
ALTER TABLE audit_preset ADD COLUMN version integer NOT NULL DEFAULT 1;

-- The API's document of a preset row: spec when the API wrote it, else one built from the
-- seed's columns (the eight shared presets, rows written by SQL).
CREATE FUNCTION auditdb_preset_spec(p audit_preset) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(p.spec, jsonb_strip_nulls(jsonb_build_object(
        'name', p.name,
        'description', p.description,
        'template', jsonb_build_object(
            'action', p.action,
            'targetResourceType', coalesce(p.default_values ->> 'targetResourceType', '*'),
            'dataClassification', p.data_classification,
            'defaultValues', p.default_values),
        'validation', jsonb_build_object(
            'requiredFields', coalesce(p.required_fields, '[]'::jsonb),
            'optionalFields', '[]'::jsonb,
            'fieldValidation', '{}'::jsonb),
        'metadata', jsonb_build_object('tags', '[]'::jsonb),
        'enabled', true,
        'deprecated', false)))
$$;

CREATE TABLE audit_preset_version (
    id              bigserial    PRIMARY KEY,
    organization_id varchar(255) NOT NULL,
    name            varchar(255) NOT NULL,
    version         integer      NOT NULL,
    spec            jsonb        NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    created_by      varchar(255) NOT NULL,
    change_log      text
);
CREATE UNIQUE INDEX audit_preset_version_unique ON audit_preset_version (organization_id, name, version);

-- every preset present starts with its version 1
INSERT INTO audit_preset_version (organization_id, name, version, spec, created_at, created_by, change_log)
SELECT p.organization_id, p.name, p.version, auditdb_preset_spec(p), p.created_at, p.created_by,
       'as found by migration 0019'
  FROM audit_preset p;

CREATE TABLE audit_preset_usage (
    organization_id varchar(255) NOT NULL,
    name            varchar(255) NOT NULL,
    principal_id    varchar(255) NOT NULL,  -- '' for events without one
    period_start    timestamptz  NOT NULL,  -- the hour of the uses
    uses            bigint       NOT NULL DEFAULT 0,
    failures        bigint       NOT NULL DEFAULT 0,
    timed           bigint       NOT NULL DEFAULT 0,  -- applications through the API, timed
    time_ms         double precision NOT NULL DEFAULT 0,
    last_used       timestamptz,
    PRIMARY KEY (organization_id, name, period_start, principal_id)
);

-- Tenants: their own rows and the shared ones for reading, their own rows for writing.
ALTER TABLE audit_preset ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON audit_preset FOR SELECT
    USING (organization_id = '*' OR organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_insert ON audit_preset FOR INSERT
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_update ON audit_preset FOR UPDATE
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_delete ON audit_preset FOR DELETE
    USING (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_preset TO auditdb_app;

ALTER TABLE audit_preset_version ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON audit_preset_version FOR SELECT
    USING (organization_id = '*' OR organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_insert ON audit_preset_version FOR INSERT
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
CREATE POLICY tenant_delete ON audit_preset_version FOR DELETE
    USING (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT, INSERT, DELETE ON audit_preset_version TO auditdb_app;

-- usage is written by the service's owner connection (the batched flush); tenants read theirs
-- and forget it with a deleted preset
ALTER TABLE audit_preset_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_preset_usage
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
GRANT SELECT, DELETE ON audit_preset_usage TO auditdb_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO auditdb_app;

-- A changed preset wakes every server's watcher (the auth channel, payload 'audit_preset'),
-- which marks its preset snapshot stale: a change reaches ingestion in every process at once.
CREATE TRIGGER audit_preset_changed
    AFTER INSERT OR UPDATE OR DELETE ON audit_preset
    FOR EACH STATEMENT EXECUTE FUNCTION auditdb_notify_auth_change();

-- Permissions (docs/auth.md): reading presets is a reader's and a sender's (an ingest key
-- names presets in its events); writing them is audit.presets:write (admin's *:*).
CREATE OR REPLACE FUNCTION auditdb_default_roles(p_org text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO organization_role (organization_id, name, description, permissions, inherits)
    VALUES
        (p_org, 'viewer', 'Reads events, archives and presets',
         '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"},{"resource":"audit.presets","action":"read"}]',
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

-- the default roles of organizations that exist already, unless changed by hand
UPDATE organization_role
   SET permissions = permissions || '[{"resource":"audit.presets","action":"read"}]'::jsonb
 WHERE (name = 'viewer' AND permissions = '[{"resource":"audit.events","action":"read"},{"resource":"archives","action":"read"}]'::jsonb)
    OR (name = 'ingest' AND permissions = '[{"resource":"audit.events","action":"create"}]'::jsonb);
