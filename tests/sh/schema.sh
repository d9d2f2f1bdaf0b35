# schema.sh - a fresh migrate creates every table with the documented columns
# (checked against information_schema, from tests/schema/expected_columns.tsv,
# written from the original's schema, not from our migration text), the
# partitioned audit_log, constraints and the seed data.
. tests/lib.sh

fresh_db t_schema
out=$("$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_eq "fresh migrate exits 0" 0 "$rc"

# every table the issue names
for t in audit_log audit_preset audit_integrity_log audit_retention_policy error_log \
         error_aggregation archive_storage alerts scheduled_reports report_templates \
         report_executions archive_dlq_event config_change_event pseudonym_mapping \
         organization_role delivery_destinations delivery_logs delivery_queue \
         destination_health webhook_secrets download_links organization_configs \
         auth_audit_log security_events rate_limit_violations user_sessions \
         compliance_reports api_access_log data_retention_policies organization user apikey; do
    expect_eq "table $t exists" 1 "$(sql "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '$t'")"
done

# every documented column, with its type and nullability
actual="$TEST_TMP/actual.tsv"
sql "SELECT table_name || chr(9) || column_name || chr(9) || data_type || chr(9) || is_nullable
     FROM information_schema.columns c
     WHERE table_schema = 'public' AND table_name NOT LIKE 'audit_log\\_%'
       AND table_name <> 'schema_migrations'
       -- an extension's views (pg_stat_statements, hypopg: migration 0037) are not the schema's
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype = 'e'
                        AND d.classid = 'pg_class'::regclass
                        AND d.objid = format('public.%I', c.table_name)::regclass)
     ORDER BY 1" >"$actual"
grep -v '^#' tests/schema/expected_columns.tsv | grep -v '^$' | sort >"$TEST_TMP/expected.tsv"
sort "$actual" -o "$actual"
missing=$(comm -23 "$TEST_TMP/expected.tsv" "$actual")
extra=$(comm -13 "$TEST_TMP/expected.tsv" "$actual")
expect_eq "every documented column exists with its type and nullability" "" "$missing"
expect_eq "no undocumented column" "" "$extra"
expect_match "the column list is not trivially small" '^[0-9]{3,}$' "$(wc -l <"$TEST_TMP/expected.tsv" | tr -d ' ')"

# every column the seed documents define (tests/schema/seed_columns.tsv, extracted from them by
# tests/tools/seed_columns.py): present, with its documented type, NOT NULL, default and key,
# unless tests/schema/seed_deviations.tsv explains the difference (docs/schema.md)
seeds=${AUDITDB_SEEDS_DIR:-}
for d in ../shared/seeds ../../shared/seeds; do
    [ -z "$seeds" ] && [ -d "$d" ] && seeds=$d
done
if [ -n "$seeds" ] && [ -d "$seeds" ]; then
    python3 tests/tools/seed_columns.py "$seeds" >"$TEST_TMP/seed_columns.tsv"
    expect_eq "seed_columns.tsv is what the seed documents define (re-extracted from $seeds)" "" \
        "$(diff tests/schema/seed_columns.tsv "$TEST_TMP/seed_columns.tsv")"
else
    echo "skip - seed documents not found (../shared/seeds or AUDITDB_SEEDS_DIR): seed_columns.tsv not re-extracted"
fi
expect_match "the seed list is not trivially small" '^[0-9]{3,}$' \
    "$(grep -vc '^#' tests/schema/seed_columns.tsv)"
for t in auth_audit_log security_events rate_limit_violations user_sessions compliance_reports \
         api_access_log data_retention_policies audit_retention_policy report_executions delivery_logs; do
    expect_match "the seed list documents $t" "^[0-9]+$" \
        "$(awk -F '\t' -v t="$t" '$2 == t { n++ } END { if (n) print n }' tests/schema/seed_columns.tsv)"
done
psql "$AUDIT_DB_URL" -qAtX -F "$(printf '\t')" -v ON_ERROR_STOP=1 >"$TEST_TMP/catalog.tsv" <<'SQL'
SELECT c.table_name, c.column_name, c.data_type, coalesce(c.character_maximum_length::text, ''),
       c.is_nullable, coalesce(c.column_default, ''),
       coalesce((SELECT string_agg(DISTINCT k, '') FROM (
           SELECT CASE con.contype WHEN 'p' THEN 'P' WHEN 'u' THEN 'U' ELSE 'F' END AS k
             FROM pg_constraint con
            WHERE con.conrelid = a.attrelid AND con.contype IN ('p', 'u', 'f')
              AND a.attnum = ANY (con.conkey)
           UNION ALL
           SELECT 'U' FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique
              AND a.attnum = ANY (i.indkey::int2[])) x), '')
  FROM information_schema.columns c
  JOIN pg_attribute a ON a.attrelid = format('%I', c.table_name)::regclass AND a.attname = c.column_name
 WHERE c.table_schema = 'public' AND c.table_name NOT LIKE 'audit_log\_%'
