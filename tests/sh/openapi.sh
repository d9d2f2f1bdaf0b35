# openapi.sh - api/openapi.json is a valid OpenAPI 3.1 document (checked by an
# independent validator from the npm registry), names exactly the server's
# routes with the same permissions, and is what /api/v1/openapi.json serves.
# Without the validator (npm failed: scripts/openapi-validator.sh says why),
# the checks that need it are "skip" lines with that reason; the rest run.
. tests/lib.sh

# routes and permissions compare through the validator's output; each check
# that needs it is a visible "skip" with npm's reason when it cannot be installed
mods=${OPENAPI_NODE_DIR:-$PWD/build/node}
validator=""
if why=$(scripts/openapi-validator.sh "$mods"); then
    validator=1
else
    diag "OpenAPI validator unavailable: $why"
fi
skip() { echo "skip - $1 (OpenAPI validator unavailable: $why)"; }

if [ -n "$validator" ]; then
    out=$(NODE_PATH="$mods/node_modules" node tests/tools/check_openapi.js api/openapi.json); rc=$?
    expect_eq "the document validates (OpenAPI 3.1, schemas, examples)" 0 "$rc"
    [ "$rc" -eq 0 ] || diag "$(printf '%s\n' "$out" | grep '^error' | head -20)"
    doc_ops=$(printf '%s\n' "$out" | grep -E '^(GET|POST|PUT|PATCH|DELETE) ' | sort)
    server_ops=$("$AUDITDB_BIN" routes | cut -d' ' -f1,2 | sort)
    expect_eq "every route is documented and every documented route exists" "$server_ops" "$doc_ops"
else
    skip "the document validates (OpenAPI 3.1, schemas, examples)"
    skip "every route is documented and every documented route exists"
