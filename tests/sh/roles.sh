# roles.sh - the service's database logins (issue 14, item 3; docs/auth.md
# "Database roles"): a statement run on the connection serve reads requests
# with cannot leave its tenant by setting the role back to the session user or
# to a superuser, auditdb_app cannot change or delete the audit trail, and
# serve refuses to start when that connection is, or can become, a superuser.
. tests/lib.sh

fresh_db t_roles
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
B_ADMIN=$(newkey org-b admin)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"eventData":{"timestamp":"%s","action":"%s","status":"success","principalId":"doc-1"}}' "$now" "$1"; }
http POST /api/v1/audit/events -H "X-API-Key: $B_ADMIN" -H 'Content-Type: application/json' --data-binary "$(ev b.read)"
expect_eq "the writer stores org-b's event" 201 "$HTTP_STATUS"
for k in 1 2 3; do
    http POST /api/v1/audit/events -H "X-API-Key: $A_ADMIN" -H 'Content-Type: application/json' --data-binary "$(ev a.read)"
done
expect_eq "the writer stores org-a's events" 201 "$HTTP_STATUS"
id_a=$(jbody 'd["id"]')
http GET "/api/v1/audit/events/$id_a" -H "X-API-Key: $B_ADMIN"
http GET "/api/v1/audit/events/$id_a" -H "X-API-Key: $A_ADMIN"
expect_eq "org-a reads its event" 200 "$HTTP_STATUS"

