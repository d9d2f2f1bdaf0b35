# supervise.sh - serve supervises the embedded postmaster (issue 14 item 8):
# kill -9 of the postmaster while a client sends events; serve restarts it
# by itself, says so on stderr, new events are created again within a
# bounded time, and every event that was acknowledged (201) is stored.
. tests/lib.sh
unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"

pm_pid() { head -n 1 "$AUDITDB_HOME/pg/postmaster.pid" 2>/dev/null; }

if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
key=$(cat "$AUDITDB_HOME/admin.key")

# the client: one event at a time, each with its own principalId; "N STATUS
# SENT_NS" per line (SENT_NS: when the request was sent)
client() {
    i=0
    while [ ! -e "$TEST_TMP/stop" ]; do
        i=$((i + 1))
        sent=$(date +%s%N)
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "X-API-Key: $key" \
            -H 'Content-Type: application/json' \
            --data-binary "{\"eventData\":{\"action\":\"sup.event\",\"status\":\"success\",\"principalId\":\"c$i\"}}" \
            "$BASE_URL/api/v1/audit/events")
        echo "$i $code $sent" >>"$TEST_TMP/client.log"
    done
}
: >"$TEST_TMP/client.log"
client &
client_pid=$!
sleep 1

pm=$(pm_pid)
killed_at=$(date +%s%N)
kill -9 "$pm"
health_during=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/health")
ready_during=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/ready")
# the restart takes a tick (0.5 s) and a server start: the outage is visible
expect_eq "right after kill -9: /health and /ready 503" "503 503" "$health_during $ready_during"

# a 201 for an event sent after the kill (one in flight at the kill proves
# nothing), within 30 s
recovered=""
i=0
while [ $i -lt 300 ]; do
    recovered=$(awk -v t="$killed_at" '$2 == 201 && $3 > t { print $3; exit }' "$TEST_TMP/client.log")
    [ -n "$recovered" ] && break
    sleep 0.1; i=$((i + 1))
done
if [ -n "$recovered" ]; then
    ok "new events are created again after kill -9 of the postmaster"
    diag "first 201 $(( (recovered - killed_at) / 1000000 )) ms after the kill"
else
    not_ok "new events are created again after kill -9 of the postmaster (none within 30 s)"
    diag "$(tail -5 "$TEST_TMP/client.log")" "$(grep -v '^{' "$TEST_TMP/serve.log" | tail -5)"
fi
sleep 1
touch "$TEST_TMP/stop"
wait "$client_pid"

new_pm=$(pm_pid)
check "a new postmaster runs" test -n "$new_pm" -a "$new_pm" != "$pm"
check "serve is the same process" kill -0 "$SERVE_PID"
log=$(grep -v '^{' "$TEST_TMP/serve.log")
expect_match "stderr says the postmaster was gone and is restarted" \
    "the embedded PostgreSQL server \(postmaster pid $pm\) is gone .*restarting it" "$log"
expect_match "stderr says it was restarted" "embedded PostgreSQL restarted \(postmaster pid [0-9]+\)" "$log"
http GET /health
expect_eq "/health 200 after the restart" 200 "$HTTP_STATUS"
http GET /ready
expect_eq "/ready 200 after the restart" 200 "$HTTP_STATUS"

acked=$(awk '$2 == 201 { print "c" $1 }' "$TEST_TMP/client.log" | sort)
stored=$(psql "host=$AUDITDB_HOME/run port=5432 user=postgres dbname=auditdb" -qAtX \
    -c "SELECT principal_id FROM audit_log WHERE action = 'sup.event'" | sort)
lost=$(comm -23 "$(printf '%s\n' "$acked" >"$TEST_TMP/acked"; echo "$TEST_TMP/acked")" \
    "$(printf '%s\n' "$stored" >"$TEST_TMP/stored"; echo "$TEST_TMP/stored")" | grep -c .)
expect_eq "0 acknowledged events lost" 0 "$lost"
diag "$(printf '%s\n' "$acked" | grep -c .) acknowledged, $(awk '$2 != 201' "$TEST_TMP/client.log" | wc -l) refused during the outage"
stop_serve TERM
finish
