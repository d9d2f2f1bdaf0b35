#!/bin/sh
# openapi-validator.sh - installs the independent OpenAPI validator the tests
# use (@seriousme/openapi-schema-validator, from the npm registry) into
# DIR/node_modules, unless it is already there (scripts/npm-install.sh: exit 0
# when there, else exit 1 with npm's reason on one line).
#
# usage: scripts/openapi-validator.sh DIR
exec "$(dirname "$0")/npm-install.sh" "${1:?usage: scripts/openapi-validator.sh DIR}" \
    @seriousme/openapi-schema-validator@2.11.0
