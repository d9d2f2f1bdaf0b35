#!/bin/sh
# bench/reports.sh - a HIPAA audit trail report over many events (issue 19, "Must show"):
# BENCH_REPORT_EVENTS events of one organization loaded through auditdb import (validated,
# hashed, signed, chained), then POST /api/v1/compliance/reports/hipaa over their whole period
# through auditdb serve (figures, tables, charts, violations, checkpoint, artifact stored and
# signed), timed by curl, serve's RSS sampled every 50 ms; against a raw `COPY (SELECT <the
# columns the report reads> FROM audit_log WHERE <the organization and period>) TO STDOUT` of
# the same rows, measured in the same run. Figures and method: bench/README.md, "Reports".
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/reports.sh
# knobs: BENCH_REPORT_EVENTS (1000000; 20000 while developing)
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
EVENTS=${BENCH_REPORT_EVENTS:-1000000}
SERVER_PID=

die() { echo "reports.sh: $*" >&2; exit 1; }
for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/reports.sh"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
case $EVENTS in '' | *[!0-9]*) die "BENCH_REPORT_EVENTS \"$EVENTS\" is not a whole number" ;; esac
W="$RUN_TMP/bench_reports"
mkdir -p "$W"
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; }
trap cleanup EXIT

AUDIT_DB_URL="$ADMIN_URL dbname=bench_reports"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_reports' -c 'CREATE DATABASE bench_reports' >/dev/null ||
    die "could not create the database"
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }

# --- load: 60 % PHI reads, 15 % PHI updates, 1 % failures, 0.5 % break-glass, the rest logins
# and internal reads; 400 practitioners, 20,000 patients; the last 30 days.
echo "-- loading $EVENTS events"
t0=$(date +%s)
python3 - "$EVENTS" <<'EOF' | "$BIN" import --quiet - >"$W/import.log" 2>&1 || die "import failed: $(tail -3 "$W/import.log")"
import datetime, json, sys
n = int(sys.argv[1])
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
step = 29 * 86400 / max(n, 1)
out = sys.stdout
for i in range(n):
    t = (start + datetime.timedelta(seconds=i * step)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
    k = i % 200
    action, status, cls = "fhir.patient.read", "success", "PHI"
    if k < 30: action = "fhir.patient.update"
    elif k < 32: status = "failure"
    elif k == 32: action = "break-glass.access"
    elif k < 80: action, cls = ("portal.login" if k % 2 else "report.view"), "INTERNAL"
    out.write(json.dumps({"timestamp": t, "action": action, "status": status, "organizationId": "org-r",
        "principalId": "dr-%d" % (i * 7919 % 400), "targetResourceType": "Patient",
        "targetResourceId": "p-%d" % (i * 104729 % 20000), "dataClassification": cls,
        "details": {"n": i, "note": "x" * 80}}) + "\n")
EOF
echo "   loaded in $(( $(date +%s) - t0 )) s"
psql "$AUDIT_DB_URL" -qAtX -c 'VACUUM ANALYZE audit_log' >/dev/null
KEY=$("$BIN" keys create --org org-r --role auditor | sed -n 's/^key (shown once, store it now): //p')
FROM=$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT to_char(min(\"timestamp\") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM audit_log")
TO=$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT to_char(max(\"timestamp\") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM audit_log")
rows=$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT count(*) FROM audit_log WHERE organization_id = 'org-r'")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$port" >"$W/serve.out" 2>"$W/serve.log" &
SERVER_PID=$!
i=0
while ! curl -fs -o /dev/null "http://127.0.0.1:$port/live"; do
    i=$((i + 1)); [ $i -gt 600 ] && die "serve did not start: $(tail -5 "$W/serve.log")"; sleep 0.1
done
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status"; }
now() { date +%s.%N; }
BODY="{\"criteria\":{\"dateRange\":{\"startDate\":\"$FROM\",\"endDate\":\"$TO\"}}}"
# the columns the report's queries read (figures, tables, charts, violations)
COLS='event_id, "timestamp", id, action, status, principal_id, target_resource_type, target_resource_id, data_classification, outcome_description, details'

# warm both paths once (caches), then measure the report and the reference in turn
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/compliance/reports/hipaa" -H "X-API-Key: $KEY" \
    -H 'Content-Type: application/json' -d "$BODY"
psql "$AUDIT_DB_URL" -qAtX -c "COPY (SELECT $COLS FROM audit_log WHERE organization_id = 'org-r' AND \"timestamp\" >= '$FROM' AND \"timestamp\" <= '$TO') TO STDOUT" >/dev/null
base=$(rss)
( while :; do r=$(rss) || break; [ -n "$r" ] && echo "$r"; sleep 0.05; done ) >"$W/rss" 2>/dev/null &
SAMPLER=$!
a=$(now)
code=$(curl -s -o "$W/report.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/compliance/reports/hipaa" \
    -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d "$BODY")
b=$(now)
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
[ "$code" = 200 ] || die "the report answered $code: $(head -c 300 "$W/report.json")"
peak=$(sort -n "$W/rss" | tail -1)
c=$(now)
ref=$(psql "$AUDIT_DB_URL" -qAtX -c "COPY (SELECT $COLS FROM audit_log WHERE organization_id = 'org-r' AND \"timestamp\" >= '$FROM' AND \"timestamp\" <= '$TO') TO STDOUT" | wc -c)
d=$(now)
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["totalEvents"])' "$W/report.json")
[ "$total" = "$rows" ] || die "the report counted $total events of $rows"
python3 - "$rows" "$a" "$b" "$c" "$d" "$ref" "$base" "$peak" <<'EOF'
import sys
rows = int(sys.argv[1])
a, b, c, d = map(float, sys.argv[2:6])
ref, base, peak = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8] or 0)
print("   HIPAA report of %d events: %.2f s (%.0f events/s); COPY TO of the rows it reads: %.2f s (%.0f MB)"
      % (rows, b - a, rows / (b - a), d - c, ref / 1e6))
print("   report time / COPY TO time: %.2f (COPY TO rate / report rate)" % ((b - a) / (d - c)))
print("   serve RSS %.0f MiB -> peak %.0f MiB: growth %.1f MiB" % (base / 1024, peak / 1024, max(peak - base, 0) / 1024))
EOF