SQL
python3 tests/tools/check_seed_columns.py tests/schema/seed_columns.tsv \
    tests/schema/seed_deviations.tsv "$TEST_TMP/catalog.tsv" >"$TEST_TMP/seed_check.out"
cat "$TEST_TMP/seed_check.out"
FAILED=$((FAILED + $(grep -c '^not ok ' "$TEST_TMP/seed_check.out")))

# the documented columns carry the data: rows written with our names (the column lists of
# src/http/selfaudit.c) get the documented ones, and rows written with the documented names
# get ours
sql "INSERT INTO api_access_log (organization_id, api_key_id, request_id, method, path, status_code,
         response_time_ms, request_bytes, ip_address, user_agent, error_code, request_body_hash, created_at)
     VALUES ('org-1', 'k1', 'r-1', 'POST', '/api/v1/audit/events', 201, 3, 120, '127.0.0.1', 'curl', NULL, NULL, now())" >/dev/null
expect_eq "api_access_log: endpoint, response_status, bytes_received from ours; bytes_sent 0, inet address" \
    "/api/v1/audit/events|201|120|0|127.0.0.1" \
    "$(sql "SELECT concat_ws('|', endpoint, response_status, bytes_received, bytes_sent, host(ip_address)) FROM api_access_log WHERE request_id = 'r-1'")"
sql "INSERT INTO api_access_log (method, endpoint, response_status, bytes_sent, request_id) VALUES ('GET', '/x', 404, 9, 'r-2')" >/dev/null
expect_eq "api_access_log: a row in the documented names gets ours" "/x|404" \
    "$(sql "SELECT concat_ws('|', path, status_code) FROM api_access_log WHERE request_id = 'r-2'")"
sql "INSERT INTO auth_audit_log (organization_id, api_key_id, event_type, event_status, ip_address, request_id, created_at)
     VALUES ('org-1', 'k1', 'api_key_auth', 'success', '::1', '0123456789abcdef01234567', now())" >/dev/null
expect_eq "auth_audit_log: correlation_id derived from the request id, processed_at set, risk_score 0" \
    "$(sql "SELECT md5('auditdb-request:0123456789abcdef01234567')::uuid")|t|0" \
    "$(sql "SELECT concat_ws('|', correlation_id, processed_at IS NOT NULL, risk_score) FROM auth_audit_log WHERE request_id = '0123456789abcdef01234567'")"
sql "INSERT INTO security_events (organization_id, event_type, severity, ip_address, description, created_at)
     VALUES ('org-1', 'repeated_auth_failure', 'HIGH', '10.0.0.1', 'x', now())" >/dev/null
expect_eq "security_events: event_category, severity_level, source_ip, is_resolved from ours" \
    "repeated_auth_failure|HIGH|10.0.0.1|f|f" \
    "$(sql "SELECT concat_ws('|', event_category, severity_level, host(source_ip), is_resolved, false_positive) FROM security_events WHERE description = 'x'")"
sql "INSERT INTO security_events (event_category, severity_level, source_ip, description) VALUES ('AUTHENTICATION', 'critical', '10.0.0.2', 'y')" >/dev/null
expect_eq "security_events: a row in the documented names gets ours" "AUTHENTICATION|CRITICAL|10.0.0.2" \
    "$(sql "SELECT concat_ws('|', event_type, severity, host(ip_address)) FROM security_events WHERE description = 'y'")"
sql "UPDATE security_events SET is_resolved = true WHERE description = 'y'" >/dev/null
expect_eq "security_events: resolving through is_resolved resolves" t \
    "$(sql "SELECT resolved FROM security_events WHERE description = 'y'")"
sql "INSERT INTO rate_limit_violations (organization_id, api_key_id, ip_address, limit_key, endpoint, method,
         request_count, limit_max, window_ms, window_start, created_at)
     VALUES ('org-1', 'k1', '127.0.0.1', 'k1', '/api/v1/audit/events', 'POST', 101, 100, 1000, now(), now())" >/dev/null
expect_eq "rate_limit_violations: limit_threshold, time_window_minutes (rounded up), violation_type, blocked 0" \
    "100|1|api_key|0" \
    "$(sql "SELECT concat_ws('|', limit_threshold, time_window_minutes, violation_type, blocked_duration_minutes) FROM rate_limit_violations WHERE api_key_id = 'k1'")"
sql "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) VALUES ('u1', 'U', 'u1@example.org', true, now(), now())" >/dev/null
sql "INSERT INTO user_sessions (id, user_id, token_hash, expires_at) VALUES ('s-1', 'u1', repeat('a', 64), now() + interval '1 hour')" >/dev/null
sql "UPDATE user_sessions SET logout_at = now() AT TIME ZONE 'UTC', logout_reason = 'user' WHERE id = 's-1'" >/dev/null
expect_eq "user_sessions: session_id = id; logging out through the documented names revokes" "s-1|f|t|user" \
    "$(sql "SELECT concat_ws('|', session_id, is_active, revoked_at IS NOT NULL, revoked_reason) FROM user_sessions WHERE id = 's-1'")"
