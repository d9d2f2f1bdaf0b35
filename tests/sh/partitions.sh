# partitions.sh - monthly partitions: serve keeps the current month and the
# next six ready, the CLI lists (range, rows, size), creates and analyzes them.
. tests/lib.sh

fresh_db t_partitions
"$AUDITDB_BIN" migrate >/dev/null
months() { python3 -c 'import datetime
t = datetime.datetime.now(datetime.timezone.utc); y, m = t.year, t.month
out = []
for i in range(7):
    out.append("audit_log_%04d_%02d" % (y, m)); m += 1
    if m > 12: y, m = y + 1, 1
print(",".join(out))'; }
if start_serve "$TEST_TMP/serve.log"; then
    i=0
    while [ $i -lt 50 ] && [ "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass")" -lt 7 ]; do
        sleep 0.1; i=$((i + 1))
    done
    expect_eq "serve makes the current month and the next six" "$(months)" \
        "$(sql "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass")"
    stop_serve TERM
else
    not_ok "serve starts"
fi
out=$("$AUDITDB_BIN" partitions create --month 2021-02); rc=$?
expect_eq "create --month: exit 0" 0 "$rc"
expect_eq "create --month: named" "partition audit_log_2021_02 ready" "$out"
printf '{"timestamp":"2021-02-10T10:00:00Z","action":"old","status":"success","organizationId":"o"}\n' |
    "$AUDITDB_BIN" import --quiet - >/dev/null
out=$("$AUDITDB_BIN" partitions list); rc=$?
expect_eq "list: exit 0" 0 "$rc"
expect_match "list: range, rows and size of each" "audit_log_2021_02 +2021-02-01T00:00:00Z +2021-03-01T00:00:00Z +1 +[0-9]+" "$out"
expect_match "list: total" "^8 partition\\(s\\), 1 rows" "$out"
# every partition, those serve made and the one made on demand, is vacuumed after 10,000
# inserts whatever its size (migration 0011), and has the planner's statistics (0008)
expect_eq "each partition: vacuumed every 10,000 inserts, with its statistics" "8 8" \
    "$(sql "SELECT count(*) FILTER (WHERE c.reloptions @> '{autovacuum_vacuum_insert_threshold=10000,autovacuum_vacuum_insert_scale_factor=0}'), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxrelid = c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass" | tr '|' ' ')"
out=$("$AUDITDB_BIN" partitions create); rc=$?
expect_match "create again: nothing new" "\\(0 created\\)" "$out"
out=$("$AUDITDB_BIN" partitions analyze); rc=$?
expect_eq "analyze: every partition" "analyzed 8 partition(s)" "$out"
err=$("$AUDITDB_BIN" partitions create --month 2021-13 2>&1); rc=$?
expect_eq "bad month: exit 2" 2 "$rc"
expect_match "bad month: message" 'invalid month "2021-13" \(expected YYYY-MM\)' "$err"
err=$("$AUDITDB_BIN" partitions drop 2>&1); rc=$?
expect_eq "unknown subcommand: exit 2" 2 "$rc"

# retention of the security tables, with a controllable clock
sql "INSERT INTO organization (id, name, created_at) VALUES ('org-r', 'r', now())" >/dev/null
sql "INSERT INTO data_retention_policies (organization_id, table_name, retention_days) VALUES ('org-r', 'api_access_log', 10)" >/dev/null
sql "INSERT INTO api_access_log (organization_id, method, path, status_code, created_at) VALUES
     ('org-r', 'GET', '/a', 200, '2030-01-01T00:00:00Z'), ('org-r', 'GET', '/b', 200, '2030-01-15T00:00:00Z'),
     ('org-x', 'GET', '/c', 200, '2030-01-01T00:00:00Z'), ('org-x', 'GET', '/d', 200, '2029-09-01T00:00:00Z')" >/dev/null
sql "INSERT INTO error_log (id, category, severity, code, message, component, operation, correlation_id, retryable, aggregation_key, \"timestamp\") VALUES
     ('e-old', 'db', 'LOW', 'X1', 'm', 'writer', 'op', 'c1', 'false', 'k', '2029-09-01T00:00:00Z'),
     ('e-new', 'db', 'LOW', 'X1', 'm', 'writer', 'op', 'c2', 'false', 'k', '2030-01-10T00:00:00Z')" >/dev/null
out=$("$AUDITDB_BIN" maintenance run --now 2030-01-20T00:00:00Z); rc=$?
expect_eq "maintenance run: exit 0" 0 "$rc"
expect_eq "an organization's own 10-day policy: its old row goes, its recent one stays" "/b" \
    "$(sql "SELECT string_agg(path, ',' ORDER BY path) FROM api_access_log WHERE organization_id = 'org-r'")"
expect_eq "the default 90-day policy: 19 days stays, 141 days goes" "/c" \
    "$(sql "SELECT string_agg(path, ',' ORDER BY path) FROM api_access_log WHERE organization_id = 'org-x'")"
expect_eq "error_log by its own timestamp: old goes, new stays" e-new "$(sql "SELECT string_agg(id, ',') FROM error_log")"
expect_match "maintenance run: reports what it deleted (ours and the serve run's own access rows)" "security tables: [3-9] expired row" "$out"
err=$("$AUDITDB_BIN" maintenance run --now soon 2>&1); rc=$?
expect_eq "bad --now: exit 2" 2 "$rc"
finish
