#!/bin/sh
# detect_rules_api.sh - detection rules through serve (docs/alerts.md "Detection rules", "The
# engine", "Rules over the security tables"): every organization has the defaults; create,
# change (a new version each time), versions, 409/400/403/404; each change in the configuration
# history; the time zone setting; events over HTTP raise one alert per rule, group and window
# with the events' ids as samples, later events counted into the hit, not raised again; a
# disabled rule stops; the engine's own alert.* events never feed a rule; temporal_ordered over
# three selections (in order: a hit; out of order or a step missing: none); the local time of events
# it reads from the writer's feed in two zones (off-hours exactly as python's zone data says);
# security_events and audit_integrity_log rows raise their rules' alerts.
. tests/lib.sh
export AUDITDB_DETECT=true # the engine under test (tests/lib.sh turns it off for the others)

fresh_db detect_rules_api
"$AUDITDB_BIN" migrate >/dev/null || { not_ok "migrate"; finish; }
A=$(newkey det-a admin); B=$(newkey det-b admin); V=$(newkey det-a viewer); U=$(newkey det-a auditor)
K=$(newkey det-k admin); L=$(newkey det-l admin)
AUDITDB_DETECT_INTERVAL_MS=100 start_serve "$TEST_TMP/serve.log" || { not_ok "serve started"; finish; }
H() { echo "X-API-Key: $1"; }

# --- the defaults ---------------------------------------------------------------------------------
http GET /api/v1/alerts/rules -H "$(H "$A")"
expect_eq "GET rules: 200" 200 "$HTTP_STATUS"
expect_eq "every organization has the ten default rules" \
    "bulk-operations,data-velocity,failed-auth,integrity-failure,off-hours,security-bad-keys,security-checkpoint-refused,security-cross-tenant,security-rate-abuse,unauthorized-access" \
    "$(jbody '",".join(r["id"] for r in d["rules"])')"
expect_eq "failed-auth at the original's threshold: 5 in 5 min by principal" '5|5m|["principal"]' \
    "$(jbody '"%s|%s|%s" % (lambda c: (c["condition"]["gte"], c["timespan"], json.dumps(c["group-by"]) if False else str(c["group-by"]).replace(chr(39), chr(34))))([r for r in d["rules"] if r["id"] == "failed-auth"][0]["definition"]["correlation"])')"
http GET /api/v1/alerts/rules -H "$(H "$V")"
expect_eq "a viewer may not read rules: 403" 403 "$HTTP_STATUS"
http GET /api/v1/alerts/rules -H "$(H "$U")"
expect_eq "an auditor reads them" 200 "$HTTP_STATUS"
http GET /api/v1/alerts/rules
expect_eq "no key: 401" 401 "$HTTP_STATUS"

# --- create, change, versions ----------------------------------------------------------------------
DEF='{"title": "Exports by one principal", "severity": "HIGH", "selections": {"x": {"action|startswith": "export."}}, "correlation": {"type": "event_count", "group-by": ["principal"], "timespan": "10m", "condition": {"gte": 3}}}'
http POST /api/v1/alerts/rules -H "$(H "$U")" -H 'Content-Type: application/json' -d "{\"id\": \"exports\", \"definition\": $DEF}"
expect_eq "an auditor may not create one: 403" 403 "$HTTP_STATUS"
http POST /api/v1/alerts/rules -H "$(H "$A")" -H 'Content-Type: application/json' -d "{\"id\": \"exports\", \"definition\": $DEF, \"reason\": \"ticket 7\"}"
expect_eq "create: 201, version 1, enabled" "201|1|true" "$HTTP_STATUS|$(jbody 'd["version"]')|$(jbody 'd["enabled"]')"
http POST /api/v1/alerts/rules -H "$(H "$A")" -H 'Content-Type: application/json' -d "{\"id\": \"exports\", \"definition\": $DEF}"
expect_eq "the same id again: 409 RULE_EXISTS" "409|RULE_EXISTS" "$HTTP_STATUS|$(jbody 'd["error"]["code"]')"
http POST /api/v1/alerts/rules -H "$(H "$A")" -H 'Content-Type: application/json' \
    -d '{"id": "bad", "definition": {"title": "t", "severity": "LOW", "selections": {"a": {"action": "x"}}, "correlation": {"type": "event_count", "timespan": "7m", "condition": {"gte": 1}}}}'
