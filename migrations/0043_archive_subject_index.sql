-- 0043_archive_subject_index.sql: an index of the data subjects in each archive (issue 17), so
-- that a GDPR export or a HIPAA accounting over archives opens only the archives that hold the
-- subject's events instead of every archive of the organization (docs/archive.md, "Subject
-- index"). One row per (archive, identifier) for every distinct principal_id and
-- target_resource_id in the archive, keyed by the identifier's blind index: HMAC-SHA256 under the
-- organization's subject index key (src/compliance/subject_key.h, the index data-subject
-- requests, legal holds and pseudonym_mapping use), which the database cannot compute or
-- reverse, so the table names no one. archive_storage.subjects_indexed says an archive's rows
-- are complete; an archive without it (written before this migration, by a server without a
-- master key, or rewritten since) is read in full, as before.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE archive_storage ADD COLUMN subjects_indexed boolean NOT NULL DEFAULT false;

CREATE TABLE archive_subject_index (
    organization_id varchar(255) NOT NULL,
    subject_index   bytea        NOT NULL,   -- adb__subject_index of the identifier (32 bytes)
    archive_id      varchar(255) NOT NULL REFERENCES archive_storage (id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, subject_index, archive_id),
    CONSTRAINT archive_subject_index_len CHECK (length(subject_index) = 32)
);
CREATE INDEX archive_subject_index_archive_idx ON archive_subject_index (archive_id);

ALTER TABLE archive_subject_index ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON archive_subject_index
    USING (organization_id = (SELECT auditdb_tenant()))
    WITH CHECK (organization_id = (SELECT auditdb_tenant()));
-- tenants read it (exports, accountings); archiving, the owner's job, writes it
GRANT SELECT ON archive_subject_index TO auditdb_app;

-- An archive whose events change after it was indexed (an erasure or pseudonymization rewrites
-- its payload, retention replaces it by a stub) loses its index: its rows are removed and it is
-- read in full again, never skipped on an index that no longer describes it.
CREATE FUNCTION auditdb_archive_unindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.payload IS DISTINCT FROM OLD.payload OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
       OR NEW.organization_id IS DISTINCT FROM OLD.organization_id THEN
        NEW.subjects_indexed := false;
        DELETE FROM archive_subject_index WHERE archive_id = OLD.id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER archive_storage_unindex BEFORE UPDATE ON archive_storage
    FOR EACH ROW EXECUTE FUNCTION auditdb_archive_unindex();
