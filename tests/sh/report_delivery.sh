# report_delivery.sh - a report's artifact through the delivery queue (issue 19 "Delivery";
# docs/reports.md "Delivery of artifacts"): `auditdb reports deliver` calls adb__report_deliver
# (src/report/deliver.c) in one transaction as the organization, and serve's delivery threads
# send the artifact's exact bytes to the real peers: a webhook receiver that verifies every
# request (npm standardwebhooks v1, Node's Ed25519 v1a), then smtp-server (attachment), the S3
# peer that recomputes SigV4 with botocore, OpenSSH's sftp, and a download link fetched through
# serve. Each attempt lands in report_executions.delivery_attempts; an execution is delivered
# once; refusals (another organization's destination, none default, bad ids) queue nothing.
DELIVERY_DB=t_report_delivery
. tests/delivery_lib.sh

P="$TEST_TMP/peers"
rm -rf "$P"
sh tests/tools/transport_peers.sh start "$P" $$
trap 'cleanup; sh tests/tools/transport_peers.sh stop "$P"' EXIT
. "$P/env"
export AUDITDB_DELIVERY_CA_FILE="${CA_FILE:-}"
export AUDITDB_DOWNLOAD_DIR="$TEST_TMP/downloads"

# no report scheduler: the fixture executions below are "running" without a claim, which a
# scheduler would take for crashed runs and resume (generating and delivering on its own)
if ! AUDITDB_REPORT_SCHEDULER=false AUDITDB_DELIVERY_THREADS=2 AUDITDB_DELIVERY_POLL_MS=200 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"
SAVE="$TEST_TMP/received"
mkdir -p "$SAVE"
rmode "{\"saveDir\":\"$SAVE\"}"
hook h1 ""
H1=$DEST
post $D/destinations "{\"label\":\"b-hook\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"$RURL/hook\",\"method\":\"POST\",\"headers\":{},\"timeout\":5000,\"retryConfig\":{\"maxRetries\":2,\"backoffMultiplier\":1,\"maxBackoffDelay\":500}}}}" "$KB"
HB=$(jbody 'd["id"]')

# a schedule and two executions of org-a, as the scheduler would have written them
sql "INSERT INTO scheduled_reports (id, name, organization_id, report_type, criteria, format, schedule, delivery,
       export, notification, created_by)
     VALUES ('sr-1', 'weekly hipaa', 'org-a', 'HIPAA_AUDIT_TRAIL', '{}', 'pdf', '{}', '{\"destinations\":\"default\"}',
       '{}', '{}', 'test');
     INSERT INTO report_executions (id, scheduled_report_id, organization_id, run_id, scheduled_time, execution_time,
       status, trigger) VALUES
       ('ex-1', 'sr-1', 'org-a', 'run-1', now(), now(), 'running', 'scheduled'),
       ('ex-2', 'sr-1', 'org-a', 'run-2', now() + interval '1 minute', now(), 'running', 'manual'),
       ('ex-3', 'sr-1', 'org-a', 'run-3', now() + interval '2 minutes', now(), 'running', 'manual')" >/dev/null

# the artifact: binary, with NUL bytes and every byte value
ART="$TEST_TMP/hipaa-audit-trail-2026-12-01.pdf"
python3 -c 'import os,sys; open(sys.argv[1], "wb").write(b"%PDF-1.7\n" + bytes(range(256)) * 8 + os.urandom(4096))' "$ART"
SHA=$(sha256sum "$ART" | cut -c1-64)

deliver() { # deliver ARGS...: sets OUT, RC, ERR
    OUT=$("$AUDITDB_BIN" reports deliver --org org-a --file "$ART" "$@" 2>"$TEST_TMP/err")
    RC=$?
    ERR=$(cat "$TEST_TMP/err")
}
qcount() { sql "SELECT count(*) FROM delivery_queue"; }

