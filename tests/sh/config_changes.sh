# config_changes.sh - the configuration history (docs/monitoring.md,
# "Configuration changes"), end to end: a destination created, updated and
# deleted over HTTP, its webhook secret rotated, API keys created and revoked
# on the command line, the GDPR settings changed: each a config_change_event
# row (who, why, before and after with every secret masked: the secrets this
# test gives are looked for in the whole table) and a config.change audit
# event of the organization without the values; GET /api/v1/config/changes
# in pages and filters, for config.changes:read only, each organization its
# own rows (also as the API role under a superuser's SQL); `auditdb config
# changes`.
. tests/lib.sh
export AUDITDB_KEY_CHANGE_EVENTS=true # key changes announced (tests/lib.sh turns it off for the others)

fresh_db t_config_changes
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32 # the destination below points at this host
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_AUDITOR=$(newkey org-a auditor)
A_VIEWER=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
OPERATOR=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
J='Content-Type: application/json'
C=/api/v1/config/changes
D=/api/v1/delivery/destinations
HDR_SECRET=tok-CFGHDRSECRET-51d0

# 1. keys made on the command line: rows by cli:<user>, never the key
expect_eq "key creations recorded (3 of org-a, 1 of org-b, 1 process-wide)" "3|1|1" \
    "$(sql "SELECT count(*) FILTER (WHERE organization_id = 'org-a'), count(*) FILTER (WHERE organization_id = 'org-b'), count(*) FILTER (WHERE organization_id IS NULL) FROM config_change_event WHERE field LIKE 'api_key.%' AND previous_value = 'null'::jsonb AND changed_by LIKE 'cli:%'")"
for k in "$A_ADMIN" "$OPERATOR"; do
    expect_eq "no key secret in config_change_event" 0 \
        "$(sql "SELECT count(*) FROM config_change_event WHERE new_value::text LIKE '%${k##*_}%'")"
done
expect_eq "the admin key's row: its role and display id, no hash" "admin|t|f" \
    "$(sql "SELECT new_value->>'role', (new_value->>'display') LIKE 'adb_%', new_value ? 'key' FROM config_change_event WHERE organization_id = 'org-a' AND new_value->>'role' = 'admin'")"

# 2. a destination: created, updated, its secret rotated, deleted
DOC=$(printf '{"label":"hook","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1:9/h","method":"POST","headers":{"Authorization":"Bearer %s","X-Plain":"visible"},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}' "$HDR_SECRET")
http POST $D -H "X-API-Key: $A_ADMIN" -H "$J" -d "$DOC"
expect_eq "destination created" 201 "$HTTP_STATUS"
ID=$(jbody 'd["id"]')
WHSEC=$(jbody 'd["secrets"]["secret"]')
http PUT "$D/$ID" -H "X-API-Key: $A_ADMIN" -H "$J" -d '{"label":"hook two","description":"renamed"}'
expect_eq "destination updated" 200 "$HTTP_STATUS"
http POST "$D/$ID/secrets/rotate" -H "X-API-Key: $A_ADMIN" -H "$J" -d '{}'
ROT=$HTTP_STATUS
http DELETE "$D/$ID" -H "X-API-Key: $A_ADMIN"
expect_eq "destination deleted" 204 "$HTTP_STATUS"
expect_eq "three rows for the destination: created, updated, deleted" "null|hook|hook|hook two|hook two|null" \
    "$(sql "SELECT string_agg(coalesce(previous_value->>'label', 'null') || '|' || coalesce(new_value->>'label', 'null'), '|' ORDER BY id) FROM config_change_event WHERE field = 'delivery_destination.$ID'")"
expect_eq "changed by the admin's key" 1 \
    "$(sql "SELECT count(DISTINCT changed_by) FROM config_change_event WHERE field = 'delivery_destination.$ID' AND changed_by LIKE 'apikey:%'")"
if [ "$ROT" = 200 ] || [ "$ROT" = 201 ]; then
    expect_eq "the rotation recorded, without the secret" 1 \
        "$(sql "SELECT count(*) FROM config_change_event WHERE field = 'webhook_secret.$ID' AND reason = 'webhook signing secret rotated'")"
else
    not_ok "rotate-secret answered $ROT"; diag "$HTTP_BODY"
fi
for s in "$HDR_SECRET" "${WHSEC:-no-webhook-secret-was-shown}"; do
    expect_eq "no secret of the destination anywhere in config_change_event" 0 \
        "$(sql "SELECT count(*) FROM config_change_event WHERE previous_value::text || new_value::text LIKE '%$s%'")"
done

# 3. the GDPR settings
http PUT /api/v1/compliance/gdpr/settings -H "X-API-Key: $A_ADMIN" -H "$J" -d '{"consultations":"hidden"}'
expect_eq "GDPR settings changed" 200 "$HTTP_STATUS"
http PUT /api/v1/compliance/gdpr/settings -H "X-API-Key: $A_ADMIN" -H "$J" -d '{"consultations":"hidden"}'
expect_eq "the same settings again: 200, no second row" "200 1" \
    "$HTTP_STATUS $(sql "SELECT count(*) FROM config_change_event WHERE organization_id = 'org-a' AND field = 'gdpr_settings'")"
expect_eq "the GDPR settings' row" "hidden" \
    "$(sql "SELECT new_value->>'consultations' FROM config_change_event WHERE organization_id = 'org-a' AND field = 'gdpr_settings'")"

