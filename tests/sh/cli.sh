# cli.sh - the command table: --help for every command, --version, usage
# errors on stderr with exit code 2.
. tests/lib.sh

out=$("$AUDITDB_BIN" --version); rc=$?
expect_match "--version prints the version" '^auditdb [0-9]+\.[0-9]+\.[0-9]+$' "$out"
expect_eq "--version exits 0" 0 "$rc"

help=$("$AUDITDB_BIN" --help)
for cmd in serve migrate db version help; do
    expect_match "--help lists $cmd" "^  $cmd " "$help"
    out=$("$AUDITDB_BIN" $cmd --help 2>&1); rc=$?
    expect_eq "$cmd --help exits 0" 0 "$rc"
    expect_match "$cmd --help prints its usage" "^usage: auditdb $cmd" "$out"
done
expect_match "--help documents exit codes" "exit codes: 0 success" "$help"
expect_match "--help lists settings" "AUDIT_DB_POOL_MAX" "$help"

err=$("$AUDITDB_BIN" frobnicate 2>&1 >/dev/null); rc=$?
expect_eq "unknown command exits 2" 2 "$rc"
expect_eq "unknown command message" 'auditdb: unknown command "frobnicate"; run "auditdb --help" for the list' "$err"

"$AUDITDB_BIN" >/dev/null 2>&1; rc=$?
expect_eq "no command exits 2" 2 "$rc"

err=$("$AUDITDB_BIN" migrate sideways 2>&1 >/dev/null); rc=$?
expect_eq "bad migrate argument exits 2" 2 "$rc"
expect_match "bad migrate argument names it" 'unknown argument "sideways"' "$err"

err=$("$AUDITDB_BIN" serve --threads 0 2>&1 >/dev/null); rc=$?
expect_eq "bad --threads exits 2" 2 "$rc"

err=$(AUDIT_DB_POOL_MAX=lots "$AUDITDB_BIN" migrate status 2>&1 >/dev/null); rc=$?
expect_eq "bad setting exits 2" 2 "$rc"
expect_match "bad setting names the variable" 'invalid value for AUDIT_DB_POOL_MAX: "lots"' "$err"

err=$("$AUDITDB_BIN" db 2>&1 >/dev/null); rc=$?
expect_eq "db without subcommand exits 2" 2 "$rc"
finish
