# delivery_lib.sh - what the delivery tests share (tests/sh/delivery_*.sh): the
# webhook receiver (tests/tools/webhook_receiver.js) started and stopped with the
# test, a fresh database with keys of org-a (admin, viewer) and org-b, HTTP and SQL
# helpers, webhook destinations, bulk queue items, two serve instances.
# Set DELIVERY_DB before sourcing it.
. tests/lib.sh

mods=${OPENAPI_NODE_DIR:-$PWD/build/node}
if ! why=$(scripts/webhook-verifier.sh "$mods"); then
    not_ok "the webhook verifier (npm standardwebhooks) is installed"; diag "$why"; finish
fi
fresh_db "$DELIVERY_DB"
"$AUDITDB_BIN" migrate >/dev/null
key() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
KA=$(key org-a admin); KB=$(key org-b admin); KV=$(key org-a viewer)
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4"

PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

NODE_PATH="$mods/node_modules" node tests/tools/webhook_receiver.js "$TEST_TMP/rport" 2>"$TEST_TMP/receiver.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$TEST_TMP/rport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
RURL="http://127.0.0.1:$(cat "$TEST_TMP/rport")"
rstats() { curl -s "$RURL/_stats$1"; }
rmode() { curl -s -o /dev/null -X POST "$RURL/_mode" -d "$1"; }
rj() { rstats "${2:-}" | json "$1"; }

post() { http POST "$1" -H "X-API-Key: ${3:-$KA}" -H 'Content-Type: application/json' -d "$2"; }
get() { http GET "$1" -H "X-API-Key: ${2:-$KA}"; }
# wait_for SECONDS SHELL-CONDITION
wait_for() { end=$(($(date +%s) + $1)); while [ "$(date +%s)" -le $end ]; do if eval "$2"; then return 0; fi; sleep 0.1; done; return 1; }

D=/api/v1/delivery
hook() { # hook LABEL EXTRA-WEBHOOK-MEMBERS: creates a webhook destination, sets DEST and the receiver's keys
    post $D/destinations "{\"label\":\"$1\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"$RURL/hook\",\"method\":\"POST\",\"headers\":{\"X-Tenant\":\"a\"},\"timeout\":5000,\"retryConfig\":{\"maxRetries\":2,\"backoffMultiplier\":1,\"maxBackoffDelay\":500}$2}}}"
    DEST=$(jbody 'd["id"]')
    curl -s -o /dev/null -X POST "$RURL/_keys" -d "$(jbody 'd["secrets"]')"
}
enqueue() { # enqueue PREFIX: 10,000 items for BULK, each body naming its delivery
    sql "WITH l AS (INSERT INTO delivery_logs (delivery_id, organization_id, destination_id, destinations,
           object_details, status) SELECT '$1' || g, 'org-a', $BULK, jsonb_build_array('$BULK'),
           '{\"type\":\"data\",\"metadata\":{}}', 'pending' FROM generate_series(1, 10000) g RETURNING id, delivery_id)
         INSERT INTO delivery_queue (id, organization_id, destination_id, payload, scheduled_at, delivery_id,
           delivery_log_id, body) SELECT 'msg_' || substr(md5(delivery_id || random()::text), 1, 22), 'org-a',
           $BULK, '{\"type\":\"data\"}', now(), delivery_id, id,
           convert_to(json_build_object('type', 'delivery.data', 'timestamp',
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
             'deliveryId', delivery_id, 'data', json_build_object('n', delivery_id))::text, 'UTF8') FROM l" >/dev/null
}
two() { # two LOG: two serve instances with 8 delivery threads each; S1, S2 their pids
    AUDITDB_DELIVERY_THREADS=8 start_serve "$TEST_TMP/$1-1.log" || return 1
    S1=$SERVE_PID; PIDS="$PIDS $S1"
    AUDITDB_DELIVERY_THREADS=8 start_serve "$TEST_TMP/$1-2.log" || return 1
    S2=$SERVE_PID; PIDS="$PIDS $S2"
}
done_count() { sql "SELECT count(*) FROM delivery_queue WHERE delivery_id LIKE '$1%' AND status = 'completed'"; }
