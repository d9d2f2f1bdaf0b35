# delivery_upkeep.sh - issue 18's remainders (docs/delivery.md): the download-file sweeper
# (files of revoked, expired and used-up links removed from disk by serve, rows marked; a row a
# superuser points elsewhere removes nothing else), a destination whose sealed secrets do not
# open fails its item with the reason at once (no longer re-deferred every 5 s forever), and
# SFTP with a password against OpenSSH's sshd (an account of its own, tests/tools/transport_peers.sh).
. tests/lib.sh

fresh_db t_delivery_upkeep
"$AUDITDB_BIN" migrate >/dev/null
KEY=$("$AUDITDB_BIN" keys create --org org-u --role admin | sed -n 's/^key (shown once, store it now): //p')
P="$TEST_TMP/peers"
rm -rf "$P"
sh tests/tools/transport_peers.sh start "$P" $$
trap 'stop_serve >/dev/null 2>&1; sh tests/tools/transport_peers.sh stop "$P"' EXIT
. "$P/env"

export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
export AUDITDB_DOWNLOAD_DIR="$TEST_TMP/downloads"
if AUDITDB_DOWNLOAD_SWEEP_MS=300 AUDITDB_DELIVERY_THREADS=2 AUDITDB_DELIVERY_POLL_MS=200 \
    start_serve "$TEST_TMP/serve.log"; then ok "serve starts"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
J="content-type: application/json"
D=/api/v1/delivery
mk() { # mk LABEL TYPE CONFIG: sets ID
    http POST $D/destinations -H "x-api-key: $KEY" -H "$J" -d "{\"label\":\"$1\",\"type\":\"$2\",\"config\":$3}"
    ID=$(jbody 'd["id"]' 2>/dev/null)
    [ "$HTTP_STATUS" = 201 ] || { not_ok "create $2 destination"; diag "$HTTP_STATUS $HTTP_BODY"; }
}
deliver() { # deliver DEST NAME: sets DLV
    http POST $D/deliveries -H "x-api-key: $KEY" -H "$J" \
        -d "{\"destinations\":[\"$1\"],\"payload\":{\"type\":\"report\",\"data\":{\"n\":\"$2\"},\"metadata\":{\"filename\":\"$2.json\"}}}"
    DLV=$(jbody 'd["deliveryId"]' 2>/dev/null)
}
wait_for() { end=$(($(date +%s) + $1)); while [ "$(date +%s)" -le $end ]; do if eval "$2"; then return 0; fi; sleep 0.2; done; return 1; }
status_of() { sql "SELECT status FROM delivery_logs WHERE delivery_id = '$1'"; }

# ---- the sweeper ----
mk links download '{"download":{"expiryHours":2,"maxAccess":1}}'
DL=$ID
for n in one two three four; do
    deliver "$DL" "$n"
    eval "D_$n=\$DLV"
    wait_for 20 '[ "$(status_of "$DLV")" = delivered ]'
done
file_of() { # the link's file on disk
    sql "SELECT file_path FROM download_links WHERE delivery_id = '$1'" | sed "s|^|$AUDITDB_DOWNLOAD_DIR/|"
}
F1=$(file_of "$D_one"); F2=$(file_of "$D_two"); F3=$(file_of "$D_three"); F4=$(file_of "$D_four")
expect_eq "four links, four files on disk" "4 yes" \
    "$(sql "SELECT count(*) FROM download_links") $([ -f "$F1" ] && [ -f "$F2" ] && [ -f "$F3" ] && [ -f "$F4" ] && echo yes)"
# one revoked through the API, one expired, one used up (maxAccess 1), one left alone
L1=$(sql "SELECT id FROM download_links WHERE delivery_id = '$D_one'")
http DELETE "$D/downloads/$L1?reason=wrong%20team" -H "x-api-key: $KEY"
expect_eq "revoke: 200" 200 "$HTTP_STATUS"
sql "UPDATE download_links SET expires_at = now() - interval '1 second' WHERE delivery_id = '$D_two'" >/dev/null
url=$(sql "SELECT signed_url FROM download_links WHERE delivery_id = '$D_three'")
expect_eq "the third link is downloaded once (its maxAccess)" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL$url")"
# a superuser's rows pointing at another file: the sweeper derives the path, removes nothing else
echo keep >"$TEST_TMP/victim"
sql "INSERT INTO download_links (id, organization_id, object_id, object_type, object_metadata, file_path, file_name,
       signed_url, signature, algorithm, expires_at) VALUES
       ('dl_../../victim', 'org-u', 'x', 'report', '{}', '../victim', 'v', '/x', 'x', 'HMAC-SHA256', now() - interval '1 day'),
       ('dl_AAAAAAAAAAAAAAAAAAAAAA', 'org-u', 'x', 'report', '{}', '../../victim', 'v', '/x', 'x', 'HMAC-SHA256',
        now() - interval '1 day')" >/dev/null
