# first_hour.sh - a newcomer's first hour (issue 14 items 19 and 20):
# serve as root with AUDITDB_HOME under a folder closed to the PostgreSQL user
# (a clone under /root: mode 0700) works, and the verify line serve prints
# works from any folder; a command that only reads refuses, exit 3, when
# there is no database, and creates nothing.
. tests/lib.sh
unset AUDIT_DB_URL AUDITDB_HOME
mkdir -p "$TEST_TMP/elsewhere"

# ---- item 20: readers never make an empty cluster -------------------------
mkdir -p "$TEST_TMP/empty"
for cmd in "verify" "verify --json" "keys list" "archive list" "archive show 1" "archive verify 1" \
    "archive export 1" "partitions list" "migrate status"; do
    err=$(cd "$TEST_TMP/empty" && $AUDITDB_BIN $cmd 2>&1 >/dev/null); rc=$?
    expect_eq "$cmd without a database: exit 3" 3 "$rc"
    expect_match "$cmd without a database: says so and names the home" \
        "no database in AUDITDB_HOME \"$TEST_TMP/empty/.auditdb\": \"${cmd%% [0-9-]*}\" only reads" "$err"
done
check "the readers created nothing" test -z "$(ls -A "$TEST_TMP/empty")"
err=$(AUDITDB_HOME="$TEST_TMP/nohome" "$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "verify with AUDITDB_HOME naming a missing folder: exit 3" 3 "$rc"
check "... and the folder is not created" test ! -e "$TEST_TMP/nohome"

# ---- item 19: root, a home under a folder mode 0700 -----------------------
if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
    echo "skip - home under a 0700 folder: needs root and a postgres user"
    finish
fi
mkdir -p "$TEST_TMP/root"; chmod 700 "$TEST_TMP/root"
home="$TEST_TMP/root/auditdb/.auditdb"
cleanup() { # the cluster's folder outside the home (/var/lib/auditdb/<id>)
    t=$(readlink "$home/pg" 2>/dev/null) && [ -n "$t" ] && rm -rf "$(dirname "$t")"
}
trap cleanup EXIT
export AUDITDB_HOME="$home"
if start_serve "$TEST_TMP/serve.log"; then
    ok "serve as root with AUDITDB_HOME under a 0700 folder starts"
else
    not_ok "serve as root with AUDITDB_HOME under a 0700 folder starts"
    diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
printed=$(cat "$TEST_TMP/serve.log.out")
key=$(cat "$home/admin.key")
http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"first.event","status":"success","principalId":"doc-1"}}'
expect_eq "first event: 201" 201 "$HTTP_STATUS"
check "the cluster lives where the PostgreSQL user reaches it" \
    sh -c "readlink '$home/pg' | grep -q '^/var/lib/auditdb/[0-9a-f]*/pg$'"
expect_eq "the PostgreSQL user cannot read master.key" "" \
    "$(psql "host=$home/run port=5432 user=postgres dbname=auditdb" -qAtX -c "select pg_read_file('$home/master.key')" 2>/dev/null)"

# the next steps serve prints: the admin key by its full path, verify with its home
expect_match "serve prints the admin key's full path" "cat $home/admin.key" "$printed"
line=$(printf '%s\n' "$printed" | grep -E '^  AUDITDB_HOME=.* verify$' | sed 's/^  //')
expect_match "serve prints a verify line naming its home" "^AUDITDB_HOME=$home .*auditdb verify$" "$line"
unset AUDITDB_HOME
v=$(cd "$TEST_TMP/elsewhere" && eval "$line" 2>&1); rc=$?
expect_eq "that verify line, run from another folder: exit 0" 0 "$rc"
expect_match "... and it verified the event" "verified 1 events of 1 organization\(s\).*all intact" "$v"
check "... and made no cluster in that folder" test ! -e "$TEST_TMP/elsewhere/.auditdb"
stop_serve TERM
out=$(AUDITDB_HOME="$home" "$AUDITDB_BIN" db status); rc=$?
expect_eq "the owner stopped the relocated cluster on exit" 3 "$rc"
finish
