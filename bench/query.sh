#!/bin/sh
# bench/query.sh - query benchmark (issue 4, item 9): p50/p99 latency over HTTP of an
# organization's newest-first event pages (first page and a deep keyset page, each without
# and with principalIds+actions filters), measured on loopback by an open-loop load client
# (bench/loadgen.c: requests sent on a fixed schedule, latency counted from when each was due)
# while a second one ingests events at a fixed rate through POST /api/v1/audit/events.
# Goal: p99 under 5 ms. Also the capacity: the highest rate of each scenario that still meets it.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/query.sh
# (needs ADMIN_URL, RUN_TMP and AUDITDB_HOME from with-cluster.sh; build/release/bench/loadgen,
# curl, psql, python3)
# Method, knobs and figures: bench/README.md, "Query benchmark".
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
EVENTS=${BENCH_QUERY_EVENTS:-2000000}
ORGS=${BENCH_QUERY_ORGS:-50}
DAYS=${BENCH_QUERY_DAYS:-182}
IMPORTERS=${BENCH_QUERY_IMPORTERS:-}
LOAD_TIMEOUT=${BENCH_QUERY_LOAD_TIMEOUT:-1800}
QORGS=${BENCH_QUERY_QUERY_ORGS:-org-00 org-07 org-13 org-21 org-28 org-34 org-42 org-49}
INGEST_ORG=${BENCH_QUERY_INGEST_ORG:-org-00}
DEPTH=${BENCH_QUERY_DEPTH_PAGES:-200}
DURATION=${BENCH_QUERY_DURATION:-30}
WARMUP=${BENCH_QUERY_WARMUP:-3}
RATE=${BENCH_QUERY_RATE:-100}
INGEST_RATE=${BENCH_QUERY_INGEST_RATE:-200}
CAPACITY_RATES=${BENCH_QUERY_CAPACITY_RATES-200 400 800}
CAPACITY_DURATION=${BENCH_QUERY_CAPACITY_DURATION:-15}
CONNS=${BENCH_QUERY_CONNS:-32}
REF_RATE=${BENCH_QUERY_REF_RATE:-50}
SERVER_THREADS=${BENCH_QUERY_SERVER_THREADS:-8}
RATE_RPS=${BENCH_QUERY_RATE_LIMIT_RPS:-1000000}
LOADGEN=${BENCH_QUERY_LOADGEN:-build/release/bench/loadgen}
GOAL_US=5000
FILTER_ACTIONS=fhir.patient.read,fhir.patient.update
HERE=$(cd "$(dirname "$0")" && pwd)

SERVER_PID=
INGEST_PID=
W=

die() {
    echo "query.sh: $*" >&2
    if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID"
        echo "query.sh: auditdb serve exited with status $?; the end of its log:" >&2
        tail -n 20 "$W/serve.log" >&2
        SERVER_PID=
    fi
    exit 1
}

for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/query.sh"
done
for t in curl psql python3 timeout awk sed; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
[ -x "$LOADGEN" ] || die "$LOADGEN is not built (make MODE=release $LOADGEN)"
for n in "$EVENTS" "$ORGS" "$DAYS" "${IMPORTERS:-1}" "$DEPTH" "$DURATION" "$WARMUP" "$CONNS" "$RATE" \
         "$INGEST_RATE" "$REF_RATE" "$CAPACITY_DURATION" "$SERVER_THREADS" "$LOAD_TIMEOUT" "$RATE_RPS" $CAPACITY_RATES; do
    case $n in '' | *[!0-9]*) die "knob value \"$n\" is not a whole number" ;; esac
done
[ "$RATE" -gt 0 ] && [ "$INGEST_RATE" -gt 0 ] && [ "$REF_RATE" -gt 0 ] && [ "$DURATION" -gt 0 ] && [ "$CONNS" -gt 0 ] &&
    [ "$CONNS" -le 256 ] || die "BENCH_QUERY_RATE, _INGEST_RATE, _REF_RATE, _DURATION must be above 0, BENCH_QUERY_CONNS 1..256"
