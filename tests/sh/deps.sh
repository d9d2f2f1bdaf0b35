# deps.sh - the dependency step: silent when everything is installed, a clear
# message and a non-zero exit when it cannot install.
. tests/lib.sh

out=$(scripts/deps.sh test 2>&1); rc=$?
expect_eq "all present: exit 0" 0 "$rc"
expect_eq "all present: says nothing" "" "$out"

if id nobody >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    err=$(su nobody -s /bin/sh -c "scripts/deps.sh build auditdb-no-such-package" 2>&1); rc=$?
    expect_eq "cannot install: exit 1" 1 "$rc"
    expect_match "cannot install: names the package" "installing missing Debian packages: auditdb-no-such-package" "$err"
    expect_match "cannot install: says why and what to run" "cannot install packages: not root and no password-less sudo" "$err"
else
    echo "skip - cannot-install path (needs root and a nobody user)"
fi
err=$(scripts/deps.sh sideways 2>&1); rc=$?
expect_eq "unknown set: exit 2" 2 "$rc"
finish
