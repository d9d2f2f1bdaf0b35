# delivery_transports.sh - the non-webhook transports end to end over HTTP (issue 18;
# docs/delivery.md "Email", "S3", "SFTP", "Download links"): destinations of each type
# created through the API with their secrets, one POST /api/v1/delivery/deliveries to all
# four, delivered by serve's worker and received by real peers on loopback
# (tests/tools/transport_peers.sh: smtp-server + mailparser over STARTTLS, the S3 endpoint
# that recomputes SigV4 with botocore, OpenSSH's sshd), the download link fetched through
# serve; the four artifacts byte-identical and holding the payload; every log row delivered
# with its cross-system reference; no secret in serve's log.
. tests/lib.sh

fresh_db t_delivery_transports
"$AUDITDB_BIN" migrate >/dev/null
KEY=$(newkey org-t admin)
VIEWER=$(newkey org-t viewer)
OTHER=$(newkey org-u admin)

P="$TEST_TMP/peers"
rm -rf "$P"
sh tests/tools/transport_peers.sh start "$P" $$
trap 'stop_serve >/dev/null 2>&1; sh tests/tools/transport_peers.sh stop "$P"' EXIT
. "$P/env"
for s in "${S3_SKIP:-}" "${SMTP_SKIP:-}" "${SSH_SKIP:-}"; do
    if [ -n "$s" ]; then echo "skip - delivery_transports ($s)"; exit 0; fi
done

export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
export AUDITDB_DELIVERY_CA_FILE="$CA_FILE"
export AUDITDB_DOWNLOAD_DIR="$TEST_TMP/downloads"
if start_serve "$TEST_TMP/serve.log"; then ok "serve starts"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
J="content-type: application/json"
D=/api/v1/delivery/destinations
S3_SECRET='wJalrXUtnFEMI/K7MDENG+bPxRfiCYauditdbKEY'
SMTP_PASS='s3cret pass'
SSH_KEY_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$SSH_KEY")

create() { # LABEL TYPE CONFIG-JSON: sets ID
    http POST $D -H "x-api-key: $KEY" -H "$J" -d "{\"label\":\"$1\",\"type\":\"$2\",\"config\":$3}"
    ID=$(jbody 'd["id"]' 2>/dev/null)
    if [ "$HTTP_STATUS" = 201 ] && [ -n "$ID" ]; then ok "create $2 destination: 201"; else
        not_ok "create $2 destination: 201"; diag "$HTTP_STATUS $HTTP_BODY"; fi
}
create mail email "{\"email\":{\"service\":\"smtp\",\"smtpConfig\":{\"host\":\"127.0.0.1\",\"port\":$SMTP_PORT,\"secure\":false,\"auth\":{\"user\":\"mailer\",\"pass\":\"$SMTP_PASS\"}},\"from\":\"Audit <reports@auditdb.example>\",\"subject\":\"Monthly report\",\"recipients\":[\"dpo@hospital.example\"]}}"
MAIL=$ID
create bucket storage "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"reports\",\"region\":\"eu-west-3\",\"endpoint\":\"http://127.0.0.1:$S3_PORT\",\"accessKeyId\":\"AKIDAUDITDBTEST\",\"secretAccessKey\":\"$S3_SECRET\"},\"path\":\"e2e\",\"retention\":{\"days\":30,\"autoCleanup\":false}}}"
S3=$ID
create sftp sftp "{\"sftp\":{\"host\":\"127.0.0.1\",\"port\":$SSH_PORT,\"username\":\"$SSH_USER\",\"privateKey\":$SSH_KEY_JSON,\"path\":\"$P/sftp-e2e\",\"hostKey\":\"$SSH_HOSTKEY\"}}"
SFTP=$ID
create link download '{"download":{"expiryHours":2,"maxAccess":3}}'
DL=$ID

