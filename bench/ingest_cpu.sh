#!/bin/sh
# bench/ingest_cpu.sh - where an HTTP event's CPU goes (a diagnosis, not a goal; bench/README.md,
# "Where an HTTP event's CPU goes"): a fresh database, `auditdb serve` on it, BENCH_CPU_EVENTS
# events in bulk requests of 100 over 16 connections from empty, with every process's CPU time
# sampled (bench/cpu_sample.py): the writer's PostgreSQL backends, PostgreSQL's other backends and
# processes, serve, the load generator, the machine's idle share; then the raw COPY of the same
# rows into a fresh database of the same schema, sampled the same way. Prints microseconds of CPU
# per event for each.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/ingest_cpu.sh
# knobs: BENCH_CPU_EVENTS (120000), BENCH_CPU_ZONE (the organizations' detection time zone,
# e.g. Asia/Tokyo to run outside the default off-hours rule's window; default: UTC), and
# AUDITDB_* for serve (AUDITDB_DETECT=false, AUDITDB_TREE=false...).
set -u
BIN=${AUDITDB_BIN:-build/release/auditdb}
CLIENT=${BENCH_HTTP_CLIENT:-build/release/bench/http_ingest}
EVENTS=${BENCH_CPU_EVENTS:-120000}
ZONE=${BENCH_CPU_ZONE:-}
SAMPLER=$(dirname "$0")/cpu_sample.py
SERVER_PID=
SAMPLER_PID=

die() { echo "ingest_cpu.sh: $*" >&2; exit 1; }
for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me through scripts/with-cluster.sh"
done
[ -x "$BIN" ] && [ -x "$CLIENT" ] || die "build first: make MODE=release all $CLIENT"
case $EVENTS in '' | *[!0-9]*) die "BENCH_CPU_EVENTS must be a whole number" ;; esac
W=$RUN_TMP/ingest_cpu
mkdir -p "$W" || die "cannot create $W"
stop_all() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
    [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
}
trap stop_all EXIT

AUDIT_DB_URL="$ADMIN_URL dbname=bench_cpu"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_cpu' \
    -c 'CREATE DATABASE bench_cpu' >/dev/null 2>&1 || die "could not create database bench_cpu"
"$BIN" migrate >"$W/migrate.log" 2>&1 || die "auditdb migrate failed"
: >"$W/keys"
for o in 0 1 2 3; do
    "$BIN" keys create --org "org-$o" --role ingest --name bench-cpu 2>/dev/null |
        sed -n 's/^key (shown once, store it now): //p' >>"$W/keys"
    if [ -n "$ZONE" ]; then
        psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -v org="org-$o" -v zone="$ZONE" >/dev/null <<'SQL' ||
INSERT INTO detection_settings (organization_id, timezone) VALUES (:'org', :'zone')
ON CONFLICT (organization_id) DO UPDATE SET timezone = excluded.timezone;
SQL
            die "could not set the zone"
    fi
done
[ "$(wc -l <"$W/keys")" -eq 4 ] || die "keys create failed"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AUDITDB_RATE_LIMIT_RPS=1000000 AUDITDB_RATE_LIMIT_BURST=1000000 \
    "$BIN" serve --listen "127.0.0.1:$PORT" >"$W/serve.log" 2>&1 &
SERVER_PID=$!
i=0
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/live" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -ge 60 ] && die "serve did not answer /live"
    sleep 0.5
done

python3 "$SAMPLER" "$W/http.cpu" & SAMPLER_PID=$!
"$CLIENT" post "http://127.0.0.1:$PORT" "$W/keys" "$EVENTS" 16 100 "$EVENTS" >"$W/post.out" 2>&1 ||
    die "the HTTP run failed: $(tail -n 3 "$W/post.out")"
kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
rate=$(sed -n 's/^RESULT .* rate=\([0-9]*\).*/\1/p' "$W/post.out")

# the raw COPY of the stored rows (read out first; the sampler runs through the read too, but
# only the fresh database's backend is reported on this side)
python3 "$SAMPLER" "$W/copy.cpu" & SAMPLER_PID=$!
"$CLIENT" copy "$AUDIT_DB_URL" >"$W/copy.out" 2>&1 || die "COPY failed: $(cat "$W/copy.out")"
kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=
rows=$(sed -n 's/^COPY rows=\([0-9]*\).*/\1/p' "$W/copy.out")
crate=$(sed -n 's/^COPY .* rate=\([0-9]*\).*/\1/p' "$W/copy.out")

echo "== where an HTTP event's CPU goes: $EVENTS events from empty, bulk 100 x 16 connections; detection ${AUDITDB_DETECT:-true}, trees ${AUDITDB_TREE:-true}, zone ${ZONE:-UTC}; $(nproc) cores"
echo "   HTTP $rate events/s; raw COPY of the $rows stored rows $crate rows/s; ratio $(awk -v a="$rate" -v b="$crate" 'BEGIN { printf "%.3f", a / b }')"
awk -v n="$EVENTS" '
    NR == 1 { printf "   HTTP run: machine idle %.1f %%\n", $2 * 100; next }
    { k = $4; for (i = 5; i <= NF; i++) k = k " " $i
      if (k ~ /^postgres bench_http_copy/) next
      if (k ~ /^machine /) { mach = mach sprintf(" %s %.1f", substr(k, 9), $1 * 1e6 / n); next }
      if ($1 * 1e6 / n >= 0.5) printf "   %7.1f us/event (user %5.1f, system %5.1f)  %s\n", $1 * 1e6 / n, $2 * 1e6 / n, $3 * 1e6 / n, k }
    END { print "   the whole machine, us/event:" mach }' "$W/http.cpu"
awk -v n="$rows" '
    /postgres bench_http_copy writer/ { printf "   raw COPY: %7.1f us/row (user %5.1f, system %5.1f)  the COPY backend\n", $1 * 1e6 / n, $2 * 1e6 / n, $3 * 1e6 / n }' "$W/copy.cpu"
