# alerts_cli.sh - `auditdb alerts` (issue 20; docs/alerts.md "API and CLI"): list and show any
# organization's alerts (the service's own "_process" included), ack/resolve/dismiss idempotent
# with one audit event each by cli:<user>, wrong states and unknown ids exit 1, silences created,
# listed and expired (twice: the second changes nothing), cleanup by age only; bad arguments
# exit 2 with a message on stderr.
. tests/lib.sh

fresh_db t_alerts_cli
"$AUDITDB_BIN" migrate >/dev/null
raise() { # ORG KEY SEVERITY TYPE
    sql "SELECT alert_id FROM auditdb_alert_raise('$1', 'test', '$2', NULL, NULL, '$3', '$4',
         'title $2', 'description of $2', NULL, NULL, NULL, now(), now())"
}
A1=$(raise default k1 HIGH SECURITY)
A2=$(raise default k2 LOW SYSTEM)
P1=$(raise _process dbmon/xid-age/db HIGH PERFORMANCE)
raise default k1 HIGH SECURITY >/dev/null

out=$("$AUDITDB_BIN" alerts list 2>&1); rc=$?
expect_eq "list exits 0" 0 "$rc"
expect_match "list: the folded alert with its count" "^$A1  active +HIGH +SECURITY +2 " "$out"
expect_eq "list: two alerts of default" 2 "$(printf '%s\n' "$out" | grep -c '^alert-')"
out=$("$AUDITDB_BIN" alerts list --org _process --json)
expect_eq "list --org _process --json: the process-wide alert as an Alert document" "$P1 _process" \
    "$(printf '%s' "$out" | json 'd["id"] + " " + d["organizationId"]')"
out=$("$AUDITDB_BIN" alerts list --severity LOW --status active,acknowledged)
expect_eq "list --severity LOW" "$A2" "$(printf '%s\n' "$out" | cut -d' ' -f1)"
err=$("$AUDITDB_BIN" alerts list --severity SEVERE 2>&1 >/dev/null); rc=$?
expect_eq "list --severity SEVERE: exit 2 with a message" "2 1" "$rc $(printf '%s' "$err" | grep -c 'SEVERE')"
out=$("$AUDITDB_BIN" alerts show "$A1")
expect_eq "show: the alert" "$A1 2" "$(printf '%s' "$out" | json 'd["id"]') $(printf '%s' "$out" | json 'd["triggerCount"]')"
"$AUDITDB_BIN" alerts show "$A1" --org other >/dev/null 2>&1; rc=$?
expect_eq "show in another organization: exit 1" 1 "$rc"

out=$("$AUDITDB_BIN" alerts ack "$A1"); rc=$?
expect_eq "ack: exit 0" "0 alert $A1 acknowledged" "$rc $out"
out=$("$AUDITDB_BIN" alerts ack "$A1"); rc=$?
expect_eq "ack again: exit 0, already" "0 alert $A1 was already acknowledged" "$rc $out"
expect_eq "one alert.acknowledge event, by cli:<user>" "1 cli:" \
    "$(sql "SELECT count(*) FROM audit_log WHERE action = 'alert.acknowledge' AND target_resource_id = '$A1'") $(sql "SELECT left(principal_id, 4) FROM audit_log WHERE action = 'alert.acknowledge' AND target_resource_id = '$A1'")"
"$AUDITDB_BIN" alerts resolve "$A1" >/dev/null 2>&1; rc=$?
expect_eq "resolve without --resolution: exit 2" 2 "$rc"
out=$("$AUDITDB_BIN" alerts resolve "$A1" --resolution "blocked the address"); rc=$?
expect_eq "resolve: exit 0" "0 alert $A1 resolved" "$rc $out"
err=$("$AUDITDB_BIN" alerts dismiss "$A1" 2>&1); rc=$?
expect_eq "dismiss a resolved alert: exit 1, why" "1 1" "$rc $(printf '%s' "$err" | grep -c 'resolved')"
"$AUDITDB_BIN" alerts ack alert-nope >/dev/null 2>&1; rc=$?
expect_eq "ack an unknown alert: exit 1" 1 "$rc"
out=$("$AUDITDB_BIN" alerts dismiss "$A2" --reason "test noise"); rc=$?
expect_eq "dismiss with a reason: exit 0" 0 "$rc"
expect_eq "...recorded" "dismissed test noise" "$(sql "SELECT status || ' ' || resolution_notes FROM alerts WHERE id = '$A2'")"

SID=$("$AUDITDB_BIN" alerts silence --reason "deploy" --for 60 --key 'k*' --severity HIGH); rc=$?
expect_match "silence: exit 0, its id" "^0 silence-[0-9a-f]{32}$" "$rc $SID"
B=$(raise default k1 HIGH SECURITY)
expect_eq "a HIGH trigger of k1 is silenced" "true $SID" "$(sql "SELECT silenced || ' ' || silence_id FROM alerts WHERE id = '$B'")"
out=$("$AUDITDB_BIN" alerts silences)
expect_match "silences: it is active" "^$SID  active " "$out"
out=$("$AUDITDB_BIN" alerts unsilence "$SID"); rc=$?
expect_eq "unsilence: exit 0" "0 silence $SID expired" "$rc $out"
out=$("$AUDITDB_BIN" alerts unsilence "$SID"); rc=$?
expect_eq "unsilence again: exit 0, already" "0 silence $SID had expired already" "$rc $out"
expect_eq "silence events: one create, one expire" "1 1" \
    "$(sql "SELECT count(*) FROM audit_log WHERE action = 'alert.silence.create'") $(sql "SELECT count(*) FROM audit_log WHERE action = 'alert.silence.expire'")"
expect_eq "expired: gone from silences, in silences --all" "0 1" \
    "$("$AUDITDB_BIN" alerts silences | grep -c "^$SID") $("$AUDITDB_BIN" alerts silences --all | grep -c "^$SID  expired")"
for bad in "--reason x" "--reason x --for 0" "--reason x --for 10 --until 2099-01-01T00:00:00Z" \
           "--for 10" "--reason x --until yesterday" "--reason x --for 10 --type nope"; do
    "$AUDITDB_BIN" alerts silence $bad >/dev/null 2>&1; rc=$?
    expect_eq "silence $bad: exit 2" 2 "$rc"
done

sql "UPDATE alerts SET resolved_at = now() - interval '31 days' WHERE id = '$A1'" >/dev/null
out=$("$AUDITDB_BIN" alerts cleanup --days 30); rc=$?
expect_eq "cleanup --days 30: the one resolved 31 days ago" "0 1 alert(s) resolved or dismissed more than 30 days ago deleted" "$rc $out"
expect_eq "...the others kept" "0 1 1" \
    "$(sql "SELECT count(*) FROM alerts WHERE id = '$A1'") $(sql "SELECT count(*) FROM alerts WHERE id = '$A2'") $(sql "SELECT count(*) FROM alerts WHERE id = '$P1'")"
"$AUDITDB_BIN" alerts cleanup --days 0 >/dev/null 2>&1; rc=$?
expect_eq "cleanup --days 0: exit 2" 2 "$rc"

finish
