# keys_last_used.sh - `keys list` shows when each API key was last used
# (issue 14, item 21), and recording it costs no write per request: uses are
# kept in memory and written in one statement every AUDITDB_KEY_USAGE_FLUSH_S
# seconds and when serve stops.
. tests/lib.sh

fresh_db t_keys_last_used
"$AUDITDB_BIN" migrate >/dev/null
newkey() { "$AUDITDB_BIN" keys create --org org-k --role viewer | sed -n 's/^key (shown once, store it now): //p'; }
K1=$(newkey); K2=$(newkey)
id1=$(printf '%s' "$K1" | cut -c1-20); id2=$(printf '%s' "$K2" | cut -c1-20)
expect_match "two keys created" '^adb_[0-9a-f]{16}$' "$id1"
# "last used" of key $1 in `keys list` (5th column after the key: created, last used)
last_used() { "$AUDITDB_BIN" keys list --org org-k | awk -v k="$1" '$1 == k { print $6 }'; }
expect_eq "a new key was never used" "-" "$(last_used "$id1")"
# rows of apikey updated, counted by a trigger of this test (pg_stat_user_tables
# is no measure: a pooled backend that goes idle may hold its counts for 10 s)
sql "CREATE TABLE t_apikey_updates (id text);
     CREATE FUNCTION t_count_apikey_update() RETURNS trigger LANGUAGE plpgsql AS
       \$\$ BEGIN INSERT INTO t_apikey_updates VALUES (NEW.id); RETURN NULL; END \$\$;
     CREATE TRIGGER t_count_apikey_update AFTER UPDATE ON apikey
       FOR EACH ROW EXECUTE FUNCTION t_count_apikey_update()" >/dev/null
updates() { sql "SELECT count(*) FROM t_apikey_updates"; }
upd0=$(updates)

if ! AUDITDB_KEY_USAGE_FLUSH_S=1 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
# listens to auditdb_auth while the uses are flushed: a flush must not empty every server's caches
listen() { printf 'LISTEN auditdb_auth;\nSELECT pg_sleep(%s);\nSELECT 1;\n' "$1" | psql "$AUDIT_DB_URL" -qAtX >"$2" 2>&1; }
listen 3 "$TEST_TMP/listen1.out" &
LISTENER=$!
sleep 0.3
N=40
ok200=0
i=0
while [ $i -lt $N ]; do
    http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $K1"
    [ "$HTTP_STATUS" = 200 ] && ok200=$((ok200 + 1))
    i=$((i + 1))
done
expect_eq "$N requests with key 1 answered 200" "$N" "$ok200"

# after the flush interval (1 s here) `keys list` shows the time
seen=-; i=0
while [ $i -lt 50 ] && [ "$seen" = - ]; do sleep 0.2; seen=$(last_used "$id1"); i=$((i + 1)); done
expect_match "keys list: key 1 shows when it was last used" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$seen"
now=$(date -u +%s)
at=$(date -u -d "$seen" +%s 2>/dev/null || echo 0)
check "key 1's last use is within the last minute" test $((now - at)) -lt 60 -a $((now - at)) -ge 0
expect_eq "keys list: key 2, unused, still shows -" "-" "$(last_used "$id2")"

# N requests did not cause N writes (the flush that showed the time above
# has committed; 1.5 s more lets any further flush happen)
sleep 1.5; upd=$(updates)
writes=$((upd - upd0))
check "$N requests caused at least one and at most 5 row updates of apikey (got $writes)" \
    test "$writes" -ge 1 -a "$writes" -le 5
wait "$LISTENER"
expect_eq "no auditdb_auth notification for the flushes" 0 "$(grep -c 'notification "auditdb_auth"' "$TEST_TMP/listen1.out")"
stop_serve

# a use not yet flushed is written when serve stops
if ! AUDITDB_KEY_USAGE_FLUSH_S=3600 start_serve "$TEST_TMP/serve2.log"; then
    not_ok "serve starts again"; diag "$(cat "$TEST_TMP/serve2.log")"; finish
fi
http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $K2"
expect_eq "a request with key 2 answers 200" 200 "$HTTP_STATUS"
expect_eq "before the flush interval key 2 still shows -" "-" "$(last_used "$id2")"
stop_serve
expect_match "serve's shutdown wrote key 2's last use" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(last_used "$id2")"
# the control: a real change of a key still notifies
listen 1.5 "$TEST_TMP/listen2.out" &
LISTENER=$!
sleep 0.3
"$AUDITDB_BIN" keys revoke "$id2" >/dev/null
wait "$LISTENER"
expect_eq "revoking a key still notifies auditdb_auth" 1 "$(grep -c 'notification "auditdb_auth"' "$TEST_TMP/listen2.out")"
finish