MARK="e2e-marker-$(date +%s)-Zürich"
http POST /api/v1/delivery/deliveries -H "x-api-key: $KEY" -H "$J" \
    -d "{\"destinations\":[\"$MAIL\",\"$S3\",\"$SFTP\",\"$DL\"],\"payload\":{\"type\":\"report\",\"data\":{\"rows\":\"$MARK\"},\"metadata\":{\"filename\":\"e2e-report.json\"}}}"
if [ "$HTTP_STATUS" = 404 ]; then
    echo "skip - delivery_transports end to end (no /api/v1/delivery/deliveries in this build: the queue is not merged)"
    finish
fi
expect_eq "deliver to four destinations: 202" 202 "$HTTP_STATUS"
DEL=$(jbody 'd["deliveryId"]' 2>/dev/null)

# the peers receive: wait for all four
mail_json="$P/smtp/mail-1.json"; obj="$P/s3/reports/e2e/e2e-report.json"; up="$P/sftp-e2e/e2e-report.json"
i=0
while [ $i -lt 300 ]; do
    n=$(sql "SELECT count(*) FROM delivery_logs WHERE delivery_id = '$DEL' AND status = 'delivered'")
    [ "$n" = 4 ] && [ -s "$mail_json" ] && [ -f "$obj" ] && [ -f "$up" ] && break
    sleep 0.1; i=$((i + 1))
done
expect_eq "all four delivered (delivery_logs)" 4 "$n"
check "the S3 peer stored the object (its SigV4 checked by botocore)" test -f "$obj"
check "sshd's SFTP received the file" test -f "$up"
check "smtp-server received the mail" test -s "$mail_json"
att=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["attachments"][0]["file"])' "$mail_json" 2>/dev/null)
check "the mail has the artifact attached" test -n "$att"
url=$(sql "SELECT signed_url FROM download_links WHERE delivery_id = '$DEL'")
curl -s -o "$TEST_TMP/link.bin" -w '%{http_code}' "$BASE_URL$url" >"$TEST_TMP/link.status"
expect_eq "the download link serves it (200)" 200 "$(cat "$TEST_TMP/link.status")"
check "S3 object = SFTP file" cmp -s "$obj" "$up"
check "S3 object = mail attachment" cmp -s "$obj" "$att"
check "S3 object = download link's file" cmp -s "$obj" "$TEST_TMP/link.bin"
check "the artifact holds the payload" grep -q "$MARK" "$obj"
ref() { sql "SELECT cross_system_reference FROM delivery_logs WHERE delivery_id = '$DEL' AND destination_id = $1"; }
expect_eq "S3: the ETag is the cross-system reference" "$(md5sum "$obj" | cut -c1-32)" "$(ref "$S3")"
expect_eq "SFTP: the remote path is the reference" "$up" "$(ref "$SFTP")"
expect_eq "email: the Message-ID is the reference" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messageId"])' "$mail_json")" "$(ref "$MAIL")"
expect_eq "download: the link's id is the reference" \
    "$(sql "SELECT id FROM download_links WHERE delivery_id = '$DEL'")" "$(ref "$DL")"
http GET "/api/v1/delivery/deliveries/$DEL" -H "x-api-key: $KEY"
expect_eq "the delivery's status: 200" 200 "$HTTP_STATUS"
diag "status: $(jbody 'd["status"]' 2>/dev/null)"

# revocation: only the link's organization, with delivery:manage; then 410
lid=$(sql "SELECT id FROM download_links WHERE delivery_id = '$DEL'")
http DELETE "/api/v1/delivery/downloads/$lid" -H "x-api-key: $OTHER"
expect_eq "revoke another organization's link: 404" 404 "$HTTP_STATUS"
http DELETE "/api/v1/delivery/downloads/$lid" -H "x-api-key: $VIEWER"
expect_eq "revoke without delivery:manage: 403" 403 "$HTTP_STATUS"
http DELETE "/api/v1/delivery/downloads/$lid?reason=sent%20to%20the%20wrong%20team" -H "x-api-key: $KEY"
expect_eq "revoke: 200" "200 true" "$HTTP_STATUS $(jbody 'd["revoked"]' 2>/dev/null)"
expect_eq "revoked_by and revoked_reason recorded" "false|sent to the wrong team|true" \
    "$(sql "SELECT is_active || '|' || revoked_reason || '|' || (revoked_by LIKE 'key:%') FROM download_links WHERE id = '$lid'")"
