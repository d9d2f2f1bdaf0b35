# health_api.sh - the health service under /api/v1/health as smart-logs'
# client calls it (docs/api.md, "Health service"): every answer against the
# client's shapes (tests/tools/health_shapes.py), who may call what (public
# probes, health:read, the operator's system facts; docs/auth.md), answers
# that are real (the database's latency, the writer's queue, the pool,
# history of the checks), and within a second while PostgreSQL is frozen.
. tests/lib.sh

unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"
if ! "$AUDITDB_BIN" db start >"$TEST_TMP/dbstart.log" 2>&1; then
    not_ok "db start"; diag "$(cat "$TEST_TMP/dbstart.log")"; finish
fi
export AUDIT_DB_URL="host=$AUDITDB_HOME/run port=5432 user=postgres dbname=auditdb"
"$AUDITDB_BIN" migrate >/dev/null
newkey() { "$AUDITDB_BIN" keys create "$@" | sed -n 's/^key (shown once, store it now): //p'; }
ADMIN=$(newkey --org org-a --role admin)
VIEWER=$(newkey --org org-a --role viewer)
OPERATOR=$(newkey --role operator)
export AUDITDB_ENVIRONMENT=staging
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; AUDIT_DB_URL= "$AUDITDB_BIN" db stop; finish
fi
ok "serve starts"
shape() { printf '%s' "$HTTP_BODY" | python3 tests/tools/health_shapes.py "$1"; }
H=/api/v1/health

# public: the probes, as /health, /ready, /live are
http GET $H
expect_eq "check: 200 without a key" 200 "$HTTP_STATUS"
expect_eq "check: the client's HealthStatus" ok "$(shape health_status)"
expect_eq "check: healthy, environment and version real" "healthy staging $("$AUDITDB_BIN" version | awk '{print $NF}')" \
    "$(jbody 'd["status"]') $(jbody 'd["environment"]') $(jbody 'd["version"]')"
expect_eq "check: components by status only (no figures without a key)" '{"audit": "healthy", "database": "healthy", "redis": "healthy"}' \
    "$(jbody 'dict(sorted(d["checks"].items()))')"
http GET $H/ready
expect_eq "ready: 200 without a key" 200 "$HTTP_STATUS"
expect_eq "ready: the client's ReadinessStatus" ok "$(shape ready)"
expect_eq "ready: database, migrations and cache checked" "true database,migrations,cache true" \
    "$(jbody 'd["ready"]') $(jbody '",".join(c["name"] for c in d["checks"])') $(jbody 'd["dependencies"]["migrations"]')"
http GET $H/alive
expect_eq "alive: the client's LivenessStatus" "200 ok" "$HTTP_STATUS $(shape alive)"
http GET $H/version
expect_eq "version: the client's VersionInfo" "200 ok" "$HTTP_STATUS $(shape version)"
expect_eq "version: apiVersion v1" v1 "$(jbody 'd["apiVersion"]')"

# health:read: an organization's admin has it (admin's *:*), a viewer not
for r in detailed status components/database dependencies history metrics config system; do
    http GET "$H/$r"
    expect_eq "$r: 401 without a key" 401 "$HTTP_STATUS"
    http GET "$H/$r" -H "X-API-Key: $VIEWER"
    expect_eq "$r: 403 for a viewer (health:read)" "403 FORBIDDEN" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
done
http POST $H/check -H "X-API-Key: $VIEWER"
expect_eq "check (POST): 403 for a viewer" 403 "$HTTP_STATUS"
http GET $H/detailed -H "X-API-Key: $OPERATOR"
expect_eq "detailed: an operator key holds health:read (process-wide figures; health_config.sh)" 200 "$HTTP_STATUS"

get() { http GET "$H/$1" -H "X-API-Key: $ADMIN"; }
get detailed
expect_eq "detailed: 200 for an admin" 200 "$HTTP_STATUS"
expect_eq "detailed: the client's DetailedHealthStatus (zod and type guard)" ok "$(shape detailed)"
expect_eq "detailed: database, redis and the writer" "audit,database,redis" "$(jbody '",".join(sorted(d["services"]))')"
expect_eq "detailed: the writer's queue capacity is real" "$(curl -s -H "X-API-Key: $OPERATOR" "$BASE_URL/metrics" | awk '/^auditdb_writer_queue_capacity/ {print $2}')" \
    "$(jbody 'd["services"]["audit"]["details"]["queueCapacity"]')"
