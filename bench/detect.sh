#!/bin/sh
# bench/detect.sh - what the detection rules cost ingestion (issue 20): bench/http_ingest.sh
# (HTTP bulk requests of 100 events over 16 connections into a fresh database, each window of
# events followed by a raw COPY of the same rows into a fresh database of the same schema, in
# the same run) with the detection engine on and every organization's default rules (migration
# 0035), then the same with AUDITDB_DETECT=false, then on again; prints each run's
# HTTP bulk / COPY ratio and how far the engine had got when serve stopped.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/detect.sh
# Knobs: BENCH_DETECT_EVENTS (120000), BENCH_DETECT_RUNS ("on off on"), and http_ingest.sh's
# (BENCH_HTTP_ZONE: the organizations' zone, to run by day or by night for the off-hours rule).
# Method and figures: bench/README.md, "Detection rules".
set -u

EVENTS=${BENCH_DETECT_EVENTS:-120000}
RUNS=${BENCH_DETECT_RUNS:-on off on}
case $EVENTS in '' | *[!0-9]*) echo "detect.sh: BENCH_DETECT_EVENTS must be a whole number" >&2; exit 1 ;; esac
[ "$EVENTS" -ge 60000 ] || { echo "detect.sh: BENCH_DETECT_EVENTS must be at least 60000" >&2; exit 1; }
for v in ADMIN_URL RUN_TMP; do
    eval "[ -n \"\${$v:-}\" ]" || { echo "detect.sh: $v is not set: run me through scripts/with-cluster.sh" >&2; exit 1; }
done

echo "== detection rules and ingestion: bench/http_ingest.sh with the engine on and off ($EVENTS events a run)"
summary=""
for run in $RUNS; do
    case $run in on) flag=true ;; off) flag=false ;; *) echo "detect.sh: runs are on or off" >&2; exit 1 ;; esac
    out=$(AUDITDB_DETECT=$flag BENCH_HTTP_EVENTS=$EVENTS BENCH_HTTP_WINDOW=${BENCH_HTTP_WINDOW:-30000} \
        BENCH_HTTP_AFTER=$((EVENTS - 30000)) BENCH_HTTP_SINGLE=${BENCH_HTTP_SINGLE:-2000} \
        sh "$(dirname "$0")/http_ingest.sh" 2>&1) || { echo "$out" | tail -20; exit 1; }
    ratio=$(echo "$out" | sed -n 's/.*HTTP bulk \/ COPY, whole run (goal >= 0.9) *\([0-9.]*\).*/\1/p')
    rate=$(echo "$out" | sed -n 's/.*HTTP bulk, whole run ([0-9]* events) *\([0-9]*\) events\/s.*/\1/p')
    eng=$(psql "$ADMIN_URL dbname=bench_http" -qAtX -c "
        SELECT coalesce(sum(c.evaluated), 0) || ' of ' || (SELECT sum(last_seq) FROM audit_chain_head)
               || ' events evaluated, ' || (SELECT count(*) FROM detection_hits) || ' hits, '
               || (SELECT count(*) FROM alerts WHERE source = 'auditdb-detect') || ' alerts, '
               || coalesce(sum(c.late_events), 0) || ' late'
          FROM detection_cursor c WHERE c.source = 'events'" 2>/dev/null)
    echo "$out" | grep "local time" | sed 's/^/  /'
    line=$(printf 'rules %-3s  HTTP bulk %6s events/s   HTTP bulk / COPY %s   engine: %s' "$run" "$rate" "$ratio" \
        "$([ "$run" = on ] && echo "$eng" || echo off)")
    echo "  $line"
    summary="$summary
  $line"
done
echo "-- summary (compare ratios within this run; goal with rules on: >= 0.9)$summary"
echo "   load: $(uptime)"
