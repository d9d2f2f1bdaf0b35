# openapi.sh - api/openapi.json is a valid OpenAPI 3.1 document (checked by an
# independent validator from the npm registry), names exactly the server's
# routes with the same permissions, and is what /api/v1/openapi.json serves.
. tests/lib.sh

mods="$PWD/build/node"
if [ ! -d "$mods/node_modules/@seriousme/openapi-schema-validator" ]; then
    npm install --silent --no-audit --no-fund --prefix "$mods" @seriousme/openapi-schema-validator@2.11.0 \
        >"$TEST_TMP/npm.log" 2>&1 || { not_ok "install the OpenAPI validator"; diag "$(tail -5 "$TEST_TMP/npm.log")"; finish; }
fi
out=$(NODE_PATH="$mods/node_modules" node tests/tools/check_openapi.js api/openapi.json); rc=$?
expect_eq "the document validates (OpenAPI 3.1, schemas, examples)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(printf '%s\n' "$out" | grep '^error' | head -20)"
doc_ops=$(printf '%s\n' "$out" | grep -E '^(GET|POST|PUT|PATCH|DELETE) ' | sort)
server_ops=$("$AUDITDB_BIN" routes | cut -d' ' -f1,2 | sort)
expect_eq "every route is documented and every documented route exists" "$server_ops" "$doc_ops"
doc_perms=$(python3 -c 'import json,sys
d=json.load(open("api/openapi.json"))
for p,ops in d["paths"].items():
    for m,op in ops.items():
        if isinstance(op,dict) and "operationId" in op: print(m.upper(),p,op.get("x-auditdb-permission"))' | sort)
expect_eq "documented permissions equal the route table's" "$("$AUDITDB_BIN" routes | sort)" "$doc_perms"

fresh_db t_openapi
if start_serve "$TEST_TMP/serve.log"; then
    curl -s "$BASE_URL/api/v1/openapi.json" >"$TEST_TMP/served.json"
    check "GET /api/v1/openapi.json serves api/openapi.json byte for byte" cmp -s "$TEST_TMP/served.json" api/openapi.json
    stop_serve TERM
else
    not_ok "serve starts"
fi
finish