if [ "$ORGS" -lt 1 ] || [ "$ORGS" -gt 100 ]; then die "BENCH_QUERY_ORGS must be 1..100"; fi
# auditdb import reads its whole input into memory and refuses more than 1 GiB (~1.9 million
# of these events): by default one importer per million events, at least 2 (2 cores)
if [ -z "$IMPORTERS" ]; then
    IMPORTERS=$(((EVENTS + 999999) / 1000000))
    [ "$IMPORTERS" -ge 2 ] || IMPORTERS=2
    [ "$IMPORTERS" -le "$ORGS" ] || IMPORTERS=$ORGS
fi
if [ "$IMPORTERS" -lt 1 ] || [ "$IMPORTERS" -gt "$ORGS" ]; then die "BENCH_QUERY_IMPORTERS must be 1..$ORGS"; fi

W=$RUN_TMP/query
mkdir -p "$W" || die "cannot create $W"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

stop_pid() { # PID SIGNAL SECONDS: signal, wait up to SECONDS, then SIGKILL
    [ -n "$1" ] || return 0
    kill -"$2" "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ "$i" -lt $(($3 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        echo "query.sh: pid $1 still running after SIG$2 and $3 s: SIGKILL" >&2
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
    return 0
}

cleanup() {
    stop_pid "$INGEST_PID" INT 10
    INGEST_PID=
    stop_pid "$SERVER_PID" TERM 30
    SERVER_PID=
    if [ -n "${BENCH_QUERY_KEEP:-}" ] && [ -n "$W" ]; then
        mkdir -p "$BENCH_QUERY_KEEP" && cp -R "$W/." "$BENCH_QUERY_KEEP/" && echo "logs kept in $BENCH_QUERY_KEEP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== query benchmark: $EVENTS events, $ORGS organizations, last $DAYS days; $(nproc) cores; $("$BIN" version)"

# --- database ---------------------------------------------------------------------------
AUDIT_DB_URL="$ADMIN_URL dbname=bench_query"
export AUDIT_DB_URL
reuse=
if [ "${BENCH_QUERY_REUSE:-0}" = 1 ] &&
    [ "$(psql "$AUDIT_DB_URL" -qAtX -c 'SELECT count(*) > 0 FROM audit_log' 2>/dev/null)" = t ]; then
    reuse=1
    echo "-- BENCH_QUERY_REUSE=1: reusing the events already in database bench_query"
else
    psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE bench_query' >/dev/null ||
        die "could not create database bench_query"
fi
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }

# --- load: every event through auditdb import (validated, hashed, signed, chained) --------
if [ -z "$reuse" ]; then
    echo "-- loading $EVENTS events with $IMPORTERS auditdb import process(es) (timeout ${LOAD_TIMEOUT}s)"
    t0=$(now)
    g=0
    while [ "$g" -lt "$IMPORTERS" ]; do
        (
            python3 "$HERE/gen_events.py" --events "$EVENTS" --orgs "$ORGS" --days "$DAYS" \
                --group "$g" --groups "$IMPORTERS" 2>"$W/gen.$g.err" |
                timeout -k 10 "$LOAD_TIMEOUT" "$BIN" import --quiet - >"$W/import.$g.log" 2>&1
            echo $? >"$W/import.$g.rc"
        ) &
        g=$((g + 1))
    done
    wait
    t1=$(now)
    g=0
    while [ "$g" -lt "$IMPORTERS" ]; do
        rc=$(cat "$W/import.$g.rc" 2>/dev/null || echo 1)
        if [ "$rc" != 0 ] || [ -s "$W/gen.$g.err" ]; then
            tail -n 5 "$W/import.$g.log" "$W/gen.$g.err" >&2
            die "import group $g failed (exit $rc)"
        fi
        g=$((g + 1))
    done
    loaded=$(psql "$AUDIT_DB_URL" -qAtX -c 'SELECT count(*) FROM audit_log') || die "count failed"
    load_s=$(elapsed "$t0" "$t1")
    load_rate=$(awk -v n="$loaded" -v s="$load_s" 'BEGIN { printf "%.0f", n / s }')
    echo "loaded $loaded events in $load_s s: $load_rate events/s (generator piped into auditdb import)"

    t0=$(now)
    psql "$AUDIT_DB_URL" -qX -v ON_ERROR_STOP=1 -c 'VACUUM ANALYZE audit_log' || die "VACUUM ANALYZE failed"
    echo "VACUUM ANALYZE audit_log: $(elapsed "$t0" "$(now)") s"