check "detailed: the database's latency was measured (> 0 ms)" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$(jbody 'd["services"]["database"]["details"]["latencyMs"]')"
expect_eq "detailed: the pool is shown" true "$(jbody 'd["services"]["database"]["details"]["pool"]["max"] > 0')"
# the options the client's detailed() always adds, and check(config) may
get "detailed?includeDetails=true&checkDependencies=true"
expect_eq "detailed: the client's own query (includeDetails, checkDependencies) is taken" "200 ok" "$HTTP_STATUS $(shape detailed)"
get "detailed?componentChecks=database,audit&includeDetails=false&timeout=500"
expect_eq "detailed: componentChecks names the components answered" "audit,database" "$(jbody '",".join(sorted(d["services"]))')"
expect_eq "detailed: includeDetails=false leaves out their details" "200 ok false" \
    "$HTTP_STATUS $(shape detailed) $(jbody 'any("details" in s for s in d["services"].values())')"
http GET "$H?componentChecks=redis"
expect_eq "check: componentChecks (public)" '200 {"redis": "healthy"}' "$HTTP_STATUS $(jbody 'd["checks"]')"
for bad in includeDetails=maybe timeout=0 componentChecks=database,cpu; do
    get "detailed?$bad"
    expect_eq "detailed: $bad is a 400 naming ${bad%%=*}" "400 ${bad%%=*}" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
http POST $H/check -H "X-API-Key: $ADMIN"
expect_eq "check (POST): runs the checks, 200 DetailedHealthStatus" "200 ok" "$HTTP_STATUS $(shape detailed)"
for c in database redis audit; do
    get "components/$c"
    expect_eq "components/$c: the client's ComponentHealth" "200 ok" "$HTTP_STATUS $(shape component)"
done
get components/nosuch
expect_eq "components/nosuch: 404 naming the known ones" "404 database,redis,audit" \
    "$HTTP_STATUS $(jbody '",".join(d["error"]["details"]["known"])')"
get dependencies
expect_eq "dependencies: the client's ServiceDependency[] (PostgreSQL; Redis not configured)" "200 ok postgresql" \
    "$HTTP_STATUS $(shape dependencies) $(jbody '",".join(x["name"] for x in d)')"
get dependencies/postgresql
expect_eq "dependencies/postgresql: one ServiceDependency" "200 ok" "$HTTP_STATUS $(shape dependency)"
get dependencies/redis
expect_eq "dependencies/redis: 404 when Redis is not configured" 404 "$HTTP_STATUS"
get status
expect_eq "status: the client's ApiStatus" "200 ok operational" "$HTTP_STATUS $(shape api_status) $(jbody 'd["status"]')"
expect_eq "status: rateLimit is the caller's own bucket" "200" "$(jbody 'd["rateLimit"]["limit"]')"
get config
expect_eq "config: the checks' settings, no secret" "200 ok" "$HTTP_STATUS $(shape config)"
expect_eq "config: the 800 ms bound" 800 "$(jbody 'd["timeout"]')"
http PUT $H/config -H "X-API-Key: $ADMIN" -H 'Content-Type: application/json' --data-binary '{"timeout":5}'
expect_eq "config: PUT is an operator's, not an organization admin's (health_config.sh)" 403 "$HTTP_STATUS"
http POST $H/cache/reset -H "X-API-Key: $ADMIN"
expect_eq "cache/reset: 200, says nothing is cached" "200 0" "$HTTP_STATUS $(jbody 'd["entriesCleared"]')"
http POST $H/connectivity -H "X-API-Key: $ADMIN" -H 'Content-Type: application/json' --data-binary '{"services":["postgresql"]}'
expect_eq "connectivity: the client's shape, PostgreSQL connected" "200 ok connected" \
    "$HTTP_STATUS $(shape connectivity) $(jbody 'd["results"][0]["status"]')"