sql "INSERT INTO data_retention_policies (organization_id, table_name, retention_period_days) VALUES (NULL, 'security_events', 30)
     ON CONFLICT (organization_id, table_name) DO UPDATE SET retention_period_days = 30" >/dev/null
expect_eq "data_retention_policies: retention_period_days is the retention applied" "30|30" \
    "$(sql "SELECT concat_ws('|', retention_days, retention_period_days) FROM data_retention_policies WHERE organization_id IS NULL AND table_name = 'security_events'")"
sql "SELECT * FROM auditdb_apply_security_retention(now())" >/dev/null
expect_eq "data_retention_policies: a retention run sets last_cleanup_at" 0 \
    "$(sql "SELECT count(*) FROM data_retention_policies WHERE is_active AND last_cleanup_at IS NULL")"
sql "DELETE FROM api_access_log; DELETE FROM security_events; DELETE FROM rate_limit_violations; DELETE FROM user_sessions; DELETE FROM \"user\"" >/dev/null

# audit_log: bigint id, monthly range partitions on timestamp, PK (id, timestamp)
expect_eq "audit_log is range-partitioned on timestamp" "r:timestamp" \
    "$(sql "SELECT p.partstrat::text || ':' || a.attname FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'audit_log'::regclass")"
expect_eq "audit_log primary key is (id, timestamp)" "id,timestamp" \
    "$(sql "SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum WHERE c.conrelid = 'audit_log'::regclass AND c.contype = 'p'")"
expect_eq "partition function names partitions audit_log_YYYY_MM" audit_log_2026_11 \
    "$(sql "SELECT auditdb_ensure_partition(date '2026-11-17')")"
expect_eq "partition function is idempotent" audit_log_2026_11 \
    "$(sql "SELECT auditdb_ensure_partition(date '2026-11-01')")"
expect_eq "partition bounds are the UTC month" "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')" \
    "$(sql "SET TIME ZONE 'UTC'; SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'audit_log_2026_11'")"
id=$(sql "INSERT INTO audit_log (\"timestamp\", organization_id, action, status) VALUES ('2026-11-17T10:00:00Z', 'org-1', 'auth.login.success', 'success') RETURNING id")
expect_match "an event is stored in its month" '^[0-9]+$' "$id"
expect_eq "it lands in audit_log_2026_11" audit_log_2026_11 "$(sql "SELECT tableoid::regclass FROM audit_log WHERE id = $id")"
if sql "INSERT INTO audit_log (\"timestamp\", organization_id, action, status) VALUES ('1999-01-01T00:00:00Z', 'org-1', 'x', 'success')" >/dev/null 2>&1; then
    not_ok "no DEFAULT partition swallows events outside every month"
else
    ok "no DEFAULT partition swallows events outside every month"
fi
expect_eq "audit_log indexes: the chosen set only" \
    "audit_log_event_id_idx,audit_log_org_chain_idx,audit_log_org_correlation_idx,audit_log_org_principal_time_idx,audit_log_org_status_action_time_idx,audit_log_org_target_time_idx,audit_log_org_time_idx,audit_log_pkey" \
    "$(sql "SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'audit_log'::regclass")"

# constraints kept from the original
for c in audit_retention_policy:u:policy_name organization:u:slug user:u:email \
         report_executions:f:scheduled_report_id organization_role:f:organization_id apikey:f:user_id; do
    t=${c%%:*}; rest=${c#*:}; kind=${rest%%:*}; col=${rest#*:}
    expect_eq "constraint $kind on $t($col)" 1 \
        "$(sql "SELECT count(*) FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) WHERE c.conrelid = '\"$t\"'::regclass AND c.contype = '$kind' AND a.attname = '$col'")"
done

# seed data
expect_eq "retention policies seeded" \
    "confidential:1825:365:CONFIDENTIAL,minimal:90:30:PUBLIC,phi_extended:2555:365:PHI,standard:2555:365:INTERNAL" \
    "$(sql "SELECT string_agg(policy_name || ':' || retention_days || ':' || archive_after_days || ':' || data_classification, ',' ORDER BY policy_name) FROM audit_retention_policy")"
expect_eq "default presets seeded" \
    "admin,authentication,compliance,data_operation,fhir_access,practitioner,security,system" \
    "$(sql "SELECT string_agg(name, ',' ORDER BY name) FROM audit_preset")"

# a second migrate is a no-op
out=$("$AUDITDB_BIN" migrate 2>&1)
expect_match "second migrate applies nothing" "0 applied now" "$out"
finish