# ---- refusals: nothing queued, the cause named ----
before=$(qcount)
deliver --destinations "$HB" --execution ex-1
expect_eq "another organization's destination: exit 1, named as not found" "1 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q "destinations\[0\]: no destination $HB" && echo yes)"
deliver --destinations 999999
expect_eq "an unknown destination: exit 1" 1 "$RC"
deliver --destinations "$H1,abc"
expect_eq "a destination id that is not one: exit 1, naming destinations[1]" "1 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q 'destinations\[1\]' && echo yes)"
deliver --destinations "$H1,$H1"
expect_eq "the same destination twice: exit 1" 1 "$RC"
deliver
expect_eq "\"default\" without a default destination: exit 1, said so" "1 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q 'no enabled default destination' && echo yes)"
expect_eq "no refusal queued anything, nor touched the execution" "$before null" \
    "$(qcount) $(sql "SELECT coalesce(delivery_id, 'null') FROM report_executions WHERE id = 'ex-1'")"

# ---- a webhook: the exact bytes, signed, the attempt in the execution ----
deliver --destinations "$H1" --execution ex-1 --report rep-1
DLV=$OUT
expect_match "deliver to a webhook: exit 0, the delivery id printed" '^0 dlv_[A-Za-z0-9_-]{22}$' "$RC $DLV"
WID=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$DLV'")
wait_for 20 '[ -f "$SAVE/$WID.body" ]'
check "the receiver verified and kept the artifact (v1 and v1a)" test -f "$SAVE/$WID.body"
check "the bytes received are the artifact's, byte for byte" cmp -s "$ART" "$SAVE/$WID.body"
expect_eq "no signature failed; v1 checked over the raw bytes (standardwebhooks cannot: not JSON)" "0 0 1" \
    "$(rj 'd["badV1"]') $(rj 'd["badV1a"]') $(rj 'd["rawV1"]')"
hdr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$SAVE/$WID.headers" "$1"; }
expect_eq "content type and file name in the headers" \
    'application/pdf|attachment; filename="hipaa-audit-trail-2026-12-01.pdf"' \
    "$(hdr content-type)|$(hdr content-disposition)"
wait_for 10 '[ "$(sql "SELECT jsonb_array_length(coalesce(delivery_attempts, '"'[]'"')) FROM report_executions WHERE id = '"'ex-1'"'")" = 1 ]'
expect_eq "the execution names its delivery and its one attempt (delivered, completed, the webhook-id)" \
    "$DLV|1|delivered|completed|$WID|$H1|$DLV" \
    "$(sql "SELECT delivery_id || '|' || jsonb_array_length(delivery_attempts) || '|' || (delivery_attempts->0->>'status')
             || '|' || (delivery_attempts->0->>'itemStatus') || '|' || (delivery_attempts->0->>'webhookId')
             || '|' || (delivery_attempts->0->>'destinationId') || '|' || (delivery_attempts->0->>'deliveryId')
             FROM report_executions WHERE id = 'ex-1'")"
expect_eq "the queue item's payload: type report, file name, report, execution, schedule, SHA-256, size" \
    "report|hipaa-audit-trail-2026-12-01.pdf|rep-1|ex-1|sr-1|$SHA|$(wc -c <"$ART" | tr -d ' ')" \
    "$(sql "SELECT payload->>'type' || '|' || (payload->'metadata'->>'filename') || '|' || (payload->'metadata'->>'reportId')
             || '|' || (payload->'metadata'->>'executionId') || '|' || (payload->'metadata'->>'scheduledReportId')
             || '|' || (payload->'metadata'->>'sha256') || '|' || (payload->'metadata'->>'size') FROM delivery_queue WHERE id = '$WID'")"
get "$D/deliveries/$DLV"
expect_eq "the delivery API shows it completed" "200 completed" "$HTTP_STATUS $(jbody 'd["status"]')"
get "$D/deliveries/$DLV" "$KB"
expect_eq "another organization does not see it" 404 "$HTTP_STATUS"

deliver --destinations "$H1" --execution ex-1 --report rep-1
expect_eq "the same execution again: the same delivery, nothing queued again" "0 $DLV 1" \
    "$RC $OUT $(sql "SELECT count(*) FROM delivery_queue WHERE idempotency_key = 'report-execution:ex-1'")"

