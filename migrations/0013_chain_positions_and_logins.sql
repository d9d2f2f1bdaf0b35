-- 0013_chain_positions_and_logins.sql: a chain position is taken once, and the
-- service logs in as roles that row-level security binds (issue 14, items 2
-- and 3; docs/integrity.md "Chain positions", docs/auth.md "Database roles").
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- ===========================================================================================
-- Chain positions: (organization_id, chain_seq) unique across every partition
-- ===========================================================================================

-- audit_log is partitioned by month on "timestamp", so no unique index can span it. Every
-- position ever stored is recorded here instead, with its chain link, and is never deleted:
-- archival, retention and dropped partitions leave it, so a position can never be taken
-- twice, and the writer can check that its chain head points at the position it claims.
CREATE TABLE audit_chain_position (
    organization_id varchar(255) NOT NULL,
    chain_seq       bigint       NOT NULL,
    chain_hash      varchar(64)  NOT NULL,
    PRIMARY KEY (organization_id, chain_seq)
);

-- Fills audit_chain_position from every INSERT or COPY into audit_log that the batched writer
-- did not make, one row at a time (an archive restore, SQL). A position already recorded is
-- refused unless it is the same link coming back (archive restore) and no live row holds it.
-- SECURITY DEFINER: no service role may write positions through it.
-- The batched writer records its positions itself, later in the same transaction and under
-- its chain-head locks (src/writer/heads.c), and says so with the transaction-local setting
-- auditdb.writer_takes_positions, which the trigger's WHEN tests before any call: taken at
-- its speculative COPY, they would make two processes' writers wait for each other. (A
-- statement trigger with a transition table would be one set-based insert per batch, but it
-- makes COPY into a partitioned table insert row by row: the writer ran at half speed.)
-- Whoever sets the setting and records nothing is trusted code or a superuser, who can
-- disable this trigger anyway.
CREATE FUNCTION auditdb_take_chain_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    IF NEW.chain_seq IS NULL OR NEW.chain_hash IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_chain_position (organization_id, chain_seq, chain_hash)
    VALUES (NEW.organization_id, NEW.chain_seq, NEW.chain_hash)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND AND (
        EXISTS (SELECT 1 FROM audit_chain_position p
                 WHERE p.organization_id = NEW.organization_id AND p.chain_seq = NEW.chain_seq
                   AND p.chain_hash <> NEW.chain_hash)
        OR (SELECT count(*) FROM audit_log l
             WHERE l.organization_id = NEW.organization_id AND l.chain_seq = NEW.chain_seq) > 1) THEN
        RAISE EXCEPTION 'chain position % of organization "%" is already taken', NEW.chain_seq,
              NEW.organization_id
            USING ERRCODE = 'unique_violation',
                  HINT = 'The chain head may have been moved back: run auditdb verify.';
    END IF;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION auditdb_take_chain_position() FROM PUBLIC;

