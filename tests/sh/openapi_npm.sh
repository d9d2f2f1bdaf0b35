# openapi_npm.sh - when npm cannot install the OpenAPI validator (issue 14
# item 22): scripts/openapi-validator.sh says what failed (npm's reason, never
# a blank line) within seconds (no ~70 s of retries), and openapi.sh shows
# each check it cannot run as a "skip" line with that reason while the others
# still run. The registry is a closed local port: no network is needed.
. tests/lib.sh
export npm_config_registry=http://127.0.0.1:9/

start=$(date +%s)
why=$(scripts/openapi-validator.sh "$TEST_TMP/node"); rc=$?
took=$(( $(date +%s) - start ))
expect_eq "npm fails: exit 1" 1 "$rc"
expect_match "npm fails: says what failed (npm's reason)" \
    "^npm could not install @seriousme/openapi-schema-validator@[0-9.]+ \(ECONNREFUSED\): .*connect ECONNREFUSED 127.0.0.1:9" "$why"
check "npm fails within 30 s (took ${took} s; no retries)" test "$took" -lt 30

out=$(OPENAPI_DB_SUFFIX=_npm OPENAPI_NODE_DIR="$TEST_TMP/node2" TEST_TMP="$TEST_TMP/inner" sh -c 'mkdir -p "$TEST_TMP"; sh tests/sh/openapi.sh' 2>&1)
expect_match "openapi.sh: the validation is a skip with npm's reason" \
    "skip - the document validates .*\(OpenAPI validator unavailable: npm could not install .*ECONNREFUSED" "$out"
expect_match "openapi.sh: each response check is a skip too" "skip - POST /api/v1/audit/events 201: as documented" "$out"
expect_eq "openapi.sh: no check fails for want of npm" "" "$(printf '%s\n' "$out" | grep '^not ok')"
expect_match "openapi.sh: the checks that need no validator still run" \
    "ok - GET /api/v1/openapi.json serves api/openapi.json byte for byte" "$out"
finish