else
    loaded=$(psql "$AUDIT_DB_URL" -qAtX -c 'SELECT count(*) FROM audit_log') || die "count failed"
    load_s=-
    load_rate=-
fi
psql "$AUDIT_DB_URL" -qAtX -F' ' -c "SELECT 'audit_log: ' || count(*) || ' partitions, '
        || pg_size_pretty(sum(pg_table_size(inhrelid))) || ' table, '
        || pg_size_pretty(sum(pg_indexes_size(inhrelid))) || ' indexes'
    FROM pg_inherits WHERE inhparent = 'audit_log'::regclass"

# --- keys ---------------------------------------------------------------------------------
: >"$W/keys"
for org in $QORGS; do
    out=$("$BIN" keys create --org "$org" --role admin --name bench-query 2>&1) || {
        echo "$out" >&2
        die "keys create --org $org failed"
    }
    key=$(echo "$out" | sed -n 's/^key (shown once, store it now): //p')
    [ -n "$key" ] || die "no key in: $out"
    printf '%s %s\n' "$org" "$key" >>"$W/keys"
done
out=$("$BIN" keys create --org "$INGEST_ORG" --role ingest --name bench-ingest 2>&1) || {
    echo "$out" >&2
    die "keys create --org $INGEST_ORG failed"
}
INGEST_KEY=$(echo "$out" | sed -n 's/^key (shown once, store it now): //p')
[ -n "$INGEST_KEY" ] || die "no key in: $out"

# --- server -------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    die "no free port"
BASE=http://127.0.0.1:$PORT
# the per-key rate limiter stays on (its cost is part of every request) but high enough not to
# refuse the benchmark's own load: the ingest key alone sends a few hundred requests a second
AUDITDB_RATE_LIMIT_RPS=$RATE_RPS AUDITDB_RATE_LIMIT_BURST=$RATE_RPS \
    "$BIN" serve --listen "127.0.0.1:$PORT" --threads "$SERVER_THREADS" >"$W/serve.log" 2>&1 &
SERVER_PID=$!
i=0
until curl -fsS --max-time 2 -o /dev/null "$BASE/live" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 60 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail -20 "$W/serve.log" >&2
        die "auditdb serve did not answer /live within 30 s"
    fi
    sleep 0.5
done
echo "-- auditdb serve on $BASE (pid $SERVER_PID, --threads $SERVER_THREADS," \
    "AUDITDB_RATE_LIMIT_RPS=$RATE_RPS)"

# --- request lists: one line per organization, "KEY<TAB>PATH" -----------------------------
filters() { # ORG: the organization's five busiest practitioners and two actions
    n=${1#org-}
    echo "principalIds=prac-$n-0001,prac-$n-0002,prac-$n-0003,prac-$n-0004,prac-$n-0005&actions=$FILTER_ACTIONS"
}

# walk KEY QUERY: follows nextCursor from the first page for at most DEPTH pages (limit 50).
# Sets WALK_CURSOR to the cursor of the deepest full page reached and WALK_PAGES to the number
# of pages before it (so that page starts WALK_PAGES * 50 events deep).
walk() {
    WALK_CURSOR=
    WALK_PAGES=0
    prev=
    cur=
    while [ "$WALK_PAGES" -lt "$DEPTH" ]; do
        body=$(curl -sS --max-time 10 -H "X-API-Key: $1" "$BASE/api/v1/audit/events?limit=50&$2${cur:+&cursor=$cur}") ||
            return 1
        next=$(printf '%s' "$body" | sed -n 's/.*"nextCursor":"\([A-Za-z0-9_-]*\)".*/\1/p')
        case $body in *'"events":'*) ;; *) echo "$body" >&2; return 1 ;; esac
        if [ -z "$next" ]; then
            # the page at $cur is the last one and may be short: step back to a full page
            if [ "$WALK_PAGES" -gt 0 ]; then
                cur=$prev
                WALK_PAGES=$((WALK_PAGES - 1))
            fi
            break
        fi
        prev=$cur
        cur=$next
        WALK_PAGES=$((WALK_PAGES + 1))
    done
    WALK_CURSOR=$cur
}