CREATE TRIGGER audit_log_chain_positions AFTER INSERT ON audit_log
    FOR EACH ROW
    WHEN (current_setting('auditdb.writer_takes_positions', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION auditdb_take_chain_position();

-- What is already stored: live rows, and each head (its row may be archived or expired).
INSERT INTO audit_chain_position (organization_id, chain_seq, chain_hash)
SELECT organization_id, chain_seq, chain_hash FROM audit_log
 WHERE chain_seq IS NOT NULL AND chain_hash IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO audit_chain_position (organization_id, chain_seq, chain_hash)
SELECT organization_id, last_seq, last_chain_hash FROM audit_chain_head WHERE last_seq > 0
ON CONFLICT DO NOTHING;

-- The writer's check before it appends, with the heads locked (src/writer/heads.c): every
-- head must stand on the position it names, with the same link, and no position may lie
-- beyond it (the batch records its own positions after this check).
-- Refuses loudly (an error in the writer's answer and in PostgreSQL's log) rather than let
-- a moved head make the writer take a position twice.
CREATE FUNCTION auditdb_check_chain_heads(p_orgs text[]) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    bad record;
BEGIN
    SELECT h.organization_id, h.last_seq,
           (SELECT max(p.chain_seq) FROM audit_chain_position p
             WHERE p.organization_id = h.organization_id) AS last_taken
      INTO bad
      FROM audit_chain_head h
     WHERE h.organization_id = ANY (p_orgs)
       AND (EXISTS (SELECT 1 FROM audit_chain_position p
                    WHERE p.organization_id = h.organization_id AND p.chain_seq > h.last_seq)
        OR (h.last_seq > 0 AND NOT EXISTS (SELECT 1 FROM audit_chain_position p
                    WHERE p.organization_id = h.organization_id AND p.chain_seq = h.last_seq
                      AND p.chain_hash = h.last_chain_hash)))
     LIMIT 1;
    IF FOUND AND coalesce(bad.last_taken, 0) <> bad.last_seq THEN
        RAISE EXCEPTION 'chain head of organization "%" is at position % but positions up to % are taken: refusing to append',
              bad.organization_id, bad.last_seq, coalesce(bad.last_taken, 0)
            USING ERRCODE = 'data_corrupted',
                  HINT = 'audit_chain_head was changed outside auditdb: run auditdb verify (docs/integrity.md).';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'chain head of organization "%" at position % does not hold that position''s chain link: refusing to append',
              bad.organization_id, bad.last_seq
            USING ERRCODE = 'data_corrupted',
                  HINT = 'audit_chain_head was changed outside auditdb: run auditdb verify (docs/integrity.md).';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION auditdb_check_chain_heads(text[]) FROM PUBLIC;

-- ===========================================================================================
-- The service's login roles
-- ===========================================================================================

-- auditdb_api: the HTTP requests' login. It can become auditdb_app and nothing else, so a
-- statement that sets the role back to session_user is still bound by row-level security.
-- auditdb_writer: the batched writer's login. COPY is refused under row-level security, so it
-- bypasses it, and holds only what the writer does (INSERT and SELECT, and the chain heads).
-- Neither is a superuser, may create roles, or belongs to a role that is or may. Created here
-- when the migrating role may (a superuser; auditdb_api also with CREATEROLE); otherwise a
-- DBA creates them first (docs/auth.md). How they authenticate is the server's pg_hba.conf
-- (docs/configuration.md: AUDIT_DB_API_URL, AUDIT_DB_WRITER_URL).
DO $$
DECLARE
    me pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO me FROM pg_roles WHERE rolname = current_user;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditdb_api') THEN
        IF me.rolsuper OR me.rolcreaterole THEN
            CREATE ROLE auditdb_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
                NOREPLICATION INHERIT IN ROLE auditdb_app;
        ELSE
            RAISE NOTICE 'role auditdb_api not created (needs CREATEROLE): see docs/auth.md';
        END IF;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditdb_writer') THEN
        IF me.rolsuper THEN
            CREATE ROLE auditdb_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS
                NOREPLICATION NOINHERIT;
        ELSE
            RAISE NOTICE 'role auditdb_writer not created (BYPASSRLS needs a superuser): see docs/auth.md';
        END IF;
    END IF;
END;
$$;

-- auditdb_app reads its tenant's rows; it writes nothing but an archive's retrieval count.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'audit_log', 'audit_chain_head', 'audit_idempotency', 'alerts', 'scheduled_reports',
        'report_templates', 'report_executions', 'delivery_destinations', 'delivery_logs',
        'delivery_queue', 'download_links', 'organization_configs', 'auth_audit_log',
        'security_events', 'rate_limit_violations', 'user_sessions', 'compliance_reports',
        'api_access_log']
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %I FROM auditdb_app', t);
    END LOOP;
END;
$$;
REVOKE INSERT ON audit_integrity_log FROM auditdb_app;
REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM auditdb_app;

-- auditdb_writer: what src/writer/ does, nothing more (grants given even when a DBA made it).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditdb_writer') THEN
        GRANT USAGE ON SCHEMA public TO auditdb_writer;
        GRANT SELECT, INSERT ON audit_log, audit_idempotency TO auditdb_writer;
        GRANT SELECT, INSERT, UPDATE ON audit_chain_head TO auditdb_writer;
        GRANT INSERT ON audit_chain_position TO auditdb_writer;
        GRANT USAGE ON SEQUENCE audit_log_id_seq TO auditdb_writer;
        GRANT EXECUTE ON FUNCTION auditdb_ensure_partition(date) TO auditdb_writer;
        GRANT EXECUTE ON FUNCTION auditdb_check_chain_heads(text[]) TO auditdb_writer;
    END IF;
END;
$$;
