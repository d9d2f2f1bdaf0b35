#!/bin/sh
# npm-install.sh - installs test-only npm packages (exact versions) into
# DIR/node_modules, unless they are all there already. The contract the
# tests rely on: exit 0 when installed; otherwise exit 1 with one line on
# stdout saying what failed (npm's own reason: its "error code" and first
# message line), never a blank line. npm does not retry (a refused or
# unreachable registry fails in seconds, not after ~70 s of backoff) and
# gives up on a silent registry after 20 s.
#
# usage: scripts/npm-install.sh DIR PACKAGE@VERSION...
set -u
dir=${1:?usage: scripts/npm-install.sh DIR PACKAGE@VERSION...}
shift
[ $# -gt 0 ] || { echo "usage: scripts/npm-install.sh DIR PACKAGE@VERSION..."; exit 1; }

missing=
for p in "$@"; do
    [ -d "$dir/node_modules/${p%@*}" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed (Debian package npm; scripts/deps.sh test installs it)"
    exit 1
fi
mkdir -p "$dir"
log="$dir/npm-install.log"
# shellcheck disable=SC2086
if npm install --loglevel=error --no-audit --no-fund --no-progress --fetch-retries=0 \
    --fetch-timeout=20000 --prefix "$dir" $missing >"$log" 2>&1; then
    exit 0
fi
# npm's reason: its "code" line and its first message line, without stack frames
reason=$(grep -E '^npm (error|ERR!) ' "$log" | sed -E 's/^npm (error|ERR!) +//' |
    grep -vE "^(at |[{}]|[a-zA-Z]+: '|code |syscall |errno |If you are behind|A complete log|$)" |
    head -n 1)
code=$(sed -nE 's/^npm (error|ERR!) code (.*)/\2/p' "$log" | head -n 1)
[ -n "$reason$code" ] || reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n 2 | tr '\n' ' ')
[ -n "$reason$code" ] || reason="npm exited with an error and printed nothing"
echo "npm could not install$missing${code:+ ($code)}: $reason (registry $(npm config get registry 2>/dev/null); full log: $log)"
exit 1
