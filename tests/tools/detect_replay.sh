# detect_replay.sh - sourced by tests/sh/detect_golden*.sh (after tests/lib.sh): the golden
# replay of the detection rules (docs/alerts.md, "The golden replay").
#
# DETECT_EVENTS (default 1000000: 205 s under ASan on a quiet moment, 435 s on the release build
# at load average 20; the runner allows 900 s): the fixture's size. At 1,000,000 the hits are compared with
# the checked-in tests/golden/alerts/detect_1m.tsv (and the reference is not run again); at any
# other size with tests/tools/detect_reference.py run on that fixture in the test.

DETECT_EVENTS=${DETECT_EVENTS:-1000000}
RULES_JSON=tests/golden/alerts/rules.json

# the fixture, generated once per test run and shared by the tests that replay it
detect_fixture() {
    dir=${RUN_TMP:-$TEST_TMP}
    FIXTURE="$dir/detect_fixture_$DETECT_EVENTS.ndjson"
    (
        flock 9
        [ -s "$FIXTURE" ] || python3 tests/tools/gen_detect_fixture.py --events "$DETECT_EVENTS" \
            "$FIXTURE.part" 2>/dev/null && mv -f "$FIXTURE.part" "$FIXTURE" 2>/dev/null
        [ -s "$FIXTURE" ]
    ) 9>"$dir/detect_fixture.lock"
}

# the expected hits: the golden file, or the reference on a fixture of another size
detect_expected() {
    if [ "$DETECT_EVENTS" = 1000000 ]; then
        cp tests/golden/alerts/detect_1m.tsv "$1"
    else
        python3 tests/tools/detect_reference.py "$RULES_JSON" "$FIXTURE" >"$1"
    fi
}

# a migrated database with the four organizations, their zones and the custom rules
detect_setup() {
    fresh_db "$1"
    "$AUDITDB_BIN" migrate >/dev/null || return 1
    python3 - "$RULES_JSON" >"$TEST_TMP/setup.sql" <<'EOF' || return 1
import json, sys
d = json.load(open(sys.argv[1]))
q = lambda s: "'" + s.replace("'", "''") + "'"
for org, tz in sorted(d["timezones"].items()):
    print("INSERT INTO organization (id, name, created_at) VALUES (%s, %s, now());" % (q(org), q(org)))
    print("UPDATE detection_settings SET timezone = %s WHERE organization_id = %s;" % (q(tz), q(org)))
for org in d["custom_orgs"]:
    for rid, r in sorted(d["custom"].items()):
        print("INSERT INTO detection_rules (organization_id, rule_id, version, is_current, enabled,"
              " definition, created_by) VALUES (%s, %s, 1, true, true, %s::jsonb, 'test');"
              % (q(org), q(rid), q(json.dumps(r))))
EOF
    psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -f "$TEST_TMP/setup.sql" >/dev/null
}

# the defaults a new organization gets are the ones the reference evaluated
detect_check_defaults() {
    sql "SELECT jsonb_object_agg(rule_id, definition) FROM detection_rules
         WHERE organization_id = 'det-ny' AND created_by = 'system'" >"$TEST_TMP/defaults.json"
    res=$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["defaults"]; b = json.load(open(sys.argv[2]))
print("same" if a == b else "differ: %s" % sorted(set(a) ^ set(b) or [k for k in a if a[k] != b.get(k)]))
' "$RULES_JSON" "$TEST_TMP/defaults.json")
    expect_eq "the default rules in the database are the ones the golden file was computed with" same "$res"
}

# import FILE: the fastest ingestion the service offers for a file (`auditdb import`, the
# writer in batches of 1000, in file order)
detect_import() {
    "$AUDITDB_BIN" import "$1" >"$TEST_TMP/import.out" 2>"$TEST_TMP/import.err"
}

# waits until every organization's cursor is at its chain head (timeout in s)
detect_wait() {
    t=0
    while [ "$t" -lt "$1" ]; do
        behind=$(sql "SELECT count(*) FROM audit_chain_head h LEFT JOIN detection_cursor c
                      ON c.organization_id = h.organization_id AND c.source = 'events'
                      WHERE h.last_seq > coalesce(c.position, 0)")
        [ "$behind" = 0 ] && return 0
        sleep 1; t=$((t + 1))
    done
    return 1
}

# no detection round failed in serve's log FILE
detect_no_failed_round() {
    if grep -q '"component":"detect"' "$1"; then
        not_ok "no detection round failed"
        grep '"component":"detect"' "$1" | head -5 | while IFS= read -r l; do diag "$l"; done
    else
        ok "no detection round failed"
    fi
}

# the hits as the golden file lists them
detect_hits() {
    sql "SELECT organization_id, rule_id, group_key,
                to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                to_char(window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                event_count
           FROM detection_hits ORDER BY 1, 2, 3, 4" | tr '|' '\t' >"$1.body"
    { printf 'org\trule\tgroup\twindow_start\twindow_end\tcount\n'; LC_ALL=C sort "$1.body"; } >"$1"
}

# the checks after a replay: hits = expected, nothing late or dropped, one raise per hit
detect_compare() {
    label=$1
    detect_hits "$TEST_TMP/hits.tsv"
    LC_ALL=C sort -o "$TEST_TMP/expected.body" "$TEST_TMP/expected.tsv"
    { head -1 "$TEST_TMP/expected.tsv"; grep -v '^org	' "$TEST_TMP/expected.body"; } >"$TEST_TMP/expected.sorted"
    if cmp -s "$TEST_TMP/expected.sorted" "$TEST_TMP/hits.tsv"; then
        ok "$label: the hits are exactly the golden set ($(($(wc -l <"$TEST_TMP/hits.tsv") - 1)) rows)"
    else
        not_ok "$label: the hits are exactly the golden set"
        diff "$TEST_TMP/expected.sorted" "$TEST_TMP/hits.tsv" | head -20 | while IFS= read -r l; do diag "$l"; done
    fi
    expect_eq "$label: every stored event evaluated once, none late, no group dropped" \
        "$(sql "SELECT count(*) FROM audit_log WHERE action NOT LIKE 'alert.%'")|0|0" \
        "$(sql "SELECT sum(evaluated), sum(late_events), sum(dropped_groups) FROM detection_cursor WHERE source = 'events'")"
    # each hit raised exactly once: its alert's trigger count counts it once
    expect_eq "$label: one trigger per hit, every hit with its alert, samples kept" \
        "$(($(wc -l <"$TEST_TMP/hits.tsv") - 1))|0|0" \
        "$(sql "SELECT (SELECT coalesce(sum(trigger_count), 0) FROM alerts WHERE source = 'auditdb-detect'),
                       (SELECT count(*) FROM detection_hits WHERE alert_id IS NULL),
                       (SELECT count(*) FROM alerts WHERE source = 'auditdb-detect'
                          AND coalesce(jsonb_array_length(sample_event_ids), 0) = 0)")"
}