echo "-- following nextCursor up to $DEPTH pages deep for ${QORGS}"
t0=$(now)
: >"$W/first" ; : >"$W/first_f" ; : >"$W/deep" ; : >"$W/deep_f"
deep_min= ; deep_max=0 ; deepf_min= ; deepf_max=0
while read -r org key; do
    f=$(filters "$org")
    printf '%s\t/api/v1/audit/events?limit=50\n' "$key" >>"$W/first"
    printf '%s\t/api/v1/audit/events?limit=50&%s\n' "$key" "$f" >>"$W/first_f"
    walk "$key" "" || die "walking $org failed"
    [ -n "$WALK_CURSOR" ] || die "$org has fewer than 2 pages"
    printf '%s\t/api/v1/audit/events?limit=50&cursor=%s\n' "$key" "$WALK_CURSOR" >>"$W/deep"
    d=$((WALK_PAGES * 50))
    [ -z "$deep_min" ] || [ "$d" -lt "$deep_min" ] && deep_min=$d
    [ "$d" -gt "$deep_max" ] && deep_max=$d
    walk "$key" "$f" || die "walking $org with filters failed"
    [ -n "$WALK_CURSOR" ] || die "$org has fewer than 2 filtered pages"
    printf '%s\t/api/v1/audit/events?limit=50&%s&cursor=%s\n' "$key" "$f" "$WALK_CURSOR" >>"$W/deep_f"
    d=$((WALK_PAGES * 50))
    [ -z "$deepf_min" ] || [ "$d" -lt "$deepf_min" ] && deepf_min=$d
    [ "$d" -gt "$deepf_max" ] && deepf_max=$d
    echo "   $org: deep page at $((WALK_PAGES * 50)) filtered events"
done <"$W/keys"
echo "   done in $(elapsed "$t0" "$(now)") s; deep page starts $deep_min..$deep_max events deep," \
    "filtered deep page $deepf_min..$deepf_max filtered events deep"

# --- the machine ------------------------------------------------------------------------
# A virtual machine shares its host: now and then a CPU is taken away for milliseconds, and
# whatever request runs there is late by as much. How often, measured idle: how late a 1 ms
# sleep wakes up, and the share of the CPUs' time lost in gaps of 1 ms or more (busy loops).
jit=$("$LOADGEN" --jitter 5 | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms", v["p50_us"] / 1000, v["p99_us"] / 1000,
           v["p999_us"] / 1000, v["max_us"] / 1000 }')
echo "-- how late a 1 ms sleep wakes up on this machine, idle: $jit"
stalls=$("$LOADGEN" --stalls 5 | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.2f %% of the time of %d CPUs lost in %d gaps of 1 ms or more (%d of 5 ms or more), longest %.2f ms",
           v["pct_in_1ms_gaps"], v["cpus"], v["gaps_1ms"], v["gaps_5ms"], v["max_us"] / 1000 }')
echo "-- CPU stalls over 5 s, busy: $stalls"

# --- the reference: PostgreSQL alone, by the same client, at the same moments ---------------
# The organizations' first pages as raw prepared SELECT * (generic plan, no HTTP, no tenant
# setting, no column rendering), sent by loadgen --pg on the same open-loop schedule at
# BENCH_QUERY_REF_RATE while each scenario runs, latency from the moment each was due. The
# host's stalls and steal come and go within minutes: run side by side, the reference meets the
# same ones, and the pages' p99 is reported against it (x raw).
while read -r org key; do
    printf '%s\n' "SELECT * FROM audit_log WHERE organization_id = '$org' AND \"timestamp\" <= now() + interval '2 days' ORDER BY \"timestamp\" DESC, id DESC LIMIT 51"
done <"$W/keys" >"$W/ref_page.sql"