# the login serve read that event with: the backend whose last statement did
api_user=$(sql "SELECT usename FROM pg_stat_activity WHERE datname = current_database()
                 AND application_name = 'auditdb' AND pid <> pg_backend_pid()
                 AND query ILIKE '%FROM audit_log WHERE organization_id = \$1%' LIMIT 1")
expect_match "serve's request connection is found" '.' "$api_user"
diag "request login: $api_user"
as_api() { psql "$AUDIT_DB_URL user=$api_user" -qAtX -v ON_ERROR_STOP=1 "$@"; }
# tenant_sql ORG [PROOF_ORG [PROOF_PID]]: a psql script that sets up ORG's
# transaction as adb_tenant_query does, on the request login, with the proof
# the service computes (the owner's auditdb_tenant_proof; docs/auth.md,
# "Tenant proof") of PROOF_ORG (default ORG) for backend PROOF_PID (default:
# this session's backend). Run it with -f after BEGIN.
tenant_sql() {
    f="$TEST_TMP/tenant-$1-${2:-$1}-${3:-own}.sql"
    {
        echo "SELECT pg_backend_pid() AS pid \\gset"
        echo "\\set proof \`psql \"\$AUDIT_DB_URL\" -qAtX -c \"SELECT auditdb_tenant_proof('${2:-$1}', ${3:-:pid})\"\`"
        echo "SELECT set_config('role', 'auditdb_app', true), set_config('auditdb.organization_id', '$1', true),"
        echo "       set_config('auditdb.tenant_proof', :'proof', true);"
    } >"$f"
    echo "$f"
}
tenant=$(tenant_sql org-a)

out=$(as_api -c BEGIN -f "$tenant" -c "SELECT set_config('role', session_user, true)" \
      -c "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b'" -c COMMIT 2>&1 | tail -1)
expect_eq "set_config('role', session_user) leaves no way to org-b's rows" 0 "$out"
out=$(as_api -c BEGIN -f "$tenant" -c "SELECT set_config('role', session_user, true)" \
      -c "SELECT count(*) FROM audit_chain_head" -c COMMIT 2>&1 | tail -1)
expect_eq "…nor to org-b's chain head" 1 "$out"
if as_api -c BEGIN -f "$tenant" -c 'SET ROLE postgres' -c "SELECT count(*) FROM audit_log" -c COMMIT >/dev/null 2>&1; then
    not_ok "SET ROLE postgres is refused"
else
    ok "SET ROLE postgres is refused"
fi
if as_api -c 'RESET ROLE' -c 'SET ROLE postgres' -c "SELECT 1" >/dev/null 2>&1; then
    not_ok "…outside a tenant transaction too"
else
    ok "…outside a tenant transaction too"
fi
expect_eq "the request login is no superuser and cannot become one" 0 \
    "$(sql "SELECT count(*) FROM pg_roles WHERE pg_has_role('$api_user', oid, 'MEMBER') AND (rolsuper OR rolcreaterole OR rolbypassrls)")"

# the tenant setting cannot be forged (docs/auth.md, "Tenant proof"): with org-a's
# proof, a statement that sets the organization to org-b sees none of org-b's
# rows in any table under tenant_isolation, nor does a proof made up, org-a's
# proof, or org-b's proof for another backend; the secret stays unreadable
# (the policies fenced off first: the privilege check must not meet other relations, such as
# TOAST tables outside the search path, which a plan may show it before the filter)
tables=$(sql "SELECT tablename FROM (SELECT schemaname, tablename FROM pg_policies
               WHERE policyname = 'tenant_isolation' OFFSET 0) p
               WHERE has_table_privilege('auditdb_app', format('%I.%I', schemaname, tablename), 'SELECT') ORDER BY 1")
expect_match "the tenant tables are found" 'audit_log' "$tables"
# tenant tables only the owner's connections read (pseudonym_mapping, docs/gdpr.md): closed to
# auditdb_app altogether, org-a's rows included
closed=$(sql "SELECT tablename FROM (SELECT schemaname, tablename FROM pg_policies
               WHERE policyname = 'tenant_isolation' OFFSET 0) p
               WHERE NOT has_table_privilege('auditdb_app', format('%I.%I', schemaname, tablename), 'SELECT') ORDER BY 1")
for t in $closed; do
    out=$(as_api -c BEGIN -f "$tenant" -c "SELECT count(*) FROM $t" -c COMMIT 2>&1)
    expect_match "$t: closed to the request login even with a proof" 'permission denied' "$out"
done
count_all=$(for t in $tables; do printf "(SELECT count(*) FROM %s) + " "$t"; done)
count_all="SELECT ${count_all}0"
out=$(as_api -c BEGIN -f "$tenant" -c "SELECT count(*) FROM audit_log" -c COMMIT 2>&1 | tail -1)
expect_eq "with its proof, org-a reads its events" 3 "$out"
out=$(as_api -c BEGIN -f "$tenant" -c "SELECT set_config('auditdb.organization_id', 'org-b', true)" \
      -c "SELECT count(*) FROM audit_log" -c COMMIT 2>&1 | tail -1)
expect_eq "set_config('auditdb.organization_id', 'org-b') leaves no way to org-b's events" 0 "$out"
out=$(as_api -c BEGIN -f "$tenant" -c "SELECT set_config('auditdb.organization_id', 'org-b', true)" \
      -c "$count_all" -c COMMIT 2>&1 | tail -1)
expect_eq "…nor to any row of org-b's $(echo $tables | wc -w) tenant tables" 0 "$out"
out=$(as_api -c BEGIN -f "$(tenant_sql org-b org-a)" -c "$count_all" -c COMMIT 2>&1 | tail -1)
expect_eq "org-a's proof does not prove org-b" 0 "$out"
out=$(as_api -c BEGIN -f "$tenant" -c "SELECT set_config('auditdb.organization_id', 'org-b', true),
      set_config('auditdb.tenant_proof', encode(sha256('org-b'), 'hex'), true)" -c "$count_all" -c COMMIT 2>&1 | tail -1)
expect_eq "a forged proof proves nothing" 0 "$out"
out=$(as_api -c BEGIN -f "$(tenant_sql org-b org-b 1)" -c "$count_all" -c COMMIT 2>&1 | tail -1)
expect_eq "org-b's proof for another backend proves nothing here" 0 "$out"
out=$(as_api -c BEGIN -f "$(tenant_sql org-b)" -c "SELECT count(*) FROM audit_log" -c COMMIT 2>&1 | tail -1)
expect_eq "(org-b's own proof on this backend reads org-b's event)" 1 "$out"
for stmt in "SELECT * FROM auditdb_tenant_secret" "SELECT auditdb_tenant_proof('org-b')"; do
    out=$(as_api -c "$stmt" 2>&1)
    expect_match "the request login may not: $stmt" 'permission denied' "$out"
    out=$(as_api -c BEGIN -f "$tenant" -c "$stmt" -c ROLLBACK 2>&1)
    expect_match "…nor as auditdb_app: $stmt" 'permission denied' "$out"
done

# auditdb_app changes nothing of the trail, not even its own tenant's rows
for stmt in "UPDATE audit_log SET status = 'x' WHERE organization_id = 'org-a'" \
            "DELETE FROM audit_log WHERE organization_id = 'org-a'" \
            "UPDATE audit_chain_head SET last_seq = 1 WHERE organization_id = 'org-a'" \
            "DELETE FROM audit_chain_head WHERE organization_id = 'org-a'" \
            "UPDATE auth_audit_log SET event_status = 'x' WHERE organization_id = 'org-a'" \
            "DELETE FROM auth_audit_log WHERE organization_id = 'org-a'" \
            "INSERT INTO audit_chain_position VALUES ('org-a', 99, 99, repeat('0', 64))"; do
    out=$(as_api -c BEGIN -f "$tenant" -c "$stmt" -c ROLLBACK 2>&1)
    expect_match "as auditdb_app refused: ${stmt%% WHERE*}" 'permission denied' "$out"
done
expect_eq "org-a's events are all there" 3 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND status = 'success'")"

# the writer's login: no superuser either, and nothing beyond the writer's grants
# (serve's connections are the owner's, the request login's and the writer's)
writer_user=$(sql "SELECT coalesce(max(usename), current_user) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'auditdb'
                    AND usename NOT IN ('$api_user', current_user)")
diag "writer login: $writer_user"
expect_eq "the writer login is no superuser and cannot become one" 0 \
    "$(sql "SELECT count(*) FROM pg_roles WHERE pg_has_role('$writer_user', oid, 'MEMBER') AND (rolsuper OR rolcreaterole)")"
out=$(psql "$AUDIT_DB_URL user=$writer_user" -qAtX -v ON_ERROR_STOP=1 -c "DELETE FROM audit_log" 2>&1)
expect_match "the writer login may not delete events" 'permission denied' "$out"
stop_serve >/dev/null 2>&1

# serve refuses a request login that is a superuser, or can become one
AUDIT_DB_API_URL="$AUDIT_DB_URL" "$AUDITDB_BIN" serve --listen 127.0.0.1:0 >"$TEST_TMP/su.out" 2>&1 &
pid=$!
i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then
    kill $pid; wait $pid
    not_ok "serve refuses a superuser request login"
else
    wait $pid; rc=$?
    expect_match "serve refuses a superuser request login (exit $rc)" 'request login "postgres".*superuser' "$(cat "$TEST_TMP/su.out")"
fi
sql "SET client_min_messages = warning; DROP ROLE IF EXISTS t_roles_sneaky; DROP ROLE IF EXISTS t_roles_admin;
     CREATE ROLE t_roles_admin NOLOGIN CREATEROLE; CREATE ROLE t_roles_sneaky LOGIN IN ROLE auditdb_app, t_roles_admin" >/dev/null
AUDIT_DB_API_URL="$AUDIT_DB_URL user=t_roles_sneaky" "$AUDITDB_BIN" serve --listen 127.0.0.1:0 >"$TEST_TMP/cr.out" 2>&1 &
pid=$!
i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then
    kill $pid; wait $pid
    not_ok "serve refuses a request login that can become a role creator"
else
    wait $pid
    expect_match "serve refuses a request login that can become a role creator" 't_roles_admin \(createrole\)' "$(cat "$TEST_TMP/cr.out")"
fi
sql "DROP ROLE t_roles_sneaky; DROP ROLE t_roles_admin" >/dev/null
# "_process" holds the service's own alerts (docs/monitoring.md): no organization may take it
"$AUDITDB_BIN" keys create --org _process --role admin >/dev/null 2>"$TEST_TMP/err"
expect_eq "keys create --org _process: refused (exit 2)" 2 $?
expect_match "...the reserved prefix named" 'starting with "_" are reserved' "$(cat "$TEST_TMP/err")"
expect_eq "...no organization row written" 0 "$(sql "SELECT count(*) FROM organization WHERE id = '_process'")"
finish
