# migrate.sh - `auditdb migrate` from the command line: apply, no-op,
# status, an edited applied file refused, and two concurrent runners.
. tests/lib.sh

fresh_db t_cli_migrate
out=$("$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_eq "migrate exits 0" 0 "$rc"
n=$(ls migrations/*.sql | wc -l)
expect_match "migrate reports every file" "database is up to date: $n migration\(s\), $n applied now" "$out"
before=$(sql "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'")
out=$("$AUDITDB_BIN" migrate 2>&1); rc=$?
expect_match "second migrate applies nothing (count)" "0 applied now" "$out"
after=$(sql "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'")
expect_eq "second migrate changes no column" "$before" "$after"
expect_eq "history has one row per file" "$n" "$(sql 'SELECT count(*) FROM schema_migrations')"

out=$("$AUDITDB_BIN" migrate status); rc=$?
expect_eq "migrate status exits 0" 0 "$rc"
expect_match "migrate status shows applied" "0001_[a-z_]+\.sql +applied" "$out"
expect_match "migrate status summary" "^0 pending, 0 refused$" "$out"

# an applied file edited afterwards is refused, by migrate and by serve
mdir="$TEST_TMP/migrations"
mkdir -p "$mdir"
printf 'CREATE TABLE t1 (x int);\n' >"$mdir/0001_one.sql"
printf 'CREATE TABLE t2 (x int);\n' >"$mdir/0002_two.sql"
fresh_db t_cli_edit
AUDITDB_MIGRATIONS_DIR=$mdir "$AUDITDB_BIN" migrate >/dev/null 2>&1
printf 'CREATE TABLE t2 (x bigint);\n' >"$mdir/0002_two.sql"
err=$(AUDITDB_MIGRATIONS_DIR=$mdir "$AUDITDB_BIN" migrate 2>&1 >/dev/null); rc=$?
expect_eq "edited migration: exit 4" 4 "$rc"
expect_match "edited migration: message" '^auditdb: migration "0002_two.sql" was changed after it was applied' "$err"
out=$(AUDITDB_MIGRATIONS_DIR=$mdir "$AUDITDB_BIN" migrate status); rc=$?
expect_eq "edited migration: status exits 4" 4 "$rc"
expect_match "edited migration: status says CHANGED" "0002_two.sql +CHANGED" "$out"
err=$(AUDITDB_MIGRATIONS_DIR=$mdir timeout 20 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
expect_eq "edited migration: serve refuses to start (exit 4)" 4 "$rc"
expect_match "edited migration: serve says why" "was changed after it was applied" "$err"
err=$(AUDITDB_MIGRATIONS_DIR=$mdir timeout 20 "$AUDITDB_BIN" serve --no-migrate --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
expect_eq "edited migration: serve --no-migrate refuses too" 4 "$rc"

# two processes migrating one database at once: both succeed, one application
fresh_db t_cli_concurrent
"$AUDITDB_BIN" migrate >"$TEST_TMP/m1.out" 2>&1 &
p1=$!
"$AUDITDB_BIN" migrate >"$TEST_TMP/m2.out" 2>&1 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
expect_eq "concurrent migrate: first exits 0" 0 "$rc1"
expect_eq "concurrent migrate: second exits 0" 0 "$rc2"
total=$(cat "$TEST_TMP/m1.out" "$TEST_TMP/m2.out" | grep -c '^applied ')
expect_eq "concurrent migrate: each file applied once in all" "$n" "$total"
expect_eq "concurrent migrate: history rows" "$n" "$(sql 'SELECT count(*) FROM schema_migrations')"
diag "$(cat "$TEST_TMP/m1.out" "$TEST_TMP/m2.out")"
finish
