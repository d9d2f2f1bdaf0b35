# install.sh - `make install` lays out the binary, headers, both libraries and
# auditdb.pc, and a program builds against them with pkg-config.
. tests/lib.sh

root="$TEST_TMP/root"
mode=$(basename "$(dirname "$AUDITDB_BIN")")
if make -s --no-print-directory install MODE="$mode" DESTDIR="$root" PREFIX=/opt/adb >"$TEST_TMP/install.log" 2>&1; then
    ok "make install succeeds"
else
    not_ok "make install succeeds"; diag "$(cat "$TEST_TMP/install.log")"; finish
fi
for f in bin/auditdb include/auditdb.h include/auditdb/status.h lib/libauditdb.a lib/libauditdb.so \
         lib/pkgconfig/auditdb.pc; do
    check "installed $f" test -e "$root/opt/adb/$f"
done
expect_match "auditdb.pc names the prefix" '^prefix=/opt/adb$' "$(cat "$root/opt/adb/lib/pkgconfig/auditdb.pc")"

cat >"$TEST_TMP/prog.c" <<'PROG'
#include <auditdb.h>
#include <stdio.h>
int main(void) { printf("%s %s\n", adb_version(), adb_strerror(ADB_ERR_NOMEM)); return 0; }
PROG
# the .pc says /opt/adb; point a copy at the staging folder
mkdir -p "$TEST_TMP/pc"
sed "s|^prefix=.*|prefix=$root/opt/adb|" "$root/opt/adb/lib/pkgconfig/auditdb.pc" >"$TEST_TMP/pc/auditdb.pc"
flags=$(PKG_CONFIG_PATH="$TEST_TMP/pc" pkg-config --cflags --libs auditdb)
san=""; [ "$mode" = test ] && san="-fsanitize=address,undefined"
if cc -std=c11 $san -o "$TEST_TMP/prog" "$TEST_TMP/prog.c" $flags >"$TEST_TMP/cc.log" 2>&1; then
    expect_match "a program links the installed shared library" '^[0-9]+\.[0-9]+\.[0-9]+ out of memory$' \
        "$(LD_LIBRARY_PATH="$root/opt/adb/lib" "$TEST_TMP/prog")"
else
    not_ok "a program links the installed library"; diag "$flags" "$(cat "$TEST_TMP/cc.log")"
fi
finish
