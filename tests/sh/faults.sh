# faults.sh - PostgreSQL fails under a running serve (issue 14, items 10 and
# 11), on an embedded cluster of its own that the test stops and restarts:
# - a COMMIT whose answer is lost (a backend ended while it waited for a
#   synchronous standby, i.e. after its commit record) is answered 201,
#   never 503; when the outcome cannot be learned (the database then
#   freezes), 504 COMMIT_OUTCOME_UNKNOWN, never 503;
# - a frozen PostgreSQL (SIGSTOP of the postmaster and its backends) turns
#   creates and pages into 503 within a bound, /health answers within 1 s,
#   and SIGCONT restores service;
# - backends ended and PostgreSQL restarted at once (-m immediate) again
#   and again under load: no acknowledged event lost, no 503 for an event
#   that was stored (tests/tools/fault_load.py).
. tests/lib.sh
unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"
if ! "$AUDITDB_BIN" db start >"$TEST_TMP/dbstart.log" 2>&1; then
    not_ok "db start"; diag "$(cat "$TEST_TMP/dbstart.log")"; finish
fi
export AUDIT_DB_URL="host=$AUDITDB_HOME/run port=5432 user=postgres dbname=auditdb"
pgbin=$(dirname "$(sed -n '1s/^"\{0,1\}\([^" ]*\).*/\1/p' "$AUDITDB_HOME/pg/postmaster.opts")")
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-f --role admin | sed -n 's/^key (shown once, store it now): //p')
export AUDITDB_RATE_LIMIT_RPS=0
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; AUDIT_DB_URL= "$AUDITDB_BIN" db stop; finish
fi

# create ACTION: prints "STATUS SECONDS"
create() {
    curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 15 -H "X-API-Key: $key" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"eventData\":{\"action\":\"$1\",\"status\":\"success\"}}" "$BASE_URL/api/v1/audit/events"
}
# bounded: a read waiting on a lock held by a transaction stuck on the standby fails, not hangs
stored() { PGOPTIONS='-c statement_timeout=20000' sql "SELECT count(*) FROM audit_log WHERE action = '$1'"; }
syncrep() { sql "ALTER SYSTEM SET synchronous_standby_names = '$1'" && sql "SELECT pg_reload_conf()" >/dev/null; }
# the writer's backends waiting for the standby after their commit record (the writer's login
# is the only one that writes events; the self-audit's and the tree's use the owner's)
WRITER_SYNCREP="FROM pg_stat_activity a WHERE a.wait_event = 'SyncRep' AND a.usename = 'auditdb_writer'"
# waits (10 s at most) until the writer's transaction waits for the standby
wait_syncrep() {
    i=0
    while [ $i -lt 100 ]; do
        [ "$(sql "SELECT count(*) $WRITER_SYNCREP")" -gt 0 ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# under LIMIT seconds: within SECONDS LIMIT
within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

# 1. the COMMIT's answer is lost, the COMMIT is not. A first event before:
# the month's partition and its first ANALYZE then exist, so the only
# transaction left to wait for the standby is the writer's batch
create warm.up >/dev/null
# ... and serve's first maintenance round (started with serve: this month's partition and the
# next six) is over: a CREATE TABLE ... PARTITION OF still running when the standby is named
# would wait for it holding its lock on audit_log, so the writer's batch would wait behind it
# (then a 503 after the 30 s statement timeout) and never for the standby itself
settled() {
    [ "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass")" -ge 7 ] &&
    [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
              AND state <> 'idle' AND pid <> pg_backend_pid()")" -eq 0 ]
}
i=0
while [ $i -lt 100 ] && ! settled; do sleep 0.1; i=$((i + 1)); done
syncrep nobody
create commit.lost >"$TEST_TMP/c1" &
cp=$!
check "a create waits for the standby after its commit record" wait_syncrep
sql "SELECT count(pg_terminate_backend(a.pid)) $WRITER_SYNCREP" >/dev/null
wait $cp
expect_eq "connection lost during COMMIT, event committed: 201 (not 503), stored once" "201 1" \
    "$(cut -d' ' -f1 "$TEST_TMP/c1") $(stored commit.lost)"

# 2. frozen: the database stops answering, one COMMIT in flight
create frozen.commit >"$TEST_TMP/c2" &
cp=$!
wait_syncrep
pm=$(head -n 1 "$AUDITDB_HOME/pg/postmaster.pid")
frozen="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
kill -STOP $frozen
set -- $(create frozen.create)
expect_eq "frozen: a create is refused with 503" 503 "$1"
check "frozen: ... within 8 s (took $2 s)" within "$2" 8
set -- $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 15 -H "X-API-Key: $key" "$BASE_URL/api/v1/audit/events?limit=5")
expect_eq "frozen: a page is refused with 503" 503 "$1"
check "frozen: ... within 8 s (took $2 s)" within "$2" 8
for n in 1 2 3; do
    set -- $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 15 "$BASE_URL/health")
    expect_eq "frozen: /health $n says 503" 503 "$1"
    check "frozen: /health $n answers within 1 s (took $2 s)" within "$2" 1
done
wait $cp
expect_eq "frozen during COMMIT: 504 COMMIT_OUTCOME_UNKNOWN (it may be stored), not 503" 504 "$(cut -d' ' -f1 "$TEST_TMP/c2")"
kill -CONT $frozen
syncrep ''
i=0
while [ $i -lt 50 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/health")" != 200 ]; do
    sleep 0.2; i=$((i + 1))
done
expect_eq "after SIGCONT: /health 200 again" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/health")"
set -- $(create after.freeze)
expect_eq "after SIGCONT: creates get 201" 201 "$1"
expect_eq "the refused create was not stored; the unknown one was (it had committed)" "0 1" \
    "$(stored frozen.create) $(stored frozen.commit)"

# 3. repeated backend terminations and immediate restarts under load
out=$(python3 tests/tools/fault_load.py "$BASE_URL" "$key" "$AUDIT_DB_URL" "$AUDITDB_HOME/pg" \
      "$pgbin/pg_ctl" --seconds 12 --threads 4 --every 1.5); rc=$?
diag "$out"
expect_match "restarts under load: 0 acknowledged events lost" ' lost=0 ' "$out"
expect_match "restarts under load: 0 503s for stored events" ' false503=0 ' "$out"
expect_match "restarts under load: faults happened, events were acknowledged" 'acked=[1-9][0-9]* .*terminations=[1-9].* restarts=[1-9]' "$out"

stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -v '^{' "$TEST_TMP/serve.log" | tail -40)"
AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null 2>&1
finish