fi
doc_perms=$(python3 -c 'import json,sys
d=json.load(open("api/openapi.json"))
for p,ops in d["paths"].items():
    for m,op in ops.items():
        if isinstance(op,dict) and "operationId" in op: print(m.upper(),p,op.get("x-auditdb-permission"))' | sort)
expect_eq "documented permissions equal the route table's" "$("$AUDITDB_BIN" routes | sort)" "$doc_perms"

fresh_db "t_openapi${OPENAPI_DB_SUFFIX:-}"
if start_serve "$TEST_TMP/serve.log"; then
    curl -s "$BASE_URL/api/v1/openapi.json" >"$TEST_TMP/served.json"
    check "GET /api/v1/openapi.json serves api/openapi.json byte for byte" cmp -s "$TEST_TMP/served.json" api/openapi.json

    # what the server answers is what the document says it answers
    key=$(cat "$AUDITDB_HOME/admin.key")
    conforms() { # LABEL METHOD DOCPATH STATUS: HTTP_STATUS/HTTP_BODY against the document
        if [ -z "$validator" ]; then
            skip "$1: as documented"
            return
        fi
        if [ "$HTTP_STATUS" != "$4" ]; then
            not_ok "$1: status $4 (got $HTTP_STATUS)"
            return
        fi
        res=$(printf '%s' "$HTTP_BODY" | NODE_PATH="$mods/node_modules" node tests/tools/check_response.js api/openapi.json "$2" "$3" "$4" 2>&1)
        expect_eq "$1: as documented" ok "$(printf '%s\n' "$res" | head -5)"
    }
    http GET /health; conforms "GET /health 200" GET /health 200
    http GET /live; conforms "GET /live 200" GET /live 200
    http GET /ready; conforms "GET /ready 200" GET /ready 200
    op=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
    http GET /health/detailed -H "X-API-Key: $op"; conforms "GET /health/detailed 200" GET /health/detailed 200
    http GET /health/detailed -H "X-API-Key: $key"; conforms "GET /health/detailed 403 (an organization's admin)" GET /health/detailed 403
    http GET /health/detailed; conforms "GET /health/detailed 401" GET /health/detailed 401
    http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' \
        --data-binary '{"eventData":{"action":"doc.check","status":"success","principalId":"u1","details":{"a":[1,"x"]}}}'
    conforms "POST /api/v1/audit/events 201" POST /api/v1/audit/events 201
    id=$(jbody 'd["data"]["id"]' 2>/dev/null || jbody 'd["id"]')
    http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' --data-binary '{"eventData":{}}'
    conforms "POST /api/v1/audit/events 400" POST /api/v1/audit/events 400
    http POST /api/v1/audit/events/bulk -H "X-API-Key: $key" -H 'Content-Type: application/json' \
        --data-binary '{"events":[{"action":"doc.bulk","status":"success"},{"status":"nope"}]}'
    conforms "POST /api/v1/audit/events/bulk 201 (partial)" POST /api/v1/audit/events/bulk 201
    http GET "/api/v1/audit/events?limit=2" -H "X-API-Key: $key"
    conforms "GET /api/v1/audit/events 200" GET /api/v1/audit/events 200
    http GET "/api/v1/audit/events?limit=2&principalIds=u1&actions=doc.check" -H "X-API-Key: $key"
    conforms "GET /api/v1/audit/events 200 (filtered)" GET /api/v1/audit/events 200
    http GET "/api/v1/audit/events/$id" -H "X-API-Key: $key"
    conforms "GET /api/v1/audit/events/{id} 200" GET "/api/v1/audit/events/{id}" 200
    http GET "/api/v1/audit/events/999999999" -H "X-API-Key: $key"
    conforms "GET /api/v1/audit/events/{id} 404" GET "/api/v1/audit/events/{id}" 404
    http POST "/api/v1/audit/events/$id/verify" -H "X-API-Key: $key"
    conforms "POST /api/v1/audit/events/{id}/verify 200" POST "/api/v1/audit/events/{id}/verify" 200
    http GET "/api/v1/archives" -H "X-API-Key: $key"
    conforms "GET /api/v1/archives 200" GET /api/v1/archives 200
    viewer=$("$AUDITDB_BIN" keys create --org default --role viewer | sed -n 's/^key (shown once, store it now): //p')
    http POST /api/v1/audit/events -H "X-API-Key: $viewer" -H 'Content-Type: application/json' \
        --data-binary '{"eventData":{"action":"doc.check","status":"success"}}'
    conforms "POST /api/v1/audit/events 403" POST /api/v1/audit/events 403
    python3 -c 'print("{\"eventData\":{\"details\":{\"x\":\"" + "a"*11000000 + "\"}}}")' >"$TEST_TMP/big.json"
    http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' --data-binary @"$TEST_TMP/big.json"
    conforms "POST /api/v1/audit/events 413" POST /api/v1/audit/events 413
    http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: text/plain' --data-binary 'x'
    conforms "POST /api/v1/audit/events 415" POST /api/v1/audit/events 415
    # presets (docs/presets.md)
    pj() { http "$1" "$2" -H "X-API-Key: $key" -H 'Content-Type: application/json' --data-binary "$3"; }
    pj POST /api/v1/audit-presets '{"name":"doc-preset","template":{"action":"doc.read","targetResourceType":"Doc","dataClassification":"INTERNAL"},"validation":{"requiredFields":["principalId"],"optionalFields":[],"fieldValidation":{}},"metadata":{"tags":["t"]}}'
    conforms "POST /api/v1/audit-presets 201" POST /api/v1/audit-presets 201
    pj PUT /api/v1/audit-presets/doc-preset '{"description":"v2","lastModifiedBy":"doc"}'
    conforms "PUT /api/v1/audit-presets/{name} 200" PUT "/api/v1/audit-presets/{name}" 200
    http GET /api/v1/compliance/audit-presets -H "X-API-Key: $key"
    conforms "GET /api/v1/compliance/audit-presets 200" GET /api/v1/compliance/audit-presets 200
    http GET /api/v1/audit-presets/doc-preset/versions -H "X-API-Key: $key"
    conforms "GET /api/v1/audit-presets/{name}/versions 200" GET "/api/v1/audit-presets/{name}/versions" 200
    pj POST /api/v1/audit-presets/doc-preset/validate '{"principalId":"u1","organizationId":"default"}'
    conforms "POST /api/v1/audit-presets/{name}/validate 200" POST "/api/v1/audit-presets/{name}/validate" 200
    pj POST /api/v1/audit-presets/doc-preset/apply '{"principalId":"u1","organizationId":"default"}'
    conforms "POST /api/v1/audit-presets/{name}/apply 201" POST "/api/v1/audit-presets/{name}/apply" 201
    http GET /api/v1/audit-presets/doc-preset/stats -H "X-API-Key: $key"
    conforms "GET /api/v1/audit-presets/{name}/stats 200" GET "/api/v1/audit-presets/{name}/stats" 200
    pj POST /api/v1/audit-presets/export '{"includeVersionHistory":true}'
    conforms "POST /api/v1/audit-presets/export 200" POST /api/v1/audit-presets/export 200
    pj POST /api/v1/audit-presets/import "{\"data\":$HTTP_BODY,\"overwrite\":true}" # the export's JSON string as data
    conforms "POST /api/v1/audit-presets/import 200" POST /api/v1/audit-presets/import 200
    http GET /api/v1/audit-presets/nope -H "X-API-Key: $key"
    conforms "GET /api/v1/audit-presets/{name} 404" GET "/api/v1/audit-presets/{name}" 404
    stop_serve TERM
else
    not_ok "serve starts"
fi
finish