expect_eq "a timespan that does not divide a day: 400 naming it" "400|definition.correlation.timespan" \
    "$HTTP_STATUS|$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST /api/v1/alerts/rules -H "$(H "$A")" -H 'Content-Type: application/json' \
    -d '{"id": "Bad Id", "definition": {}}'
expect_eq "a bad id: 400 naming id" "400|id" "$HTTP_STATUS|$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST /api/v1/alerts/rules -H "$(H "$A")" -H 'Content-Type: application/json' -d '{"id": "x", "definition": {}, "colour": 1}'
expect_eq "an unknown member: 400 naming it" "400|colour" "$HTTP_STATUS|$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http PUT /api/v1/alerts/rules/exports -H "$(H "$A")" -H 'Content-Type: application/json' -d '{"enabled": false, "reason": "noisy"}'
expect_eq "disable: a new version 2, the definition kept" "200|2|false|Exports by one principal" \
    "$HTTP_STATUS|$(jbody 'd["version"]')|$(jbody 'd["enabled"]')|$(jbody 'd["definition"]["title"]')"
http GET /api/v1/alerts/rules/exports/versions -H "$(H "$A")"
expect_eq "versions newest first, one current" "2:True:False,1:False:True" \
    "$(jbody '",".join("%s:%s:%s" % (v["version"], v["current"], v["enabled"]) for v in d["versions"])')"
http GET /api/v1/alerts/rules/exports -H "$(H "$B")"
expect_eq "another organization's rule: 404" 404 "$HTTP_STATUS"
http PUT /api/v1/alerts/rules/exports -H "$(H "$B")" -H 'Content-Type: application/json' -d '{"enabled": true}'
expect_eq "another organization's rule cannot be changed: 404, still version 2" "404|2" \
    "$HTTP_STATUS|$(sql "SELECT max(version) FROM detection_rules WHERE rule_id = 'exports'")"
expect_eq "each change is in the configuration history with its versions and reason" \
    "detection_rule.exports||1|ticket 7|apikey