# 4. the audit events: one config.change per announced change, never the values
wait_events() { i=0; while [ $i -lt 50 ]; do n=$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'config.change'"); [ "$n" -ge "$1" ] && break; sleep 0.1; i=$((i + 1)); done; echo "$n"; }
N=$(sql "SELECT count(*) FROM config_change_event WHERE organization_id = 'org-a'")
# every change of org-a is announced, its keys' included
NA=$N
expect_eq "an audit event of org-a per org-a change, the keys' included" "$NA" "$(wait_events "$NA")"
sleep 0.5
expect_eq "no more than that" "$NA" "$(wait_events "$NA")"
expect_eq "the events name the field, never a value" 0 \
    "$(sql "SELECT count(*) FROM audit_log WHERE action = 'config.change' AND (details::text LIKE '%$HDR_SECRET%' OR details::text LIKE '%hook two%' OR details::text LIKE '%hidden%')")"
expect_eq "the destination's deletion event" "deleted" \
    "$(sql "SELECT details->>'change' FROM audit_log WHERE organization_id = 'org-a' AND action = 'config.change' AND target_resource_id = 'delivery_destination.$ID' ORDER BY id DESC LIMIT 1")"

# 5. the route: who reads, pages, filters, isolation
http GET $C
expect_eq "401 without a key" 401 "$HTTP_STATUS"
http GET $C -H "X-API-Key: $A_VIEWER"
expect_eq "403 for a viewer (no config.changes:read)" 403 "$HTTP_STATUS"
http GET $C -H "X-API-Key: $OPERATOR"
expect_eq "403 for the operator (no organization's data)" 403 "$HTTP_STATUS"
http GET "$C?limit=2" -H "X-API-Key: $A_AUDITOR"
expect_eq "an auditor reads them: a page of 2, newest first" "200 2 $N true" \
    "$HTTP_STATUS $(jbody 'len(d["changes"])') $(jbody 'd["pagination"]["total"]') $(jbody 'd["changes"][0]["id"] > d["changes"][1]["id"]')"
conforms "GET /api/v1/config/changes 200" GET /api/v1/config/changes 200
http GET "$C?field=delivery_destination.$ID" -H "X-API-Key: $A_ADMIN"
expect_eq "filter by field: the destination's 3" 3 "$(jbody 'len(d["changes"])')"
http GET "$C?field=api_key.*" -H "X-API-Key: $A_ADMIN"
expect_eq "filter by a field prefix: org-a's 3 keys" 3 "$(jbody 'len(d["changes"])')"
http GET "$C?field=api_%25" -H "X-API-Key: $A_ADMIN"
expect_eq "a LIKE wildcard in an exact field matches nothing" 0 "$(jbody 'len(d["changes"])')"
http GET "$C" -H "X-API-Key: $A_ADMIN"
expect_eq "the masked header in the answer" "***" \
    "$(jbody '[c for c in d["changes"] if c["field"] == "delivery_destination.'"$ID"'" and c["previousValue"] is None][0]["newValue"]["config"]["webhook"]["headers"]["Authorization"]' 2>/dev/null || echo missing)"
http GET "$C" -H "X-API-Key: $B_ADMIN"
expect_eq "org-b reads only its own (its admin key)" "1 org-b" \
    "$(jbody 'len(d["changes"])') $(jbody '",".join(sorted(set(c["organizationId"] for c in d["changes"])))')"
for q in "limit=0 limit" "offset=x offset" "startDate=nope startDate" "endDate=2026-13-01 endDate"; do
    http GET "$C?${q% *}" -H "X-API-Key: $A_ADMIN"
    expect_eq "$C?${q% *}: 400 naming ${q#* }" "400 ${q#* }" \
        "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]' 2>/dev/null)"
done

# 6. attacker: the API role under org-b's setting sees nothing of org-a, rewrites nothing
as_tenant() { psql "$AUDIT_DB_URL" -qAtX -c 'BEGIN' -c "$(tenant_setting "$1")" -c 'SET LOCAL ROLE auditdb_app' -c "$2" -c 'COMMIT' 2>&1 | sed -n 2p; }
expect_eq "as the API role of org-b: org-a's rows invisible" 0 \
    "$(as_tenant org-b "SELECT count(*) FROM config_change_event WHERE organization_id <> 'org-b' OR organization_id IS NULL")"
expect_match "as the API role: no DELETE" "permission denied" \
    "$(as_tenant org-a "DELETE FROM config_change_event")"
expect_match "as the API role: no UPDATE" "permission denied" \
    "$(as_tenant org-a "UPDATE config_change_event SET reason = 'x'")"

# 7. revoke: one row, a second revoke none; the CLI
KID=$(sql "SELECT new_value->>'id' FROM config_change_event WHERE organization_id = 'org-a' AND new_value->>'role' = 'viewer'")
"$AUDITDB_BIN" keys revoke "adb_$KID" >/dev/null 2>&1
"$AUDITDB_BIN" keys revoke "adb_$KID" >/dev/null 2>&1
expect_eq "a revoke recorded once (before enabled, after not)" "1|true|false" \
    "$(sql "SELECT count(*), min(previous_value->>'enabled'), min(new_value->>'enabled') FROM config_change_event WHERE field = 'api_key.$KID' AND reason = 'revoked'")"
out=$("$AUDITDB_BIN" config changes --org org-a --field 'api_key.*' 2>&1); rc=$?
expect_eq "config changes: exit 0" 0 "$rc"
expect_match "config changes: the revoke, masked nothing to mask" "api_key.$KID +by cli:.*: revoked" "$out"
out=$("$AUDITDB_BIN" config changes --process 2>&1)
expect_match "config changes --process: the operator key" "1 of 1 change" "$out"
"$AUDITDB_BIN" config changes --since never >/dev/null 2>&1
expect_eq "config changes --since never: exit 2" 2 "$?"
"$AUDITDB_BIN" config changes --limit 5000 >/dev/null 2>&1
expect_eq "config changes --limit 5000: exit 2" 2 "$?"

stop_serve
finish
