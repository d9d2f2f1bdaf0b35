# embedded.sh - the embedded cluster: first start, /health, one owner per
# folder, recovery after kill -9 (postmaster left running; stale pid file),
# operator commands, missing binaries, and a database that goes away and
# comes back under a running server.
. tests/lib.sh
unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"

pm_pid() { head -n 1 "$AUDITDB_HOME/pg/postmaster.pid" 2>/dev/null; }
# alive PID: a running process (zombies waiting to be reaped do not count)
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! awk '{ exit !($3 == "Z") }' "/proc/$1/stat"; }
# gone PID: waits up to 5 s for PID to exit
gone() { i=0; while alive "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; ! alive "$1"; }

if start_serve "$TEST_TMP/s1.log"; then ok "first serve: initdb, start, migrate"; else
    not_ok "first serve: initdb, start, migrate"; diag "$(cat "$TEST_TMP/s1.log")"; finish; fi
http GET /health
expect_eq "embedded /health 200" 200 "$HTTP_STATUS"
expect_eq "embedded /health mode" embedded "$(jbody 'd["checks"]["database"]["mode"]')"
expect_eq "no TCP port: listen_addresses is empty" "" "$("$AUDITDB_BIN" db psql -qAtX -c 'SHOW listen_addresses')"
expect_eq "socket directory is private" 700 "$(stat -c %a "$AUDITDB_HOME/run")"
first_pid=$SERVE_PID

out=$("$AUDITDB_BIN" db status); rc=$?
expect_eq "db status while serving: exit 0" 0 "$rc"
expect_match "db status names the owner" "owner: +auditdb pid $first_pid" "$out"

err=$(timeout 30 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
expect_eq "second serve on the same folder: exit 3" 3 "$rc"
expect_match "second serve: says who owns it" "another auditdb process \(pid $first_pid\) owns the embedded database" "$err"
err=$("$AUDITDB_BIN" db stop 2>&1); rc=$?
expect_eq "db stop while owned: refused" 3 "$rc"
expect_match "db stop while owned: message" "owns the embedded database" "$err"
out=$("$AUDITDB_BIN" migrate status); rc=$?
expect_eq "a CLI command joins the running cluster as a guest" 0 "$rc"

# kill -9 of auditdb: the postmaster stays, the next serve adopts it
pm=$(pm_pid)
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
check "after kill -9 the postmaster is left running" alive "$pm"
if start_serve "$TEST_TMP/s2.log"; then ok "serve after kill -9 starts"; else
    not_ok "serve after kill -9 starts"; diag "$(cat "$TEST_TMP/s2.log")"; fi
http GET /health
expect_eq "serve after kill -9: /health 200" 200 "$HTTP_STATUS"
expect_eq "serve after kill -9 adopted the same postmaster" "$pm" "$(pm_pid)"
stop_serve TERM; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
check "the owner stops the cluster on exit" gone "$pm"
out=$("$AUDITDB_BIN" db status); rc=$?
expect_eq "db status after exit: stopped (exit 3)" 3 "$rc"

# kill -9 of both auditdb and the postmaster: a stale postmaster.pid
start_serve "$TEST_TMP/s3.log"
pm=$(pm_pid)
kill -9 "$SERVE_PID" "$pm"; wait "$SERVE_PID" 2>/dev/null
gone "$pm"
check "stale postmaster.pid left behind" test -f "$AUDITDB_HOME/pg/postmaster.pid"
if start_serve "$TEST_TMP/s4.log"; then ok "serve recovers from a stale pid file"; else
    not_ok "serve recovers from a stale pid file"; diag "$(cat "$TEST_TMP/s4.log")"; fi
http GET /health
expect_eq "after crash recovery: /health 200" 200 "$HTTP_STATUS"
stop_serve TERM

# operator commands: db start leaves it running for later commands and serves
out=$("$AUDITDB_BIN" db start); rc=$?
expect_eq "db start exits 0" 0 "$rc"
expect_eq "db psql runs SQL" 1 "$("$AUDITDB_BIN" db psql -qAtX -c 'SELECT 1')"
start_serve "$TEST_TMP/s5.log"
stop_serve TERM
out=$("$AUDITDB_BIN" db status); rc=$?
expect_eq "a cluster started by db start outlives serve" 0 "$rc"

# the database goes away under a running server and comes back
ext_home=$AUDITDB_HOME
export AUDIT_DB_URL="host=$ext_home/run port=5432 user=postgres dbname=auditdb"
start_serve "$TEST_TMP/s6.log"
key=$(cat "$AUDITDB_HOME/admin.key")
op=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"before.outage","status":"success"}}'
expect_eq "database up: event stored (201)" 201 "$HTTP_STATUS"
http GET /health/detailed -H "X-API-Key: $op"
expect_eq "database up: /health/detailed 200 healthy" "200 healthy" "$HTTP_STATUS $(jbody 'd["status"]')"
AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null
hdr=$(curl -s -D - -o "$TEST_TMP/503.json" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"during.outage","status":"success"}}' "$BASE_URL/api/v1/audit/events")
expect_match "database down: a write gets 503" 'HTTP/1.1 503' "$hdr"
expect_match "database down: with Retry-After" 'Retry-After: [0-9]+' "$hdr"
http GET /health
expect_eq "database down: /health 503" 503 "$HTTP_STATUS"
expect_eq "database down: reported down" down "$(jbody 'd["checks"]["database"]["status"]')"
http GET /health/detailed -H "X-API-Key: $op"
expect_eq "database down: /health/detailed 503 (its key cannot be checked)" "503 SERVICE_UNAVAILABLE" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
http GET /ready
expect_eq "database down: /ready 503 not_ready" "503 not_ready False" "$HTTP_STATUS $(jbody '"%s %s" % (d["status"], d["checks"]["database"])')"
http GET /live
expect_eq "database down: /live still 200" 200 "$HTTP_STATUS"
AUDIT_DB_URL= "$AUDITDB_BIN" db start >/dev/null
http GET /health
expect_eq "database back: /health 200 (pool reconnected)" 200 "$HTTP_STATUS"
http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"after.outage","status":"success"}}'
expect_eq "database back: writes succeed again" 201 "$HTTP_STATUS"
expect_eq "nothing of the refused write was stored" "after.outage,before.outage" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT string_agg(action, ',' ORDER BY action) FROM audit_log")"
stop_serve TERM
unset AUDIT_DB_URL
out=$("$AUDITDB_BIN" db stop); rc=$?
expect_eq "db stop exits 0" 0 "$rc"
out=$("$AUDITDB_BIN" db status); rc=$?
expect_eq "db status after db stop: exit 3" 3 "$rc"

