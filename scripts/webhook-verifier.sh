#!/bin/sh
# webhook-verifier.sh - installs the independent Standard Webhooks verifier the
# delivery tests' receiver uses (npm package standardwebhooks, from the npm
# registry: the reference library of the specification's authors) into
# DIR/node_modules, unless it is already there.
#
# usage: scripts/webhook-verifier.sh DIR
# Exit 0 when it is there. Otherwise exit 1 with one line on stdout saying
# what failed (npm's own reason), as scripts/openapi-validator.sh does.
set -u
dir=${1:?usage: scripts/webhook-verifier.sh DIR}
pkg=standardwebhooks@1.1.1

[ -d "$dir/node_modules/standardwebhooks" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed (Debian package npm; scripts/deps.sh test installs it)"
    exit 1
fi
mkdir -p "$dir"
log="$dir/npm-install-standardwebhooks.log"
if npm install --loglevel=error --no-audit --no-fund --no-progress --fetch-retries=0 \
    --fetch-timeout=20000 --prefix "$dir" "$pkg" >"$log" 2>&1; then
    exit 0
fi
reason=$(grep -E '^npm (error|ERR!) ' "$log" | sed -E 's/^npm (error|ERR!) +//' |
    grep -vE "^(at |[{}]|[a-zA-Z]+: '|code |syscall |errno |If you are behind|A complete log|$)" |
    head -n 1)
code=$(sed -nE 's/^npm (error|ERR!) code (.*)/\2/p' "$log" | head -n 1)
[ -n "$reason$code" ] || reason="npm exited with an error and printed nothing"
echo "npm could not install $pkg${code:+ ($code)}: $reason (full log: $log)"
exit 1
