#!/bin/sh
# smtp-peer.sh - installs the SMTP peer of the delivery tests (npm smtp-server,
# which receives the mail over STARTTLS, and mailparser, which takes the MIME
# message apart independently of auditdb) into DIR/node_modules, unless they
# are already there. Same contract as scripts/openapi-validator.sh: exit 0
# when installed, else exit 1 with one line saying why.
#
# usage: scripts/smtp-peer.sh DIR
set -u
dir=${1:?usage: scripts/smtp-peer.sh DIR}
pkgs="smtp-server@3.13.8 mailparser@3.7.5"

[ -d "$dir/node_modules/smtp-server" ] && [ -d "$dir/node_modules/mailparser" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed (Debian package npm; scripts/deps.sh test installs it)"
    exit 1
fi
mkdir -p "$dir"
log="$dir/npm-install.log"
# shellcheck disable=SC2086
if npm install --loglevel=error --no-audit --no-fund --no-progress --fetch-retries=0 \
    --fetch-timeout=20000 --prefix "$dir" $pkgs >"$log" 2>&1; then
    exit 0
fi
reason=$(grep -E '^npm (error|ERR!) ' "$log" | sed -E 's/^npm (error|ERR!) +//' | head -n 1)
[ -n "$reason" ] || reason="npm exited with an error"
echo "npm could not install $pkgs: $reason (full log: $log)"
exit 1