# a stock PATH: the server programs live only in /usr/lib/postgresql/N/bin
out=$(AUDITDB_HOME="$TEST_TMP/h3" env PATH=/usr/bin:/bin "$AUDITDB_BIN" db start 2>&1); rc=$?
expect_eq "db start with a stock PATH (no server programs on it)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$out"
AUDITDB_HOME="$TEST_TMP/h3" env PATH=/usr/bin:/bin "$AUDITDB_BIN" db stop >/dev/null 2>&1

# PostgreSQL server binaries missing
mkdir -p "$TEST_TMP/emptybin" "$TEST_TMP/partbin"
ln -sf "$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/initdb" "$TEST_TMP/partbin/initdb"
err=$(AUDITDB_HOME="$TEST_TMP/h2" AUDITDB_PG_BINDIR="$TEST_TMP/emptybin" "$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_eq "missing binaries: exit 3" 3 "$rc"
expect_match "missing binaries: names each program" "initdb, pg_ctl, postgres missing" "$err"
expect_match "missing binaries: says what to install" 'install the Debian package "postgresql"' "$err"
err=$(AUDITDB_HOME="$TEST_TMP/h2" AUDITDB_PG_BINDIR="$TEST_TMP/partbin" "$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_match "partly missing binaries: names only those" "^auditdb: PostgreSQL server binaries not found: pg_ctl, postgres missing" "$err"

# a home too long for a unix socket path
long="$TEST_TMP/$(printf 'x%.0s' $(seq 1 100))"
err=$(AUDITDB_HOME="$long" "$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_eq "socket path too long: exit 2" 2 "$rc"
expect_match "socket path too long: message" "too long for a unix socket path" "$err"
finish
