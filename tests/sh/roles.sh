# roles.sh - the service's database logins (issue 14, item 3; docs/auth.md
# "Database roles"): a statement run on the connection serve reads requests
# with cannot leave its tenant by setting the role back to the session user or
# to a superuser, auditdb_app cannot change or delete the audit trail, and
# serve refuses to start when that connection is, or can become, a superuser.
. tests/lib.sh

fresh_db t_roles
"$AUDITDB_BIN" migrate >/dev/null
newkey() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
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
# a statement of org-a's transaction, set up as adb_tenant_query does
tenant="SELECT set_config('role', 'auditdb_app', true), set_config('auditdb.organization_id', 'org-a', true)"

out=$(as_api -c BEGIN -c "$tenant" -c "SELECT set_config('role', session_user, true)" \
      -c "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b'" -c COMMIT 2>&1 | tail -1)
expect_eq "set_config('role', session_user) leaves no way to org-b's rows" 0 "$out"
out=$(as_api -c BEGIN -c "$tenant" -c "SELECT set_config('role', session_user, true)" \
      -c "SELECT count(*) FROM audit_chain_head" -c COMMIT 2>&1 | tail -1)
expect_eq "…nor to org-b's chain head" 1 "$out"
if as_api -c BEGIN -c "$tenant" -c 'SET ROLE postgres' -c "SELECT count(*) FROM audit_log" -c COMMIT >/dev/null 2>&1; then
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

# auditdb_app changes nothing of the trail, not even its own tenant's rows
for stmt in "UPDATE audit_log SET status = 'x' WHERE organization_id = 'org-a'" \
            "DELETE FROM audit_log WHERE organization_id = 'org-a'" \
            "UPDATE audit_chain_head SET last_seq = 1 WHERE organization_id = 'org-a'" \
            "DELETE FROM audit_chain_head WHERE organization_id = 'org-a'" \
            "UPDATE auth_audit_log SET event_status = 'x' WHERE organization_id = 'org-a'" \
            "DELETE FROM auth_audit_log WHERE organization_id = 'org-a'" \
            "INSERT INTO audit_chain_position VALUES ('org-a', 99, 99, repeat('0', 64))"; do
    out=$(as_api -c BEGIN -c "$tenant" -c "$stmt" -c ROLLBACK 2>&1)
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
finish