http GET "$url"
expect_eq "the revoked link: 410 LINK_REVOKED" "410 LINK_REVOKED" "$HTTP_STATUS $(jbody 'd["error"]["code"]' 2>/dev/null)"
http DELETE "/api/v1/delivery/downloads/$lid" -H "x-api-key: $KEY"
expect_eq "revoke again: 404" 404 "$HTTP_STATUS"

# the test-connect route probes each one through its transport; the probe sends no mail
for pair in "email:$MAIL" "storage:$S3" "sftp:$SFTP" "download:$DL"; do
    http POST "$D/${pair#*:}/test" -H "x-api-key: $KEY"
    expect_eq "test-connect ${pair%%:*}: success" "200 true" "$HTTP_STATUS $(jbody 'd["success"]' 2>/dev/null)"
done
expect_eq "the probes sent no mail" 1 "$(ls "$P"/smtp/mail-*.eml | wc -l)"
# a wrong S3 secret: the probe says why (the peer's 403), and a delivery fails without retrying
http PATCH "$D/$S3" -H "x-api-key: $KEY" -H "$J" \
    -d '{"config":{"storage":{"config":{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY"}}}}'
expect_eq "PATCH the S3 secret: 200" 200 "$HTTP_STATUS"
http POST "$D/$S3/test" -H "x-api-key: $KEY"
expect_eq "test-connect with the wrong secret: no success" "200 false" "$HTTP_STATUS $(jbody 'd["success"]' 2>/dev/null)"
http POST /api/v1/delivery/deliveries -H "x-api-key: $KEY" -H "$J" \
    -d "{\"destinations\":[\"$S3\"],\"payload\":{\"type\":\"report\",\"data\":{},\"metadata\":{\"filename\":\"refused.json\"}}}"
DEL2=$(jbody 'd["deliveryId"]' 2>/dev/null)
i=0
while [ $i -lt 100 ]; do
    st=$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '$DEL2'")
    [ "$st" = failed ] && break
    sleep 0.1; i=$((i + 1))
done
expect_eq "a delivery signed with the wrong secret: failed at once (permanent)" failed "$st"
expect_match "its failure names S3's refusal" "SignatureDoesNotMatch" \
    "$(sql "SELECT failure_reason FROM delivery_logs WHERE delivery_id = '$DEL2'")"
check "nothing stored" test ! -e "$P/s3/reports/e2e/refused.json"

# no secret in serve's output
n=0
for s in "$S3_SECRET" "WRONGKEY" "$SMTP_PASS" "OPENSSH PRIVATE KEY"; do
    n=$((n + 1))
    if grep -qF "$s" "$TEST_TMP/serve.log" "$TEST_TMP/serve.log.out" 2>/dev/null; then
        not_ok "no secret in serve's log (secret $n)"
    else ok "no secret in serve's log (secret $n)"; fi
done
# serve ran every transport under the sanitizers: it stops cleanly, with no report
stop_serve; rc=$?
trap 'sh tests/tools/transport_peers.sh stop "$P"' EXIT
expect_eq "serve stops cleanly" 0 "$rc"
if grep -q "Sanitizer" "$TEST_TMP/serve.log"; then
    not_ok "no sanitizer report in serve's log"; diag "$(grep -A8 Sanitizer "$TEST_TMP/serve.log" | head -20)"
else ok "no sanitizer report in serve's log"; fi
finish
