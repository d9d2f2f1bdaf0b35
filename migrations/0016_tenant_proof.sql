-- 0016_tenant_proof.sql: the tenant setting cannot be forged (issue 14, item 3; docs/auth.md
-- "Tenant proof"). Until now every tenant_isolation policy trusted auditdb.organization_id, a
-- setting any statement can change with set_config. The service now also sets
-- auditdb.tenant_proof = hex(HMAC-SHA256(secret, organization_id || E'\n' || backend pid)),
-- with a secret that only the owner can read; the policies admit a row only for the organization
-- whose proof holds (auditdb_tenant() below), so a statement that changes the setting sees no
-- rows. The backend pid in the message binds a proof to its connection.
-- HMAC-SHA256 is built from the builtin sha256(bytea): no extension needed.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- One row. secret: 32 bytes from pg_strong_random (two random UUIDs, 244 random bits, hashed);
-- ipad, opad: the HMAC key blocks (secret padded to 64 bytes, XOR 0x36 and 0x5c), kept so that
-- a proof costs two sha256 calls. Only the owner reads it: no grant to anyone.
CREATE TABLE auditdb_tenant_secret (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret bytea NOT NULL CHECK (length(secret) = 32),
    ipad   bytea NOT NULL CHECK (length(ipad) = 64),
    opad   bytea NOT NULL CHECK (length(opad) = 64)
);
REVOKE ALL ON auditdb_tenant_secret FROM PUBLIC;

DO $$
DECLARE
    k bytea := sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'));
    pad bytea := k || '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    i bytea := pad;
    o bytea := pad;
BEGIN
    FOR n IN 0..63 LOOP
        i := set_byte(i, n, get_byte(pad, n) # 54);  -- 0x36
        o := set_byte(o, n, get_byte(pad, n) # 92);  -- 0x5c
    END LOOP;
    INSERT INTO auditdb_tenant_secret VALUES (true, k, i, o);
END;
$$;

-- The proof of organization p_org on backend p_pid. The owner's only (tests, operators' psql
-- sessions): anyone who may call it can prove any organization.
CREATE FUNCTION auditdb_tenant_proof(p_org text, p_pid integer DEFAULT pg_backend_pid())
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT encode(sha256(s.opad || sha256(s.ipad || convert_to(p_org || E'\n' || p_pid, 'UTF8'))),
                  'hex')
      FROM public.auditdb_tenant_secret s
$$;
REVOKE ALL ON FUNCTION auditdb_tenant_proof(text, integer) FROM PUBLIC;

-- The organization this transaction may see: auditdb.organization_id when auditdb.tenant_proof
-- is its proof on this backend, else NULL (a policy comparing with NULL admits no row).
-- SECURITY DEFINER: it reads the secret for its caller and returns nothing of it. The policies
-- call it as a scalar subquery, (SELECT auditdb_tenant()): one InitPlan per statement, so the
-- HMAC is computed once per query and an index on organization_id still applies.
CREATE FUNCTION auditdb_tenant()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT current_setting('auditdb.organization_id', true)
      FROM public.auditdb_tenant_secret s
     WHERE current_setting('auditdb.tenant_proof', true)
           = encode(sha256(s.opad || sha256(s.ipad
                 || convert_to(current_setting('auditdb.organization_id', true) || E'\n'
                               || pg_backend_pid(), 'UTF8'))), 'hex')
$$;
REVOKE ALL ON FUNCTION auditdb_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auditdb_tenant() TO auditdb_app;

-- Every tenant_isolation policy, found in the catalog (0006's tables, 0009's archive_storage,
-- any added since), now compares with the proven organization.
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT schemaname, tablename FROM pg_policies
              WHERE policyname = 'tenant_isolation' AND schemaname = 'public' LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %I.%I'
                       ' USING (organization_id = (SELECT auditdb_tenant()))'
                       ' WITH CHECK (organization_id = (SELECT auditdb_tenant()))',
                       p.schemaname, p.tablename);
    END LOOP;
END;
$$;