# --- concurrent ingestion -----------------------------------------------------------------
# One open-loop POST stream for the whole measurement: an event every 1/INGEST_RATE s, each
# validated, hashed, signed, chained and committed before its 201. Stopped (SIGINT) after it.
ncap=0
for r in $CAPACITY_RATES; do ncap=$((ncap + 1)); done
ingest_d=$(((DURATION + WARMUP + 3) * 4 + (CAPACITY_DURATION + WARMUP + 3) * 4 * ncap + 60))
"$LOADGEN" --target "127.0.0.1:$PORT" --rate "$INGEST_RATE" --duration "$ingest_d" --conns "$CONNS" \
    --post-org "$INGEST_ORG" --post-key "$INGEST_KEY" >"$W/ingest.out" 2>&1 &
INGEST_PID=$!
sleep 2
kill -0 "$INGEST_PID" 2>/dev/null || { cat "$W/ingest.out" >&2; die "the ingest load did not start"; }
echo "-- ingesting into $INGEST_ORG meanwhile: $INGEST_RATE events/s, one POST /api/v1/audit/events each"

# --- measurements -------------------------------------------------------------------------
echo "-- audit_log has $(psql "$AUDIT_DB_URL" -qAtX -c "SELECT count(*) FROM pg_inherits
    WHERE inhparent = 'audit_log'::regclass") partitions now"
echo "-- $RATE pages/s per scenario for ${DURATION}s (after ${WARMUP}s unreported), open loop," \
    "rotating through $(wc -l <"$W/keys") organizations; then the load curve: $CAPACITY_RATES pages/s" \
    "for ${CAPACITY_DURATION}s each, until a p99 passes 4 x the goal"

# measure NAME FILE RATE SECONDS: one open-loop run; sets RUN_LINE to loadgen's RESULT line and
# the server's own p50/p99 (durationMs in its access log) for the same GETs, and of that the
# time on the database (dbMs: connection, statements, result), warm-up left out
cpu_ticks() { # "total steal" from /proc/stat: steal is CPU time the hypervisor gave to others
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9 }' /proc/stat
}

measure() {
    l0=$(wc -l <"$W/serve.log")
    c0=$(cpu_ticks)
    ref_pid=
    if [ "${5:-}" = ref ]; then
        PGOPTIONS='-c plan_cache_mode=force_generic_plan' timeout -k 5 $(($4 + WARMUP + 30)) "$LOADGEN" \
            --pg "$AUDIT_DB_URL" --sql "$W/ref_page.sql" --rate "$REF_RATE" --duration "$4" \
            --warmup "$WARMUP" --conns 8 >"$W/$1.$3.ref" 2>&1 &
        ref_pid=$!
    fi
    timeout -k 5 $(($4 + WARMUP + 30)) "$LOADGEN" --target "127.0.0.1:$PORT" --rate "$3" \
        --duration "$4" --warmup "$WARMUP" --conns "$CONNS" --requests "$2" >"$W/$1.$3.out" 2>&1
    [ -z "$ref_pid" ] || wait "$ref_pid"
    l1=$(wc -l <"$W/serve.log")
    c1=$(cpu_ticks)
    RUN_LINE=$(grep '^RESULT ' "$W/$1.$3.out")
    if [ -z "$RUN_LINE" ]; then
        cat "$W/$1.$3.out" >&2
        die "loadgen gave no result for $1 at $3/s"
    fi
    sed -n "$((l0 + 1)),${l1}p" "$W/serve.log" | grep '"method":"GET"' | grep '"path":"/api/v1/audit/events"' |
        sed -n 's/.*"durationMs":\([0-9.]*\).*/\1/p' | tail -n +$((WARMUP * $3 + 1)) | sort -n >"$W/$1.$3.server"
    sed -n "$((l0 + 1)),${l1}p" "$W/serve.log" | grep '"method":"GET"' | grep '"path":"/api/v1/audit/events"' |
        sed -n 's/.*"dbMs":\([0-9.]*\).*/\1/p' | tail -n +$((WARMUP * $3 + 1)) | sort -n >"$W/$1.$3.db"
    pcts() { # PREFIX FILE: PREFIX_p50_us and PREFIX_p99_us of the sorted ms values in FILE
        awk -v p="$1" '{ v[NR] = $1 } END {
            if (NR == 0) { printf "%s_p50_us=-1 %s_p99_us=-1", p, p; exit }
            i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            printf "%s_p50_us=%d %s_p99_us=%d", p, v[i50] * 1000, p, v[i99] * 1000 }' "$2"
    }
    RUN_LINE="$RUN_LINE $(pcts srv "$W/$1.$3.server") $(pcts db "$W/$1.$3.db")"
    RUN_LINE="$RUN_LINE $(echo "$c0 $c1" | awk '{ d = $3 - $1; s = $4 - $2; printf("steal_pm=%d", (d > 0 && s > 0) ? s * 1000 / d : 0) }')"
    if [ -n "$ref_pid" ]; then
        ref=$(grep '^RESULT ' "$W/$1.$3.ref")
        [ -n "$ref" ] || { cat "$W/$1.$3.ref" >&2; die "the reference (loadgen --pg) gave no result for $1"; }
        RUN_LINE="$RUN_LINE $(echo " $ref" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "ref_p50_us=%d ref_p99_us=%d ref_bad=%d", v["p50_us"], v["p99_us"],
                   v["non2xx"] + v["socket_errors"] + v["timeouts"] }')"
    fi
}