# ---- compression (rxlsx): the file sent packed, the artifact's exact bytes inside ----
deliver --destinations "$H1" --compression bzip2
expect_eq "compression bzip2: exit 1, naming delivery.compression, nothing queued" "1 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q 'delivery.compression' && echo yes)"
for z in gzip zip; do
    deliver --destinations "$H1" --compression "$z"
    ZID=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$OUT'")
    wait_for 20 '[ -f "$SAVE/$ZID.body" ]'
    if [ "$z" = gzip ]; then inner=$(gunzip -c <"$SAVE/$ZID.body" | sha256sum | cut -c1-64)
    else inner=$(python3 -c 'import hashlib,sys,zipfile
z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; n=z.namelist(); assert n == [sys.argv[2]], n
print(hashlib.sha256(z.read(n[0])).hexdigest())' "$SAVE/$ZID.body" "$(basename "$ART")"); fi
    expect_eq "compression $z: received packed, the artifact inside byte for byte" "$SHA" "$inner"
    WID=$ZID
    expect_eq "...as application/$z, the file name with its suffix, the artifact's SHA-256 in the payload" \
        "application/$z|$(basename "$ART").$( [ $z = gzip ] && echo gz || echo zip)|$SHA" \
        "$(hdr content-type | sed 's/;.*//')|$(hdr content-disposition | sed 's/.*filename="\(.*\)"/\1/')|$(sql "SELECT payload->'metadata'->>'artifactSha256' FROM delivery_queue WHERE id = '$ZID'")"
done

# ---- a failure, then a success: both attempts in the execution ----
rmode "{\"saveDir\":\"$SAVE\",\"failFirst\":1,\"failStatus\":503}"
deliver --destinations "$H1" --execution ex-2
DLV2=$OUT
wait_for 30 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV2'"'")" = delivered ]'
expect_eq "a 503 then a success: two attempts in the execution, failed (503, pending) then delivered" \
    "2|failed|503|pending|delivered|completed" \
    "$(sql "SELECT jsonb_array_length(delivery_attempts) || '|' || (delivery_attempts->0->>'status') || '|'
             || (delivery_attempts->0->>'httpStatus') || '|' || (delivery_attempts->0->>'itemStatus') || '|'
             || (delivery_attempts->1->>'status') || '|' || (delivery_attempts->1->>'itemStatus')
             FROM report_executions WHERE id = 'ex-2'")"
rmode "{\"saveDir\":\"$SAVE\"}"

# ---- "default": the organization's enabled destinations flagged default ----
sql "UPDATE delivery_destinations SET is_default = 'true' WHERE id = $H1" >/dev/null
deliver --execution ex-3
DLV3=$OUT
expect_eq "\"default\" goes to the default destination" "0 $H1" \
    "$RC $(sql "SELECT string_agg(destination_id::text, ',') FROM delivery_queue WHERE delivery_id = '$DLV3'")"
wait_for 20 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV3'"'")" = delivered ]'
expect_eq "delivered" delivered "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '$DLV3'")"

# ---- email, S3, SFTP and a download link: the same bytes at every peer ----
skip=""
for s in "${S3_SKIP:-}" "${SMTP_SKIP:-}" "${SSH_SKIP:-}"; do [ -n "$s" ] && skip="$s"; done
if [ -n "$skip" ]; then
    echo "ok - skip: the other transports ($skip)"
    finish
