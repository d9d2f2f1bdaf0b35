-- 0013_chain_positions_and_logins.sql: a chain position is taken once, and the
-- service logs in as roles that row-level security binds (issue 14, items 2
-- and 3; docs/integrity.md "Chain positions", docs/auth.md "Database roles").
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- ===========================================================================================
-- Chain positions: (organization_id, chain_seq) taken once across every partition
-- ===========================================================================================

-- audit_log is partitioned by month on "timestamp", so no unique index can span it. The
-- positions ever taken are recorded here instead, as ranges [first_seq, last_seq] with the
-- chain link of the last, and never deleted: archival, retention and dropped partitions leave
-- them, so a position can never be taken twice, and the writer can check that its chain head
-- stands where the last range ends. The batched writer adds one range per organization and
-- batch, under that organization's chain-head lock and after checking that no range ends
-- beyond the head (auditdb_check_chain_heads below), so ranges never overlap; a row per
-- position made the writer's serial part (between the head lock and COMMIT) several times
-- longer (bench/README.md).
CREATE TABLE audit_chain_position (
    organization_id varchar(255) NOT NULL,
    first_seq       bigint       NOT NULL,
    last_seq        bigint       NOT NULL,
    last_chain_hash varchar(64)  NOT NULL,
    PRIMARY KEY (organization_id, first_seq),
    CONSTRAINT audit_chain_position_range CHECK (first_seq >= 1 AND last_seq >= first_seq)
);
CREATE UNIQUE INDEX audit_chain_position_last_idx ON audit_chain_position (organization_id, last_seq);

-- Every INSERT or COPY into audit_log that the batched writer did not make (an archive
-- restore, SQL) is checked here, row by row: a position inside a recorded range is refused
-- unless no live row holds it (an archive restore brings back the rows it removed) and, at a
-- range's end, it carries that range's link; a position outside every range becomes a range
-- of one. SECURITY DEFINER: no service role writes ranges through it. The writer records its
-- ranges itself and says so with the transaction-local setting auditdb.writer_takes_positions,
-- which the trigger's WHEN tests before any call (a statement trigger with a transition table
-- would make COPY into the partitioned table insert row by row). Whoever sets the setting and
-- records nothing is trusted code or a superuser, who can disable this trigger anyway.
CREATE FUNCTION auditdb_take_chain_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    r audit_chain_position%ROWTYPE;
BEGIN
    IF NEW.chain_seq IS NULL OR NEW.chain_hash IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO r FROM audit_chain_position p
     WHERE p.organization_id = NEW.organization_id AND p.first_seq <= NEW.chain_seq
     ORDER BY p.first_seq DESC LIMIT 1;
    IF NOT FOUND OR r.last_seq < NEW.chain_seq THEN
        INSERT INTO audit_chain_position VALUES (NEW.organization_id, NEW.chain_seq, NEW.chain_seq,
                                                 NEW.chain_hash);
    ELSIF (r.last_seq = NEW.chain_seq AND r.last_chain_hash <> NEW.chain_hash)
       OR (SELECT count(*) FROM audit_log l
            WHERE l.organization_id = NEW.organization_id AND l.chain_seq = NEW.chain_seq) > 1 THEN
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

-- What is already stored: each organization's chain up to its head (its last row may be
-- archived or expired), and live rows past it if any.
INSERT INTO audit_chain_position
SELECT organization_id, 1, last_seq, last_chain_hash FROM audit_chain_head WHERE last_seq > 0;
INSERT INTO audit_chain_position
SELECT DISTINCT ON (l.organization_id) l.organization_id, coalesce(h.last_seq, 0) + 1,
       l.chain_seq, l.chain_hash
  FROM audit_log l LEFT JOIN audit_chain_head h ON h.organization_id = l.organization_id
 WHERE l.chain_seq > coalesce(h.last_seq, 0) AND l.chain_hash IS NOT NULL
 ORDER BY l.organization_id, l.chain_seq DESC;

-- The writer's check before it appends, with the heads locked (src/writer/heads.c): every
-- head must stand where its organization's last range ends, with the same link, and no range
-- may end beyond it. Refuses loudly (an error in the writer's answer and in PostgreSQL's log)
-- rather than let a moved head make the writer take a position twice.
CREATE FUNCTION auditdb_check_chain_heads(p_orgs text[]) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    bad record;
BEGIN
    SELECT h.organization_id, h.last_seq,
           (SELECT max(p.last_seq) FROM audit_chain_position p
             WHERE p.organization_id = h.organization_id) AS last_taken
      INTO bad
      FROM audit_chain_head h
     WHERE h.organization_id = ANY (p_orgs)
       AND (EXISTS (SELECT 1 FROM audit_chain_position p
                    WHERE p.organization_id = h.organization_id AND p.last_seq > h.last_seq)
        OR (h.last_seq > 0 AND NOT EXISTS (SELECT 1 FROM audit_chain_position p
                    WHERE p.organization_id = h.organization_id AND p.last_seq = h.last_seq
                      AND p.last_chain_hash = h.last_chain_hash)))
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