http POST $H/connectivity -H "X-API-Key: $ADMIN" -H 'Content-Type: application/json' --data-binary '{}'
expect_eq "connectivity: every service without a list" "200 1" "$HTTP_STATUS $(jbody 'd["summary"]["total"]')"
http POST $H/connectivity -H "X-API-Key: $ADMIN" -H 'Content-Type: application/json' --data-binary '{"services":["postgresql","mysql"]}'
expect_eq "connectivity: an unknown service is a 400 naming it" "400 services[1]" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"

# history and metrics: the checks made above, recorded in the ring
get "history?component=database"
expect_eq "history: the client's shape" "200 ok" "$HTTP_STATUS $(shape history)"
check "history: the database checks made so far are there (more than 8)" test "$(jbody 'len(d)')" -gt 8
expect_eq "history: only the component asked for" database "$(jbody '",".join(sorted(set(h["component"] for h in d)))')"
get "history?startDate=2099-01-01T00:00:00.000Z"
expect_eq "history: startDate filters" "200 0" "$HTTP_STATUS $(jbody 'len(d)')"
get "history?startDate=yesterday"
expect_eq "history: a bad date is a 400 naming it" "400 startDate" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
get metrics
expect_eq "metrics: the client's shape" "200 ok" "$HTTP_STATUS $(shape metrics)"
expect_eq "metrics: every check so far healthy" "100.0 0" "$(jbody 'd["uptime"]["availability"]') $(jbody 'd["statusDistribution"]["unhealthy"]')"

# system: the process's figures, nothing that identifies the host
get system
expect_eq "system: the process's figures, no host facts" "200 ok" "$HTTP_STATUS $(shape system)"
check "system: the real process's RSS (within 20 % of /proc)" python3 -c 'import sys
a, b = int(sys.argv[1]), int(sys.argv[2]) * 1024
sys.exit(0 if abs(a - b) <= b / 5 else 1)' "$(jbody 'd["memoryUsage"]["rss"]')" "$(awk '/^VmRSS/ {print $2}' "/proc/$SERVE_PID/status")"
http GET $H/system -H "X-API-Key: $VIEWER"
expect_eq "system: 403 for a viewer" 403 "$HTTP_STATUS"

# nothing of another organization, no secret anywhere
for r in detailed status dependencies config metrics system "history?component=redis"; do get "$r"; printf '%s\n' "$HTTP_BODY"; done >"$TEST_TMP/all.json"
check "no key, organization, connection string or host name in any answer" \
    sh -c "! grep -Eq 'org-a|adb_[0-9a-f]{16}|host=|postgresql://|password|$AUDITDB_HOME|\"$(hostname)\"' '$TEST_TMP/all.json'"

# a frozen PostgreSQL: the checks say so within a second (800 ms bound)
within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }
pm=$(head -n 1 "$AUDITDB_HOME/pg/postmaster.pid")
frozen="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
kill -STOP $frozen
for r in "" /ready /detailed /components/database; do
    set -- $(curl -s -o "$TEST_TMP/frozen.json" -w '%{http_code} %{time_total}' --max-time 10 -H "X-API-Key: $ADMIN" "$BASE_URL$H$r")
    expect_eq "frozen: $H$r says 503 or unhealthy" yes \
        "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print("yes" if sys.argv[1]=="503" or d.get("status")=="unhealthy" else "no")' "$1" "$TEST_TMP/frozen.json")"
    check "frozen: $H$r answers within 1 s (took $2 s)" within "$2" 1
done
set -- $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 "$BASE_URL$H/alive")
expect_eq "frozen: alive still 200" 200 "$1"
kill -CONT $frozen
i=0
while [ $i -lt 50 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL$H")" != 200 ]; do sleep 0.2; i=$((i + 1)); done
get metrics
check "metrics: the frozen checks count as unhealthy" test "$(jbody 'd["statusDistribution"]["unhealthy"]')" -gt 0
get "history?component=database"
expect_eq "history: the last database checks went unhealthy, then healthy again" "unhealthy healthy" \
    "$(jbody '[h["status"] for h in d][-2]') $(jbody '[h["status"] for h in d][-1]')"

stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -v '^{' "$TEST_TMP/serve.log" | tail -40)"
AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null 2>&1
finish