fi
SSH_KEY_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$SSH_KEY")
mk() { # mk LABEL TYPE CONFIG: sets ID
    post $D/destinations "{\"label\":\"$1\",\"type\":\"$2\",\"config\":$3}"
    ID=$(jbody 'd["id"]' 2>/dev/null)
    [ "$HTTP_STATUS" = 201 ] || { not_ok "create $2 destination"; diag "$HTTP_STATUS $HTTP_BODY"; }
}
mk mail email "{\"email\":{\"service\":\"smtp\",\"smtpConfig\":{\"host\":\"127.0.0.1\",\"port\":$SMTP_PORT,\"secure\":false,\"auth\":{\"user\":\"mailer\",\"pass\":\"s3cret pass\"}},\"from\":\"reports@auditdb.example\",\"subject\":\"Weekly report\",\"recipients\":[\"dpo@hospital.example\"]}}"
MAIL=$ID
mk bucket storage "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"reports\",\"region\":\"eu-west-3\",\"endpoint\":\"http://127.0.0.1:$S3_PORT\",\"accessKeyId\":\"AKIDAUDITDBTEST\",\"secretAccessKey\":\"wJalrXUtnFEMI/K7MDENG+bPxRfiCYauditdbKEY\"},\"path\":\"weekly\",\"retention\":{\"days\":30,\"autoCleanup\":false}}}"
S3=$ID
mk sftp sftp "{\"sftp\":{\"host\":\"127.0.0.1\",\"port\":$SSH_PORT,\"username\":\"$SSH_USER\",\"privateKey\":$SSH_KEY_JSON,\"path\":\"$P/sftp-reports\",\"hostKey\":\"$SSH_HOSTKEY\"}}"
SFTP=$ID
mk link download '{"download":{"expiryHours":2}}'
DL=$ID
sql "INSERT INTO report_executions (id, scheduled_report_id, organization_id, run_id, scheduled_time, execution_time,
       status, trigger) VALUES ('ex-4', 'sr-1', 'org-a', 'run-4', now() + interval '3 minutes', now(), 'running', 'scheduled')" >/dev/null
deliver --destinations "$MAIL,$S3,$SFTP,$DL" --execution ex-4
DLV4=$OUT
expect_eq "one delivery, four queue items carrying the artifact" "0 4" \
    "$RC $(sql "SELECT count(*) FROM delivery_queue WHERE delivery_id = '$DLV4' AND sha256(body) = decode('$SHA', 'hex')")"
obj="$P/s3/reports/weekly/hipaa-audit-trail-2026-12-01.pdf"; up="$P/sftp-reports/hipaa-audit-trail-2026-12-01.pdf"
mail_json="$P/smtp/mail-1.json"
wait_for 60 '[ "$(sql "SELECT count(*) FROM delivery_logs WHERE delivery_id = '"'$DLV4'"' AND status = '"'delivered'"'")" = 4 ] && [ -s "$mail_json" ]'
expect_eq "all four delivered" 4 "$(sql "SELECT count(*) FROM delivery_logs WHERE delivery_id = '$DLV4' AND status = 'delivered'")"
check "S3 (SigV4 checked by botocore) stored the artifact under its file name, byte for byte" cmp -s "$ART" "$obj"
check "sshd's SFTP received it under its file name, byte for byte" cmp -s "$ART" "$up"
att=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); a=m["attachments"][0]; print(a["file"] + "|" + a["filename"] + "|" + a["contentType"])' "$mail_json" 2>/dev/null)
expect_eq "the mail attaches it with its name and type" "hipaa-audit-trail-2026-12-01.pdf|application/pdf" "${att#*|}"
check "the attachment is the artifact, byte for byte" cmp -s "$ART" "${att%%|*}"
url=$(sql "SELECT signed_url FROM download_links WHERE delivery_id = '$DLV4'")
code=$(curl -s -o "$TEST_TMP/link.bin" -w '%{http_code}' "$BASE_URL$url")
expect_eq "the download link serves it" 200 "$code"
check "the download is the artifact, byte for byte" cmp -s "$ART" "$TEST_TMP/link.bin"
expect_eq "the execution holds the four attempts, each delivered" "4 4" \
    "$(sql "SELECT jsonb_array_length(delivery_attempts) || ' ' || (SELECT count(*) FROM jsonb_array_elements(delivery_attempts) e
             WHERE e->>'status' = 'delivered') FROM report_executions WHERE id = 'ex-4'")"
finish
