#!/bin/sh
# smtp-peer.sh - installs the SMTP peer of the delivery tests (npm smtp-server,
# which receives the mail over STARTTLS, and mailparser, which takes the MIME
# message apart independently of auditdb) into DIR/node_modules, unless they
# are already there (scripts/npm-install.sh's contract).
#
# usage: scripts/smtp-peer.sh DIR
exec "$(dirname "$0")/npm-install.sh" "${1:?usage: scripts/smtp-peer.sh DIR}" \
    smtp-server@3.13.8 mailparser@3.7.5