field() { # NAME LINE
    echo "$2" | sed -n "s/.* $1=\([0-9-]*\).*/\1/p"
}

# meets LINE: the run met the goal (p99 under it, every request answered 2xx)
meets() {
    [ "$(field p99_us "$1")" -lt "$GOAL_US" ] &&
        [ "$(($(field non2xx "$1") + $(field socket_errors "$1") + $(field timeouts "$1")))" = 0 ]
}

: >"$W/results"
: >"$W/capacity"
verdict() { if meets "$RUN_LINE"; then echo PASS; else echo MISS; fi; }
ms() { awk -v u="$(field p99_us "$RUN_LINE")" 'BEGIN { printf "%.2f", u / 1000 }'; }
for scen in first first_f deep deep_f; do
    case $scen in
    first) label="first page" ;;
    first_f) label="first page, filtered" ;;
    deep) label="deep page ($deep_min-$deep_max deep)" ;;
    deep_f) label="deep page, filtered ($deepf_min-$deepf_max deep)" ;;
    esac
    measure "$scen" "$W/$scen" "$RATE" "$DURATION" ref
    echo "$label|$RUN_LINE" >>"$W/results"
    # the load curve: the same scenario at higher rates, until one's p99 passes 4 x the goal
    # or answers go missing; the capacity is the highest rate that met the goal
    cap=
    if meets "$RUN_LINE"; then cap=$RATE; fi
    sweep=" $RATE/s: $(ms) $(verdict);"
    stopped=
    for r in $CAPACITY_RATES; do
        [ "$r" -gt "$RATE" ] || continue
        if [ -n "$stopped" ]; then
            sweep="$sweep $r/s: not tried;"
            continue
        fi
        measure "$scen" "$W/$scen" "$r" "$CAPACITY_DURATION"
        if meets "$RUN_LINE"; then cap=$r; fi
        sweep="$sweep $r/s: $(ms) $(verdict);"
        bad=$(($(field non2xx "$RUN_LINE") + $(field socket_errors "$RUN_LINE") + $(field timeouts "$RUN_LINE")))
        if [ "$(field p99_us "$RUN_LINE")" -ge $((GOAL_US * 4)) ] || [ "$bad" -gt 0 ]; then stopped=1; fi
    done
    echo "$label|$cap|$sweep" >>"$W/capacity"
done

stop_pid "$INGEST_PID" INT 15
INGEST_PID=
ingest=$(grep '^RESULT ' "$W/ingest.out")
[ -n "$ingest" ] || { cat "$W/ingest.out" >&2; echo "query.sh: the ingest load gave no result" >&2; }

# --- report -------------------------------------------------------------------------------
echo
echo "filters: principalIds = the organization's 5 busiest practitioners, actions=$FILTER_ACTIONS"
echo "latency: from the moment each request was due to its whole answer read; $RATE pages/s, open loop;" \
    "server-side: the access log's durationMs; of it db: its dbMs, the request's time on PostgreSQL;" \
    "steal: CPU time the hypervisor gave to other machines meanwhile (/proc/stat);" \
    "raw: the reference meanwhile ($REF_RATE raw SELECTs/s of the first pages, no HTTP); x raw: the p99 over the raw p99"
