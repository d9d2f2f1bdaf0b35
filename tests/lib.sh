# lib.sh - helpers for the shell tests: results as "ok - name" / "not ok -
# name" lines that tests/run.sh counts, a fresh database per test, an
# auditdb serve on a free port, and HTTP through curl.
#
# The runner exports AUDITDB_BIN (the binary under test), ADMIN_URL (conninfo
# of the throwaway cluster) and TEST_TMP (a scratch folder for this file).

set -u
FAILED=0
# The detection engine (docs/alerts.md) raises alerts, whose openings are audit events of the
# organization, on its own schedule: a test of something else would count them among its
# events. It is off unless a test turns it on (the detect_* tests do).
export AUDITDB_DETECT="${AUDITDB_DETECT:-false}"
# API key changes are audit events of the key's organization (docs/monitoring.md): a test that
# counts an organization's events or expects chainSeq 1 would count its keys'. Off unless a test
# turns it on (config_changes, config_history do). (cfgkeys; the lead's call at merge.)
export AUDITDB_KEY_CHANGE_EVENTS="${AUDITDB_KEY_CHANGE_EVENTS:-false}"

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; FAILED=$((FAILED + 1)); }
diag() { printf '%s\n' "$@" | sed 's/^/#   /'; }

# check NAME CMD...: ok when CMD succeeds
check() {
    name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "expected: $2" "actual:   $3"; fi
}

# expect_match NAME PATTERN TEXT (grep -E)
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1"; diag "pattern: $2" "text:    $3"; fi
}

# fresh_db NAME: a new empty database on the runner's cluster; sets AUDIT_DB_URL
fresh_db() {
    psql "$ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\"" >/dev/null
    export AUDIT_DB_URL="$ADMIN_URL dbname=$1"
    # the log's memory of what it signed belongs to one database's trees
    # (docs/checkpoints.md): each fresh database gets its own folder
    export AUDITDB_CHECKPOINT_DIR="$TEST_TMP/checkpoints-$1"
}

# sql QUERY: runs QUERY on AUDIT_DB_URL, unaligned, tuples only
sql() { psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
# tenant_setting ORG [LOCAL]: the statement that sets ORG's tenant setting and
# its proof (docs/auth.md, "Tenant proof"), as the owner before SET ROLE
# auditdb_app (the proof function is the owner's); LOCAL: true (default) or false
tenant_setting() {
    printf "SELECT set_config('auditdb.organization_id', '%s', %s), set_config('auditdb.tenant_proof', auditdb_tenant_proof('%s'), %s)" \
        "$1" "${2:-true}" "$1" "${2:-true}"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_serve LOG [ARGS...]: starts auditdb serve in the background on a free
# port; sets SERVE_PID and BASE_URL; waits until /live answers.
start_serve() {
    log=$1; shift
    port=$(free_port)
    "$AUDITDB_BIN" serve --listen "127.0.0.1:$port" "$@" >"$log.out" 2>"$log" &
    SERVE_PID=$!
    BASE_URL="http://127.0.0.1:$port"
    i=0
    while [ $i -lt 300 ]; do
        if curl -fs -o /dev/null "$BASE_URL/live"; then return 0; fi
        if ! kill -0 "$SERVE_PID" 2>/dev/null; then return 1; fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# stop_serve [SIGNAL]: stops SERVE_PID and waits for it; returns its exit code
stop_serve() {
    kill -"${1:-TERM}" "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID"
}

# http METHOD PATH [CURL ARGS...]: sets HTTP_STATUS and HTTP_BODY
http() {
    method=$1; path=$2; shift 2
    out=$(curl -s -X "$method" -w '\n%{http_code}' "$@" "$BASE_URL$path")
    HTTP_STATUS=${out##*
}
    HTTP_BODY=${out%
*}
}

# json FILTER: reads JSON on stdin, prints python's repr-free value
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1],{"d":d}); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1"; }

# jbody FILTER: json FILTER applied to the last HTTP_BODY
jbody() { printf '%s' "$HTTP_BODY" | json "$1"; }

# newkey ORG ROLE: a new API key of ORG with ROLE (its secret, shown once by `keys create`)
newkey() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }

# conforms LABEL METHOD DOCPATH STATUS: the last answer (HTTP_STATUS, HTTP_BODY) is what
# api/openapi.json documents for METHOD DOCPATH and STATUS, checked by the npm OpenAPI validator
# (scripts/openapi-validator.sh, installed on first use); a skip when it cannot be installed
OPENAPI_MODS=${OPENAPI_NODE_DIR:-$PWD/build/node}
OPENAPI_STATE=""; OPENAPI_WHY=""
conforms() {
    if [ -z "$OPENAPI_STATE" ]; then
        if OPENAPI_WHY=$(scripts/openapi-validator.sh "$OPENAPI_MODS"); then OPENAPI_STATE=yes; else OPENAPI_STATE=no; fi
    fi
    if [ "$OPENAPI_STATE" = no ]; then echo "skip - $1: as documented (OpenAPI validator unavailable: $OPENAPI_WHY)"; return; fi
    if [ "$HTTP_STATUS" != "$4" ]; then not_ok "$1: status $4 (got $HTTP_STATUS)"; return; fi
    res=$(printf '%s' "$HTTP_BODY" | NODE_PATH="$OPENAPI_MODS/node_modules" node tests/tools/check_response.js api/openapi.json "$2" "$3" "$4" 2>&1)
    expect_eq "$1: as documented" ok "$(printf '%s\n' "$res" | head -5)"
}

finish() { exit $((FAILED > 0)); }
