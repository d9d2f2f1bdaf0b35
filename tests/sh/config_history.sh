# config_history.sh - the configuration history of the changes config_changes.sh does not cover
# (docs/monitoring.md, "Configuration changes"), end to end: API keys created, rotated (one
# transaction: the old key refused at once, the new one with its organization, role and name),
# their role changed and revoked on the command line; audit presets created, updated, restored,
# duplicated, imported and deleted; report templates and scheduled reports created, updated,
# disabled, enabled and deleted; silences created and expired; the health configuration (a
# process-wide row): each a config_change_event row (before and after, who, why; nothing that
# changes by itself) and, for an organization, a config.change audit event naming the field and
# never a value (silences: their own alert.silence.* event, not a second one). Attacks: a refused
# change (400, 409, 404) records nothing; another organization's key changes nothing of org-a's;
# no key secret in the table.
. tests/lib.sh
export AUDITDB_KEY_CHANGE_EVENTS=true # key changes announced (tests/lib.sh turns it off for the others)

fresh_db t_config_history
"$AUDITDB_BIN" migrate >/dev/null
A=$(newkey org-a admin)
B=$(newkey org-b admin)
V=$(newkey org-a viewer)
OP=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
export AUDITDB_DELIVERY_THREADS=0 AUDITDB_REPORT_TICK_MS=60000
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
J="content-type: application/json"
rows() { sql "SELECT count(*) FROM config_change_event WHERE organization_id = '${2:-org-a}' AND field LIKE '$1'"; }
events() { sql "SELECT count(*) FROM audit_log WHERE organization_id = '${2:-org-a}' AND action = 'config.change' AND target_resource_id LIKE '$1'"; }
# the events are logged after the commit: wait until there are N (or 5 s)
wait_events() { i=0; while [ $i -lt 50 ] && [ "$(events "$1" "${3:-org-a}")" -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done; events "$1" "${3:-org-a}"; }
changes() { sql "SELECT string_agg(coalesce(reason, '-') || ':' || CASE WHEN previous_value = 'null'::jsonb THEN 'created' WHEN new_value = 'null'::jsonb THEN 'deleted' ELSE 'updated' END, ' ' ORDER BY id) FROM config_change_event WHERE field = '$1'"; }

# ---- 1. API keys: every change a row and an audit event of the key's organization ----
expect_eq "keys made: org-a's 2 announced as config.change events, org-b's 1" "2 1" \
    "$(wait_events 'api_key.%' 2) $(wait_events 'api_key.%' 1 org-b)"
expect_eq "the operator key's row has no organization: no event anywhere" "1 0" \
    "$(sql "SELECT count(*) FROM config_change_event WHERE organization_id IS NULL AND field LIKE 'api_key.%'") $(sql "SELECT count(*) FROM audit_log WHERE action = 'config.change' AND organization_id NOT IN ('org-a', 'org-b')")"
VID=$(printf '%s' "$V" | cut -c1-20)
out=$("$AUDITDB_BIN" keys rotate "$VID" 2>&1); rc=$?
NEWV=$(printf '%s' "$out" | sed -n 's/^key (shown once, store it now): //p')
NEWID=$(printf '%s' "$NEWV" | cut -c5-20)
expect_eq "keys rotate: exit 0, a new key shown once" "0 t" "$rc $( [ -n "$NEWV" ] && [ "$NEWV" != "$V" ] && echo t)"
http GET /api/v1/audit/events -H "X-API-Key: $V"
expect_eq "the rotated key is refused at once" 401 "$HTTP_STATUS"
http GET /api/v1/audit/events -H "X-API-Key: $NEWV"
expect_eq "its successor reads as the viewer did" 200 "$HTTP_STATUS"
expect_eq "the successor: org-a, viewer" "org-a|viewer" "$(sql "SELECT organization_id || '|' || role FROM apikey WHERE id = '$NEWID'")"
expect_eq "two rows: the old key revoked, the new one made, each saying why" \
    "-:created rotated: replaced by $NEWID:updated|rotated: replaces ${VID#adb_}:created" \
    "$(changes "api_key.${VID#adb_}")|$(changes "api_key.$NEWID")"
"$AUDITDB_BIN" keys rotate "$VID" >/dev/null 2>&1
expect_eq "rotating a revoked key: exit 1, nothing recorded" "1 2" "$? $(rows "api_key.${VID#adb_}")"
"$AUDITDB_BIN" keys rotate adb_0000000000000000 >/dev/null 2>&1
expect_eq "rotating an unknown key: exit 1" 1 "$?"
"$AUDITDB_BIN" keys set-role "adb_$NEWID" auditor >/dev/null 2>&1
expect_eq "set-role: exit 0, the row (viewer -> auditor)" "0 viewer auditor role changed" \
    "$? $(sql "SELECT previous_value->>'role' || ' ' || (new_value->>'role') || ' ' || reason FROM config_change_event WHERE field = 'api_key.$NEWID' AND reason = 'role changed'")"
http GET /api/v1/config/changes -H "X-API-Key: $NEWV"
expect_eq "the new role applies at once (auditor reads the history)" 200 "$HTTP_STATUS"
"$AUDITDB_BIN" keys set-role "adb_$NEWID" auditor >/dev/null 2>&1
expect_eq "the same role again: exit 0, no second row" "0 1" "$? $(sql "SELECT count(*) FROM config_change_event WHERE field = 'api_key.$NEWID' AND reason = 'role changed'")"
"$AUDITDB_BIN" keys set-role "adb_$NEWID" nosuchrole >/dev/null 2>&1
expect_eq "a role the organization lacks: exit 1, unchanged" "1 auditor" "$? $(sql "SELECT role FROM apikey WHERE id = '$NEWID'")"
"$AUDITDB_BIN" keys set-role "adb_$NEWID" operator >/dev/null 2>&1
expect_eq "no key becomes an operator's: exit 1" "1 auditor" "$? $(sql "SELECT role FROM apikey WHERE id = '$NEWID'")"
"$AUDITDB_BIN" keys set-role "adb_$NEWID" >/dev/null 2>&1
expect_eq "set-role without a role: exit 2" 2 "$?"
"$AUDITDB_BIN" keys revoke "adb_$NEWID" >/dev/null 2>&1
expect_eq "every org-a key change announced: create 2, rotate 2, role 1, revoke 1" 6 "$(wait_events 'api_key.%' 6)"
for k in "$A" "$V" "$NEWV" "$OP"; do
    expect_eq "no key secret in the history or the events" 0 \
        "$(sql "SELECT (SELECT count(*) FROM config_change_event WHERE previous_value::text || new_value::text LIKE '%${k#adb_*_}%') + (SELECT count(*) FROM audit_log WHERE details::text LIKE '%${k#adb_*_}%')")"
done

# ---- 2. presets ----
P='{"name":"ph-read","description":"v1","template":{"action":"patient.read","targetResourceType":"Patient","dataClassification":"PHI"},"validation":{"requiredFields":["principalId"],"optionalFields":[],"fieldValidation":{}},"metadata":{"tags":["t"]}}'
http POST /api/v1/audit-presets -H "X-API-Key: $A" -H "$J" -d "$P"
expect_eq "preset created" 201 "$HTTP_STATUS"
http POST /api/v1/audit-presets -H "X-API-Key: $A" -H "$J" -d "$P"
expect_eq "the same name again: 409, nothing recorded" "409 1" "$HTTP_STATUS $(rows audit_preset.ph-read)"
http PUT /api/v1/audit-presets/ph-read -H "X-API-Key: $A" -H "$J" -d '{"description":"v2","changeLog":"clearer"}'
expect_eq "preset updated" 200 "$HTTP_STATUS"
http PUT /api/v1/audit-presets/ph-read -H "X-API-Key: $B" -H "$J" -d '{"description":"hijacked"}'
expect_eq "org-b's update of org-a's preset: 404, nothing recorded for either" "404 2 0" \
    "$HTTP_STATUS $(rows audit_preset.ph-read) $(rows 'audit_preset.%' org-b)"
http POST /api/v1/audit-presets/ph-read/versions/1/restore -H "X-API-Key: $A"
expect_eq "version 1 restored" 200 "$HTTP_STATUS"
http POST /api/v1/audit-presets/ph-read/duplicate -H "X-API-Key: $A" -H "$J" -d '{"targetName":"ph-copy"}'
expect_eq "duplicated" 201 "$HTTP_STATUS"
expect_eq "the preset's rows: created, updated (its change log), restored" \
    "created:created clearer:updated restored from version 1:updated" "$(changes audit_preset.ph-read)"
expect_eq "the update's values: description v1 -> v2" "v1 v2" \
    "$(sql "SELECT previous_value->>'description' || ' ' || (new_value->>'description') FROM config_change_event WHERE field = 'audit_preset.ph-read' AND reason = 'clearer'")"
expect_eq "the copy's row" "duplicated from ph-read:created" "$(changes audit_preset.ph-copy)"
IMPORT='{"data":{"presets":[{"name":"imp-one","template":{"action":"a.b","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}},{"name":"ph-copy","description":"over","template":{"action":"c.d","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}]},"overwrite":true}'
http POST /api/v1/audit-presets/import -H "X-API-Key: $A" -H "$J" -d "$IMPORT"
expect_eq "import with overwrite: a row per preset written" "200 imported:created imported:updated" \
    "$HTTP_STATUS $(changes audit_preset.imp-one) $(sql "SELECT reason || ':' || CASE WHEN previous_value = 'null'::jsonb THEN 'created' ELSE 'updated' END FROM config_change_event WHERE field = 'audit_preset.ph-copy' ORDER BY id DESC LIMIT 1")"
http POST /api/v1/audit-presets/import -H "X-API-Key: $A" -H "$J" -d '{"data":{"presets":[{"name":"bad-one"}]}}'
expect_eq "an import refused (400): nothing recorded" "400 0" "$HTTP_STATUS $(rows audit_preset.bad-one)"
http DELETE "/api/v1/audit-presets/imp-one?force=true" -H "X-API-Key: $A"
expect_eq "preset deleted" 204 "$HTTP_STATUS"
expect_eq "its rows: imported, deleted (force)" "imported:created deleted (force):deleted" "$(changes audit_preset.imp-one)"
expect_eq "a config.change event per preset row" "$(rows 'audit_preset.%')" "$(wait_events 'audit_preset.%' "$(rows 'audit_preset.%')")"

# ---- 3. report templates and scheduled reports ----
T=/api/v1/compliance/templates
http POST $T -H "X-API-Key: $A" -H "$J" -d '{"name":"Monthly HIPAA","category":"hipaa","isPublic":false,"reportType":"HIPAA_AUDIT_TRAIL","defaultFormat":"csv","defaultCriteria":{"dataClassifications":["PHI"]},"defaultDelivery":{"destinations":[]},"defaultExport":{"format":"csv"},"tags":["hipaa"],"isActive":true,"isDefault":false,"configuration":{"sections":[]}}'
expect_eq "template created" 201 "$HTTP_STATUS"
TID=$(jbody 'd["id"]')
http PUT "$T/$TID" -H "X-API-Key: $A" -H "$J" -d '{"name":"Monthly HIPAA v2"}'
expect_eq "template updated" 200 "$HTTP_STATUS"
http DELETE "$T/$TID" -H "X-API-Key: $B"
expect_eq "org-b deletes org-a's template: 404, nothing recorded" "404 2" "$HTTP_STATUS $(rows "report_template.$TID")"
http DELETE "$T/$TID" -H "X-API-Key: $A"
expect_eq "template deleted" 204 "$HTTP_STATUS"
expect_eq "the template's rows: created, updated (name), deleted; no version or time in them" \
    "-:created -:updated -:deleted|Monthly HIPAA Monthly HIPAA v2|0" \
    "$(changes "report_template.$TID")|$(sql "SELECT previous_value->>'name' || ' ' || (new_value->>'name') FROM config_change_event WHERE field = 'report_template.$TID' AND previous_value <> 'null'::jsonb AND new_value <> 'null'::jsonb")|$(sql "SELECT count(*) FROM config_change_event WHERE field = 'report_template.$TID' AND (new_value ? 'version' OR new_value ? 'updatedAt')")"
S=/api/v1/scheduled-reports
SCH='{"frequency":"daily","timezone":"UTC","hour":3,"minute":0,"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":3,"catchUpMissedRuns":false}'
http POST $S -H "X-API-Key: $A" -H "$J" -d '{"name":"nightly","reportType":"HIPAA_AUDIT_TRAIL","criteria":{"dateRange":{"startDate":"2026-01-01T00:00:00Z","endDate":"2026-02-01T00:00:00Z"}},"format":"json","schedule":'"$SCH"',"delivery":{"destinations":[]},"export":{"format":"json"}}'
expect_eq "schedule created" 201 "$HTTP_STATUS"
SID=$(jbody 'd["id"]')
http PUT "$S/$SID" -H "X-API-Key: $A" -H "$J" -d '{"name":"nightly two"}'
expect_eq "schedule updated" 200 "$HTTP_STATUS"
http PUT "$S/$SID" -H "X-API-Key: $A" -H "$J" -d '{"schedule":{"frequency":"daily","timezone":"Mars/Olympus","hour":1,"minute":0}}'
expect_eq "a refused update (400): nothing recorded" "400 2" "$HTTP_STATUS $(rows "scheduled_report.$SID")"
http POST "$S/$SID/disable" -H "X-API-Key: $A"
expect_eq "disabled" 200 "$HTTP_STATUS"
http POST "$S/$SID/enable" -H "X-API-Key: $A"
expect_eq "enabled" 200 "$HTTP_STATUS"
http DELETE "$S/$SID" -H "X-API-Key: $A"
expect_eq "deleted" 204 "$HTTP_STATUS"
expect_eq "the schedule's rows: created, updated, disabled, enabled, deleted" \
    "-:created -:updated disabled:updated enabled:updated deleted:deleted" "$(changes "scheduled_report.$SID")"
expect_eq "disable: enabled true -> false; no run time or count in the row" "true false 0" \
    "$(sql "SELECT previous_value->>'enabled' || ' ' || (new_value->>'enabled') FROM config_change_event WHERE field = 'scheduled_report.$SID' AND reason = 'disabled'") $(sql "SELECT count(*) FROM config_change_event WHERE field = 'scheduled_report.$SID' AND (new_value ? 'nextRun' OR new_value ? 'executionCount')")"
expect_eq "changed by the admin's key" "apikey:" "$(sql "SELECT DISTINCT left(changed_by, 7) FROM config_change_event WHERE field = 'scheduled_report.$SID'")"
"$AUDITDB_BIN" reports schedules delete "$SID" --org org-a >/dev/null 2>&1
expect_eq "the CLI's delete of a deleted schedule records nothing" 5 "$(rows "scheduled_report.$SID")"
expect_eq "a config.change event per template and schedule row" "3 5" \
    "$(wait_events "report_template.$TID" 3) $(wait_events "scheduled_report.$SID" 5)"

# ---- 4. silences: a row each, their own events only ----
END=$(python3 -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)))')
http POST /api/v1/alerts/silences -H "X-API-Key: $A" -H "$J" -d '{"reason":"maintenance","matchers":{"type":"SECURITY"},"endsAt":"'"$END"'"}'
expect_eq "silence created" 201 "$HTTP_STATUS"
SIL=$(jbody 'd["id"]')
http DELETE "/api/v1/alerts/silences/$SIL" -H "X-API-Key: $A"
http DELETE "/api/v1/alerts/silences/$SIL" -H "X-API-Key: $A"
expect_eq "expired twice: one row for the creation, one for the expiry" "-:created -:updated" "$(changes "alert_silence.$SIL")"
expect_eq "the expiry's values: the end moved, by whom (the key, as the silence names it)" "t $(printf '%s' "$A" | cut -c5-20) apikey:" \
    "$(sql "SELECT (previous_value->>'endsAt' > new_value->>'endsAt')::text || ' ' || (new_value->>'expiredBy') || ' ' || left(changed_by, 7) FROM config_change_event WHERE field = 'alert_silence.$SIL' AND previous_value <> 'null'::jsonb" | sed 's/^true/t/')"
CSIL=$("$AUDITDB_BIN" alerts silence --org org-a --reason "cli window" --for 30 --type SECURITY 2>&1)
"$AUDITDB_BIN" alerts unsilence "$CSIL" --org org-a >/dev/null 2>&1
expect_eq "the CLI's silence and unsilence: a row each, by cli:<user>" "-:created -:updated cli:" \
    "$(changes "alert_silence.$CSIL") $(sql "SELECT DISTINCT left(changed_by, 4) FROM config_change_event WHERE field = 'alert_silence.$CSIL'")"
sleep 0.3
expect_eq "silences: their alert.silence.* events, no config.change" "2 0" \
    "$(sql "SELECT count(*) FROM audit_log WHERE target_resource_id = '$SIL'") $(events "alert_silence.%")"

# ---- 5. the health configuration: a process-wide row, by the operator ----
http PUT /api/v1/health/config -H "X-API-Key: $OP" -H "$J" -d '{"timeout":600}'
expect_eq "health config changed" 200 "$HTTP_STATUS"
http PUT /api/v1/health/config -H "X-API-Key: $OP" -H "$J" -d '{"timeout":600}'
http PUT /api/v1/health/config -H "X-API-Key: $OP" -H "$J" -d '{"timeout":99999}'
expect_eq "unchanged, then refused (400): one row, process-wide" "400 1|t" \
    "$HTTP_STATUS $(sql "SELECT count(*) FROM config_change_event WHERE field = 'health_config'")|$(sql "SELECT bool_and(organization_id IS NULL AND changed_by LIKE 'apikey:%') FROM config_change_event WHERE field = 'health_config'")"
expect_eq "its values" "800 600" "$(sql "SELECT (previous_value->>'timeout') || ' ' || (new_value->>'timeout') FROM config_change_event WHERE field = 'health_config'")"
http PUT /api/v1/health/config -H "X-API-Key: $A" -H "$J" -d '{"timeout":500}'
expect_eq "an organization's admin may not: 403, nothing recorded" "403 1" \
    "$HTTP_STATUS $(sql "SELECT count(*) FROM config_change_event WHERE field = 'health_config'")"
# the row before the change: with the history unwritable, the change is refused and not applied
sql "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'refused by the test'; END \$\$;
     CREATE TRIGGER t_refuse BEFORE INSERT ON config_change_event FOR EACH ROW EXECUTE FUNCTION t_refuse()" >/dev/null
http PUT /api/v1/health/config -H "X-API-Key: $OP" -H "$J" -d '{"timeout":700}'
ST=$HTTP_STATUS
http GET /api/v1/health/config -H "X-API-Key: $OP"
expect_eq "history unwritable: 503 and the setting unchanged" "503 600" "$ST $(jbody 'd["timeout"]')"
http PUT /api/v1/audit-presets/ph-read -H "X-API-Key: $A" -H "$J" -d '{"description":"v3"}'
expect_eq "...and a preset change is rolled back with it" "503 v1" \
    "$HTTP_STATUS $(sql "SELECT description FROM audit_preset WHERE organization_id = 'org-a' AND name = 'ph-read'")"
sql "DROP TRIGGER t_refuse ON config_change_event; DROP FUNCTION t_refuse()" >/dev/null

# ---- 6. the events say which field and how, never a value ----
expect_eq "no value in any config.change event" 0 \
    "$(sql "SELECT count(*) FROM audit_log WHERE action = 'config.change' AND (details::text LIKE '%Monthly HIPAA%' OR details::text LIKE '%nightly%' OR details::text LIKE '%clearer%v2%' OR details::text LIKE '%maintenance%')")"
expect_eq "an update's event" "updated apikey:" \
    "$(sql "SELECT details->>'change' || ' ' || left(principal_id, 7) FROM audit_log WHERE action = 'config.change' AND target_resource_id = 'scheduled_report.$SID' AND details->>'reason' = 'disabled'")"

stop_serve
finish
