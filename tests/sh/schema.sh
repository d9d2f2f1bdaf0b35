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
     ORDER BY 1" >"$actual"
grep -v '^#' tests/schema/expected_columns.tsv | grep -v '^$' | sort >"$TEST_TMP/expected.tsv"
sort "$actual" -o "$actual"
missing=$(comm -23 "$TEST_TMP/expected.tsv" "$actual")
extra=$(comm -13 "$TEST_TMP/expected.tsv" "$actual")
expect_eq "every documented column exists with its type and nullability" "" "$missing"
expect_eq "no undocumented column" "" "$extra"
expect_match "the column list is not trivially small" '^[0-9]{3,}$' "$(wc -l <"$TEST_TMP/expected.tsv" | tr -d ' ')"

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
    "audit_log_org_chain_idx,audit_log_org_correlation_idx,audit_log_org_principal_time_idx,audit_log_org_time_idx,audit_log_pkey" \
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
