#!/bin/sh
# webhook-verifier.sh - installs the independent Standard Webhooks verifier the
# delivery tests' receiver uses (npm package standardwebhooks: the reference
# library of the specification's authors) into DIR/node_modules, unless it is
# already there (scripts/npm-install.sh's contract).
#
# usage: scripts/webhook-verifier.sh DIR
exec "$(dirname "$0")/npm-install.sh" "${1:?usage: scripts/webhook-verifier.sh DIR}" \
    standardwebhooks@1.1.1