detection_rule.exports|1|2|noisy|apikey" \
    "$(sql "SELECT field, coalesce(previous_version, ''), new_version, reason, split_part(changed_by, ':', 1)
             FROM config_change_event WHERE organization_id = 'det-a' AND field LIKE 'detection_rule.%' ORDER BY id")"

# --- settings -----------------------------------------------------------------------------------------
http PUT /api/v1/alerts/detection-settings -H "$(H "$A")" -H 'Content-Type: application/json' -d '{"timezone": "Mars/Olympus"}'
expect_eq "an unknown zone: 400 naming timezone" "400|timezone" "$HTTP_STATUS|$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http PUT /api/v1/alerts/detection-settings -H "$(H "$A")" -H 'Content-Type: application/json' -d '{"timezone": "Europe/Berlin"}'
http GET /api/v1/alerts/detection-settings -H "$(H "$A")"
expect_eq "the zone set and read back" "200|Europe/Berlin" "$HTTP_STATUS|$(jbody 'd["timezone"]')"

# --- events through HTTP ---------------------------------------------------------------------------
# instants inside one 5-minute window that has begun already (windows are aligned to the epoch)
W=$(python3 -c 'import time; n = int(time.time()); s = n - n % 300 - 300; print(s)')
ts() { python3 -c "import datetime,sys; print(datetime.datetime.fromtimestamp($W + int(sys.argv[1]), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z'))" "$1"; }
bulk() { # KEY PRINCIPAL ACTION N FIRST_SECOND
    evs=$(python3 -c "
import json, sys, datetime
w = $W
print(json.dumps({'events': [{'action': sys.argv[2], 'status': 'failure', 'principalId': sys.argv[1],
  'timestamp': datetime.datetime.fromtimestamp(w + int(sys.argv[4]) + i, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z')}
  for i in range(int(sys.argv[3]))]}))" "$2" "$3" "$4" "$5")
    http POST /api/v1/audit/events/bulk -H "$(H "$1")" -H 'Content-Type: application/json' -d "$evs"
}
caught_up() { # waits until det-a's engine cursor is at its chain head
    i=0
    while [ $i -lt 100 ]; do
        [ "$(sql "SELECT count(*) FROM audit_chain_head h LEFT JOIN detection_cursor c ON c.organization_id = h.organization_id AND c.source = 'events' WHERE h.last_seq > coalesce(c.position, 0)")" = 0 ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}
bulk "$A" mallory auth.login.failure 4 10
check "4 failed logins stored" [ "$HTTP_STATUS" = 201 ]
caught_up
expect_eq "4 failures: no hit" 0 "$(sql "SELECT count(*) FROM detection_hits WHERE group_key = 'mallory'")"
bulk "$A" mallory auth.login.failure 1 20
caught_up
expect_eq "the 5th: one hit counting 5, one alert raised by auditdb-detect" "1|5|1|failed-auth/mallory|HIGH|SECURITY" \
    "$(sql "SELECT count(*), max(h.event_count), max(a.trigger_count), max(a.dedup_key), max(a.severity), max(a.type)
             FROM detection_hits h JOIN alerts a ON a.id = h.alert_id WHERE h.group_key = 'mallory' AND a.source = 'auditdb-detect'")"
expect_eq "its samples are the five events' ids" \
    "$(sql "SELECT string_agg(event_id::text, ',' ORDER BY event_id) FROM audit_log WHERE principal_id = 'mallory'")" \
    "$(sql "SELECT string_agg(x, ',' ORDER BY x) FROM alerts a, jsonb_array_elements_text(a.sample_event_ids) x WHERE a.dedup_key = 'failed-auth/mallory'")"
bulk "$A" mallory auth.login.failure 2 30
caught_up
expect_eq "two more in the window: the hit counts 7, the alert is not raised again" "7|1" \
    "$(sql "SELECT h.event_count, a.trigger_count FROM detection_hits h JOIN alerts a ON a.id = h.alert_id WHERE h.group_key = 'mallory'")"
bulk "$B" mallory auth.login.failure 5 10
caught_up
expect_eq "the same principal in another organization: its own hit" "det-a:7,det-b:5" \
    "$(sql "SELECT string_agg(organization_id || ':' || event_count, ',' ORDER BY organization_id) FROM detection_hits WHERE group_key = 'mallory'")"
bulk "$A" carol alert.auth.login.failure 6 10
caught_up
expect_eq "alert.* events never feed a rule" 0 "$(sql "SELECT count(*) FROM detection_hits WHERE group_key = 'carol'")"
http PUT /api/v1/alerts/rules/failed-auth -H "$(H "$A")" -H 'Content-Type: application/json' -d '{"enabled": false}'
expect_eq "failed-auth disabled (version 2)" "200|2" "$HTTP_STATUS|$(jbody 'd["version"]')"
bulk "$A" eve auth.login.failure 6 10
caught_up
expect_eq "a disabled rule counts nothing" 0 "$(sql "SELECT count(*) FROM detection_hits WHERE group_key = 'eve'")"

# --- temporal_ordered over three selections: steps in chain order (docs/alerts.md) ---------------
STEPS='{"title": "three steps", "severity": "HIGH", "selections": {"one": {"action": "step.one"}, "two": {"action": "step.two"}, "three": {"action": "step.three"}}, "correlation": {"type": "temporal_ordered", "rules": ["one", "two", "three"], "group-by": ["principal"], "timespan": "1h"}}'
http POST /api/v1/alerts/rules -H "$(H "$B")" -H 'Content-Type: application/json' -d "{\"id\": \"steps\", \"definition\": $STEPS}"
expect_eq "a temporal_ordered rule of three selections is taken" 201 "$HTTP_STATUS"
steps() { # PRINCIPAL ACTION... (one second apart, in this order)
    p=$1; shift
    evs=$(python3 -c "
import json, sys, datetime
w = $W
print(json.dumps({'events': [{'action': a, 'status': 'success', 'principalId': sys.argv[1],
  'timestamp': datetime.datetime.fromtimestamp(w + 40 + i, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z')}
  for i, a in enumerate(sys.argv[2:])]}))" "$p" "$@")
    http POST /api/v1/audit/events/bulk -H "$(H "$B")" -H 'Content-Type: application/json' -d "$evs"
}
steps in-order step.one step.two step.three
steps out-of-order step.two step.one step.three
steps two-only step.one step.three step.three
caught_up
expect_eq "one, two, three in order: a hit; two before one, or no two: none" "in-order" \
    "$(sql "SELECT string_agg(group_key, ',') FROM detection_hits WHERE organization_id = 'det-b' AND rule_id = 'steps'")"

# --- local time of events the engine gets from memory (docs/alerts.md, "The feed") ----------------
# det-k in Asia/Kolkata (+05:30), det-l in America/Los_Angeles (-08:00): the same instant is
# off-hours (22:00-06:00 local) in one zone or the other or neither; python's zone data says which,
# and the engine, reading these events from the writer's feed, must agree
for z in "$K|Asia/Kolkata" "$L|America/Los_Angeles"; do
    http PUT /api/v1/alerts/detection-settings -H "$(H "${z%%|*}")" -H 'Content-Type: application/json' \
        -d "{\"timezone\": \"${z#*|}\"}"
done
NOW=$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))')
offhours() { python3 -c "
import datetime, zoneinfo, sys
t = datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S.000Z').replace(tzinfo=datetime.timezone.utc)
l = t.astimezone(zoneinfo.ZoneInfo(sys.argv[2]))
print(1 if l.hour >= 22 or l.hour < 6 else 0)" "$NOW" "$1"; }
for z in "$K|Asia/Kolkata|det-k" "$L|America/Los_Angeles|det-l"; do
    key=${z%%|*}; rest=${z#*|}; zone=${rest%%|*}; org=${rest#*|}
    http POST /api/v1/audit/events/bulk -H "$(H "$key")" -H 'Content-Type: application/json' \
        -d "{\"events\": [{\"action\": \"data.read\", \"status\": \"success\", \"principalId\": \"nightowl\", \"timestamp\": \"$NOW\"}]}"
    caught_up
    expect_eq "$org ($zone): an access at $NOW is off-hours exactly when the zone's local time says so" \
        "$(offhours "$zone")" \
        "$(sql "SELECT count(*) FROM detection_hits WHERE organization_id = '$org' AND rule_id = 'off-hours' AND group_key = 'nightowl'")"
done

# --- the security tables ---------------------------------------------------------------------------
sql "INSERT INTO security_events (organization_id, event_type, severity, api_key_id, description, details)
     SELECT 'det-a', 'cross_tenant_probe', 'MEDIUM', 'k_probe', 'probe', '{}' FROM generate_series(1, 3);
     INSERT INTO security_events (organization_id, event_type, severity, api_key_id, description, details)
     SELECT 'det-b', 'cross_tenant_probe', 'MEDIUM', 'k_two', 'probe', '{}' FROM generate_series(1, 2);
     INSERT INTO security_events (event_type, severity, ip_address, description, details)
     VALUES ('repeated_auth_failure', 'HIGH', '203.0.113.9', 'bad keys', '{}')" >/dev/null
sql "INSERT INTO audit_integrity_log (audit_log_id, verification_status, verification_details, verified_by)
     VALUES (0, 'tampered', '{\"organizationId\": \"det-b\", \"kind\": \"hash_mismatch\"}', 'auditdb verify')" >/dev/null
i=0; while [ $i -lt 50 ] && [ "$(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-detect' AND rule_id LIKE 'security-%' OR rule_id = 'integrity-failure'")" -lt 3 ]; do sleep 0.2; i=$((i + 1)); done
expect_eq "security rows raise their rules: 3 probes of one key (2 of another do not), bad keys of no organization, a tampered verification" \
    "_process|security-bad-keys/203.0.113.9
det-a|security-cross-tenant/k_probe
det-b|integrity-failure/*" \
    "$(sql "SELECT organization_id || '|' || dedup_key FROM alerts WHERE source = 'auditdb-detect' AND (rule_id LIKE 'security-%' OR rule_id = 'integrity-failure') ORDER BY 1")"

stop_serve
expect_eq "serve stopped cleanly" 0 $?
if grep -q '"component":"detect"' "$TEST_TMP/serve.log"; then
    not_ok "no detection round failed"; grep '"component":"detect"' "$TEST_TMP/serve.log" | head -5 | while IFS= read -r l; do diag "$l"; done
else ok "no detection round failed"; fi
finish