awk -F'|' -v goal="$GOAL_US" '
function field(s, name) {
    if (match(s, " " name "=[0-9-]+")) return substr(s, RSTART + length(name) + 2, RLENGTH - length(name) - 2)
    return -1
}
BEGIN {
    printf "%-40s %8s %6s %7s %7s %7s %8s %7s %6s  %-10s %-22s %-18s %7s  %-16s %s\n", "scenario", "requests", "req/s",
           "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "p99 < 5 ms", "server-side p50/p99 ms",
           "of it db p50/p99", "steal", "raw p50/p99 ms", "x raw"
    miss = 0
}
{
    line = " " $2
    req = field(line, "requests"); dur = field(line, "duration_us")
    bad = field(line, "non2xx") + field(line, "socket_errors") + field(line, "timeouts")
    p99 = field(line, "p99_us")
    ok = (p99 + 0 < goal + 0 && bad == 0) ? "PASS" : "MISS"
    if (ok == "MISS") miss++
    s50 = field(line, "srv_p50_us"); s99 = field(line, "srv_p99_us")
    srv = s50 < 0 ? "-" : sprintf("%.2f / %.2f", s50 / 1000, s99 / 1000)
    d50 = field(line, "db_p50_us"); d99 = field(line, "db_p99_us")
    dbt = d50 < 0 ? "-" : sprintf("%.2f / %.2f", d50 / 1000, d99 / 1000)
    r50 = field(line, "ref_p50_us"); r99 = field(line, "ref_p99_us")
    raw = r50 < 0 ? "-" : sprintf("%.2f / %.2f%s", r50 / 1000, r99 / 1000, field(line, "ref_bad") > 0 ? " (errors)" : "")
    ratio = r99 > 0 ? sprintf("%.1f", p99 / r99) : "-"
    printf "%-40s %8d %6.0f %7.2f %7.2f %7.2f %8.2f %7.2f %6d  %-10s %-22s %-18s %5.1f %%  %-16s %s\n", $1, req,
           req / (dur / 1e6), field(line, "p50_us") / 1000, field(line, "p90_us") / 1000, p99 / 1000,
           field(line, "p999_us") / 1000, field(line, "max_us") / 1000, bad, ok, srv, dbt, field(line, "steal_pm") / 10,
           raw, ratio
}
END { printf "goal p99 < 5 ms: %s\n", miss ? "MISS (" miss " scenario(s))" : "PASS" }
' "$W/results"
echo
echo "load curve: p99 ms at each page rate (same ingestion; stops after a p99 over 4 x the goal);" \
    "capacity: the highest rate whose p99 stayed under 5 ms with every answer 2xx"
awk -F'|' '{ printf "%-40s capacity %s;%s\n", $1, $2 == "" ? "none of the rates tried" : $2 " pages/s", $3 }' \
    "$W/capacity"
if [ -n "$ingest" ]; then
    echo "$ingest" | awk -v rate="$INGEST_RATE" '
    function field(s, name) {
        if (match(s, " " name "=[0-9]+")) return substr(s, RSTART + length(name) + 2, RLENGTH - length(name) - 2)
        return 0
    }
    { d = field($0, "duration_us"); c = field($0, "ok")
      printf "ingestion meanwhile: %d events due at %d/s over %.1f s, %d created (201 after commit), %d errors;" \
             " POST p50 %.2f ms, p99 %.2f ms\n", field($0, "requests"), rate, d / 1e6, c,
             field($0, "non2xx") + field($0, "socket_errors") + field($0, "timeouts"),
             field($0, "p50_us") / 1000, field($0, "p99_us") / 1000 }'
fi
echo "wake-up lateness of a 1 ms sleep, idle machine (loadgen --jitter 5): $jit"
echo "CPU stalls, busy machine (loadgen --stalls 5): $stalls"
echo "load: $loaded events in $load_s s ($load_rate events/s)"

cleanup
trap - EXIT
exit 0
