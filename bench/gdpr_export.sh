#!/bin/sh
# bench/gdpr_export.sh - the GDPR export of one data subject with many events (issue 17, "Must
# show"): POST /api/v1/compliance/gdpr/export of BENCH_GDPR_EVENTS events of one subject through
# auditdb serve, read by curl; serve's RSS sampled every 50 ms; its rate as a ratio of a raw
# `COPY (SELECT <the same columns> FROM audit_log WHERE <the subject's rows> ORDER BY
# "timestamp", id) TO STDOUT` of the very same rows, measured in the same run.
# Goal: RSS growth under 64 MiB. Figures and method: bench/README.md, "GDPR export".
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/gdpr_export.sh
# knobs: BENCH_GDPR_EVENTS (1000000), BENCH_GDPR_FORMATS ("json csv"), BENCH_GDPR_OTHERS
# (events of other subjects in the organization, 100000)
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
EVENTS=${BENCH_GDPR_EVENTS:-1000000}
OTHERS=${BENCH_GDPR_OTHERS:-100000}
FORMATS=${BENCH_GDPR_FORMATS:-json csv}
GOAL_MIB=64
SERVER_PID=

die() { echo "gdpr_export.sh: $*" >&2; exit 1; }
for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/gdpr_export.sh"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
W="$RUN_TMP/bench_gdpr"
mkdir -p "$W"
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; }
trap cleanup EXIT

AUDIT_DB_URL="$ADMIN_URL dbname=bench_gdpr"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_gdpr' -c 'CREATE DATABASE bench_gdpr' >/dev/null ||
    die "could not create the database"
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }

# --- load: every event through auditdb import (validated, hashed, signed, chained) --------------
# the subject acts (principalId) in 4 of 5 events and is acted on (targetResourceId) in the
# fifth; OTHERS events of other subjects are interleaved. Times: the last 30 days.
echo "-- loading $EVENTS events of subject-1 and $OTHERS of others"
t0=$(date +%s)
python3 - "$EVENTS" "$OTHERS" <<'EOF' | "$BIN" import --quiet - >"$W/import.log" 2>&1 || die "import failed: $(tail -3 "$W/import.log")"
import datetime, json, sys
n, others = int(sys.argv[1]), int(sys.argv[2])
total = n + others
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
step = 29 * 86400 / max(total, 1)
out = sys.stdout
k = 0
for i in range(total):
    t = (start + datetime.timedelta(seconds=i * step)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
    mine = others == 0 or i % (total // others if others else 1) != 0 or k >= n
    if mine and k < n:
        k += 1
        acts = k % 5 != 0
        e = {"timestamp": t, "action": "fhir.patient.read" if k % 3 else "portal.login", "status": "success",
             "organizationId": "org-b", "principalId": "subject-1" if acts else "dr-%d" % (k % 50),
             "targetResourceType": "Patient", "targetResourceId": "p-%d" % (k % 1000) if acts else "subject-1",
             "dataClassification": "PHI", "details": {"n": k, "principalRole": "physician", "note": "x" * 120}}
    else:
        e = {"timestamp": t, "action": "fhir.patient.read", "status": "success", "organizationId": "org-b",
             "principalId": "other-%d" % (i % 500), "targetResourceType": "Patient", "targetResourceId": "p-%d" % (i % 1000),
             "dataClassification": "PHI"}
    out.write(json.dumps(e) + "\n")
EOF
echo "   loaded in $(( $(date +%s) - t0 )) s"
psql "$AUDIT_DB_URL" -qAtX -c 'VACUUM ANALYZE audit_log' >/dev/null
subject_rows=$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b' AND (principal_id = 'subject-1' OR target_resource_id = 'subject-1')")
KEY=$("$BIN" keys create --org org-b --role admin | sed -n 's/^key (shown once, store it now): //p')

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$port" >"$W/serve.out" 2>"$W/serve.log" &
SERVER_PID=$!
i=0
while ! curl -fs -o /dev/null "http://127.0.0.1:$port/live"; do
    i=$((i + 1)); [ $i -gt 300 ] && die "serve did not start: $(tail -5 "$W/serve.log")"; sleep 0.1
done
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status"; }
now() { date +%s.%N; }

COLS='id, "timestamp", action, status, principal_id, organization_id, target_resource_type, target_resource_id, outcome_description, correlation_id, data_classification, retention_policy, event_version, hash_algorithm, hash, signature, details::text, chain_seq, prev_chain_hash, chain_hash, ttl, archived_at, (details -> '"'"'sessionContext'"'"')::text, event_id'
echo "-- $subject_rows events of subject-1 (of $((EVENTS + OTHERS)) in the organization)"
for fmt in $FORMATS; do
    # warm both paths once (caches), then measure the export and the reference in turn
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/compliance/gdpr/export" -H "X-API-Key: $KEY" \
        -H 'Content-Type: application/json' -d "{\"dataSubjectId\":\"subject-1\",\"format\":\"$fmt\",\"includePersonalData\":false}"
    base=$(rss); peak=$base
    ( while :; do r=$(rss) || break; [ -n "$r" ] && echo "$r"; sleep 0.05; done ) >"$W/rss.$fmt" 2>/dev/null &
    SAMPLER=$!
    a=$(now)
    bytes=$(curl -s -o /dev/null -w '%{size_download}' -X POST "http://127.0.0.1:$port/api/v1/compliance/gdpr/export" \
        -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d "{\"dataSubjectId\":\"subject-1\",\"format\":\"$fmt\"}")
    b=$(now)
    kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
    peak=$(sort -n "$W/rss.$fmt" | tail -1)
    c=$(now)
    ref=$(psql "$AUDIT_DB_URL" -qAtX -c "COPY (SELECT $COLS FROM audit_log WHERE organization_id = 'org-b' AND (principal_id = 'subject-1' OR target_resource_id = 'subject-1') ORDER BY \"timestamp\", id) TO STDOUT" | wc -c)
    d=$(now)
    python3 - "$fmt" "$subject_rows" "$a" "$b" "$c" "$d" "$bytes" "$ref" "$base" "$peak" "$GOAL_MIB" <<'EOF'
import sys
fmt, rows = sys.argv[1], int(sys.argv[2])
a, b, c, d = map(float, sys.argv[3:7])
bytes_, ref, base, peak, goal = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10] or 0), int(sys.argv[11])
ex, cp = rows / (b - a), rows / (d - c)
growth = max(peak - base, 0) / 1024
print("   %-6s export %8.0f events/s (%.1f s, %.0f MB)  COPY TO %8.0f rows/s (%.1f s, %.0f MB)  ratio %.2f" %
      (fmt, ex, b - a, bytes_ / 1e6, cp, d - c, ref / 1e6, ex / cp))
print("   %-6s serve RSS %.0f MiB -> peak %.0f MiB: growth %.1f MiB (goal < %d): %s" %
      (fmt, base / 1024, peak / 1024, growth, goal, "met" if growth < goal else "NOT MET"))
EOF
done
