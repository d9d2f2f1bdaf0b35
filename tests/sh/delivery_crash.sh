# delivery_crash.sh - issue 18's "Must show", with a crash: 2 `auditdb serve`
# instances of 8 delivery threads deliver 10,000 queued items and one is killed
# with SIGKILL midway (tests/delivery_lib.sh): 0 lost; duplicates only the killed
# instance's items in flight, sent again with the same webhook-id once their lease
# ran out; never one item twice at once; one webhook-id per delivery.
DELIVERY_DB=t_delivery_crash
. tests/delivery_lib.sh

if ! AUDITDB_DELIVERY_THREADS=0 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"
hook bulk ""
BULK=$DEST
stop_serve >/dev/null 2>&1

# ---- again, with kill -9 of one instance midway ----
enqueue kill-
export AUDITDB_DELIVERY_LEASE_MS=3000
two kill || { not_ok "two serve instances start again"; finish; }
wait_for 120 '[ "$(rj "d[\"unique\"]")" -ge 3000 ]'
kill -9 "$S1"
sql "CREATE TABLE held_at_kill AS SELECT id FROM delivery_queue WHERE delivery_id LIKE 'kill-%'
     AND status = 'processing' AND claimed_by LIKE '%:$S1/%'" >/dev/null
at_kill=$(sql "SELECT count(*) FROM held_at_kill")
wait_for 280 '[ "$(done_count kill-)" = 10000 ]'
expect_eq "kill -9 midway: all 10,000 completed and received, one webhook-id per delivery, never twice at once" \
    "10000 10000 10000 0 0" \
    "$(done_count kill-) $(rj 'd["deliveries"]') $(rj 'd["unique"]') $(rj 'd["multiIdDeliveries"]') $(rj 'd["concurrent"]')"
dups=$(rj 'd["duplicates"]')
expect_eq "duplicates only the killed instance's items in flight, sent again with their webhook-id (<= $at_kill)" yes \
    "$([ "$dups" -le "$at_kill" ] && echo yes || echo "no: $dups duplicates, $at_kill in flight")"
diag "items the killed instance held: $at_kill; delivered twice with the same webhook-id: $dups"
expect_eq "the survivor delivered every item the killed instance held, once its lease ran out" "$at_kill $at_kill" \
    "$(sql "SELECT count(*) FROM delivery_queue q JOIN held_at_kill USING (id) WHERE q.status = 'completed'
            AND q.claimed_by LIKE '%:$S2/%'") $(sql "SELECT count(*) FROM delivery_logs l JOIN delivery_queue q
            ON q.delivery_log_id = l.id JOIN held_at_kill h ON h.id = q.id WHERE l.status = 'delivered'")"
expect_eq "the killed instance held items when it died (the crash hit work in flight)" yes \
    "$([ "$at_kill" -gt 0 ] && echo yes || echo "no: none held")"
kill -TERM "$S2"; wait "$S2" 2>/dev/null
expect_eq "serve stops cleanly with its delivery threads" 0 "$?"
finish
