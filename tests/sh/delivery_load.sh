# delivery_load.sh - issue 18's "Must show": 8 delivery threads in each of 2
# `auditdb serve` instances deliver 10,000 queued items to a receiver that verifies
# and counts every webhook-id (tests/delivery_lib.sh): 0 lost, 0 duplicated, never
# one item twice at once, one webhook-id per delivery, both instances working.
DELIVERY_DB=t_delivery_load
. tests/delivery_lib.sh

if ! AUDITDB_DELIVERY_THREADS=0 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"
hook bulk ""
BULK=$DEST
stop_serve >/dev/null 2>&1

curl -s -o /dev/null -X POST "$RURL/_reset"
enqueue bulk-
t0=$(date +%s)
if two bulk; then ok "two serve instances start"; else not_ok "two serve instances start"; finish; fi
wait_for 280 '[ "$(done_count bulk-)" = 10000 ]'
t1=$(date +%s)
expect_eq "10,000 items: all completed, each received once, never twice at once, one id per delivery, all verified" \
    "10000 10000 10000 0 0 0 10000" \
    "$(done_count bulk-) $(rj 'd["deliveries"]') $(rj 'd["unique"]') $(rj 'd["duplicates"]') $(rj 'd["concurrent"]') $(rj 'd["multiIdDeliveries"]') $(rj 'd["verified"]')"
diag "10,000 deliveries in $((t1 - t0)) s by 2 x 8 threads"
expect_eq "both instances delivered" 2 \
    "$(sql "SELECT count(DISTINCT split_part(claimed_by, '/', 1)) FROM delivery_queue WHERE delivery_id LIKE 'bulk-%'")"
kill -TERM "$S1" "$S2"; wait "$S1" 2>/dev/null; r1=$?; wait "$S2" 2>/dev/null; r2=$?
expect_eq "both instances stop cleanly with their delivery threads" "0 0" "$r1 $r2"

finish