swept() { sql "SELECT count(*) FROM download_links WHERE metadata ? 'fileRemovedAt'"; }
wait_for 20 '[ "$(swept)" = 5 ]'
expect_eq "the revoked, expired and used-up links' files removed, the live one kept" "gone gone gone kept" \
    "$([ -f "$F1" ] && echo kept || echo gone) $([ -f "$F2" ] && echo kept || echo gone) $([ -f "$F3" ] && echo kept || echo gone) $([ -f "$F4" ] && echo kept || echo gone)"
expect_eq "each swept row marked (removed, or a row that named no link file)" \
    "removed|removed|removed|not a link id: no file removed|already gone" \
    "$(sql "SELECT string_agg(metadata->>'fileRemoval', '|' ORDER BY metadata->>'fileRemoval' DESC, id) FROM download_links WHERE metadata ? 'fileRemovedAt'")"
check "a row pointing elsewhere removed nothing else" test -f "$TEST_TMP/victim"
url4=$(sql "SELECT signed_url FROM download_links WHERE delivery_id = '$D_four'")
expect_eq "the live link still serves its file" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL$url4")"

# ---- sealed secrets that do not open: failed at once with the reason ----
mk mail email '{"email":{"service":"smtp","smtpConfig":{"host":"127.0.0.1","port":9,"secure":false,"auth":{"user":"u","pass":"a secret"}},"from":"a@b.example","subject":"s","recipients":["c@d.example"]}}'
MAIL=$ID
sql "UPDATE delivery_destinations SET secrets = set_byte(secrets, 20, get_byte(secrets, 20) # 1) WHERE id = $MAIL" >/dev/null
deliver "$MAIL" sealed
wait_for 20 '[ "$(status_of "$DLV")" = failed ]'
expect_eq "a destination whose secrets do not open: the item failed, one attempt, the reason given" \
    "failed|failed|1|true" \
    "$(sql "SELECT l.status || '|' || q.status || '|' || jsonb_array_length(l.attempts) || '|'
             || (l.failure_reason LIKE '%sealed secrets do not open%')
             FROM delivery_logs l JOIN delivery_queue q ON q.delivery_log_id = l.id WHERE l.delivery_id = '$DLV'")"
check "the secret is not in serve's log" sh -c "! grep -q 'a secret' '$TEST_TMP/serve.log'"

# ---- SFTP with a password ----
if [ -n "${SSH_SKIP:-}${SSH_PW_SKIP:-}" ]; then
    echo "ok - skip: SFTP with a password (${SSH_SKIP:-}${SSH_PW_SKIP:-})"
else
    mk sftp-pw sftp "{\"sftp\":{\"host\":\"127.0.0.1\",\"port\":$SSH_PORT,\"username\":\"$SSH_PW_USER\",\"password\":\"$SSH_PW_PASS\",\"path\":\"$SSH_PW_DIR/in\",\"hostKey\":\"$SSH_HOSTKEY\"}}"
    deliver "$ID" pw-report
    wait_for 30 '[ "$(status_of "$DLV")" = delivered ]'
    got="$(status_of "$DLV") $([ -s "$SSH_PW_DIR/in/pw-report.json" ] && echo yes)"
    expect_eq "SFTP with a password: delivered, the file stored by sshd" "delivered yes" "$got"
    [ "$got" = "delivered yes" ] ||
        diag "$(sql "SELECT failure_reason FROM delivery_logs WHERE delivery_id = '$DLV'")" "$(tail -n 8 "$P/sshd.log")"
    check "the file holds the delivery" grep -q pw-report "$SSH_PW_DIR/in/pw-report.json"
    check "sshd logged a password login for the account" grep -q "Accepted password for $SSH_PW_USER" "$P/sshd.log"
    check "the password is not in serve's log" sh -c "! grep -q '$SSH_PW_PASS' '$TEST_TMP/serve.log'"
fi
stop_serve
expect_eq "serve stops cleanly" 0 "$?"
check "no sanitizer report in serve's log" sh -c "! grep -q 'Sanitizer' '$TEST_TMP/serve.log'"
finish
