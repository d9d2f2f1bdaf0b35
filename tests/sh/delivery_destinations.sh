# delivery_destinations.sh - delivery destinations (issue 18; docs/delivery.md "Destinations",
# "Secrets", "SSRF") end to end over HTTP as smart-logs' client delivery service calls them:
# every answer in the client's shapes (tests/tools/delivery_shapes.py); another organization's
# destination is a 404; secrets shown once (a webhook's whsec_ secret) and never again, in no
# answer, no log and nowhere in a dump of the database; the address policy refuses loopback,
# private, link-local, metadata and unspecified addresses in every spelling unless the
# allow-list admits them; bad input a 400 naming the field; the CLI's destinations commands.
. tests/lib.sh
# python without pyenv's shim when there is one (the shim costs a second per call here)
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
json() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1],{"d":d}); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1"; }


fresh_db t_delivery_destinations
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_VIEW=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
# a role that may read destinations but not manage them
sql "INSERT INTO organization_role (organization_id, name, description, permissions)
     VALUES ('org-a', 'dreader', 'reads destinations', '[{\"resource\":\"delivery\",\"action\":\"read\"}]')" >/dev/null
A_READ=$(newkey org-a dreader)
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
if start_serve "$TEST_TMP/serve.log"; then ok "serve starts"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
trap 'stop_serve >/dev/null 2>&1' EXIT
J="content-type: application/json"
D=/api/v1/delivery/destinations
shape() { # LABEL KIND: the last answer in the client's shape
    printf '%s' "$HTTP_BODY" >"$TEST_TMP/answer.json"
    expect_eq "$1: the client's $2 shape" "" "$("$PY" tests/tools/delivery_shapes.py "$2" "$TEST_TMP/answer.json" 2>&1)"
}
field_400() { # LABEL FIELD: the last answer is a 400 naming FIELD
    f=$(printf '%s' "$HTTP_BODY" | json 'd["error"]["details"]["errors"][0]["field"]' 2>/dev/null)
    if [ "$HTTP_STATUS" = 400 ] && [ "$f" = "$2" ]; then ok "$1: 400 naming $2"; else
        not_ok "$1: 400 naming $2"; diag "status $HTTP_STATUS" "$HTTP_BODY"; fi
}
# every secret this test gives, to look for later
HDR_SECRET=tok-HDRSECRET-7c1e5b
SMTP_PASS=pw-SMTPSECRET-44a1
API_KEY=key-MAILAPISECRET-19
S3_SECRET=s3-S3SECRETKEY-wJalrXUtnFEMI
SFTP_PASS=pw-SFTPSECRET-0b2
SFTP_KEY="-----BEGIN OPENSSH PRIVATE KEY-----SFTPKEYSECRET-----END OPENSSH PRIVATE KEY-----"

webhook_doc() { # LABEL URL
    printf '{"organizationId":"org-a","label":"%s","type":"webhook","description":"orders","config":{"webhook":{"url":"%s","method":"POST","headers":{"Authorization":"Bearer %s","X-Plain":"visible"},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}' "$1" "$2" "$HDR_SECRET"
}

# ---- create, one of each type ------------------------------------------------------------
http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "$(webhook_doc "hook one" "http://127.0.0.1:9/hook")"
expect_eq "create webhook: 201" 201 "$HTTP_STATUS"
shape "create webhook" destination
conforms "create webhook" POST /api/v1/delivery/destinations 201
WH=$(jbody 'd["id"]')
WHSEC=$(jbody 'd["secrets"]["secret"]')
WHPK=$(jbody 'd["secrets"]["publicKey"]')
expect_match "the create answer shows the v1 secret once (whsec_ + base64 of 32 bytes)" '^whsec_[A-Za-z0-9+/]{43}=$' "$WHSEC"
expect_match "and the v1a public key (whpk_ + base64 of 32 bytes)" '^whpk_[A-Za-z0-9+/]{43}=$' "$WHPK"
expect_eq "the header's credential masked in the create answer" '********' "$(jbody 'd["config"]["webhook"]["headers"]["Authorization"]')"
expect_eq "a plain header shown" visible "$(jbody 'd["config"]["webhook"]["headers"]["X-Plain"]')"

http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "{\"label\":\"mail\",\"type\":\"email\",\"config\":{\"email\":{\"service\":\"smtp\",\"smtpConfig\":{\"host\":\"127.0.0.1\",\"port\":2525,\"secure\":false,\"auth\":{\"user\":\"reports\",\"pass\":\"$SMTP_PASS\"}},\"apiKey\":\"$API_KEY\",\"from\":\"audit@example.org\",\"subject\":\"Report\",\"recipients\":[\"dpo@example.org\"]}}}"
expect_eq "create email: 201" 201 "$HTTP_STATUS"
shape "create email" destination
MAIL=$(jbody 'd["id"]')
expect_eq "email: pass masked" '********' "$(jbody 'd["config"]["email"]["smtpConfig"]["auth"]["pass"]')"
expect_eq "email: apiKey masked" '********' "$(jbody 'd["config"]["email"]["apiKey"]')"
expect_eq "email: no secrets member (not a webhook)" null "$(jbody 'd.get("secrets")')"

http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "{\"label\":\"bucket\",\"type\":\"storage\",\"config\":{\"storage\":{\"provider\":\"s3\",\"config\":{\"region\":\"eu-west-1\",\"bucket\":\"audit\",\"endpoint\":\"http://127.0.0.1:9000\",\"accessKeyId\":\"AKIAEXAMPLE\",\"secretAccessKey\":\"$S3_SECRET\"},\"path\":\"reports/\",\"retention\":{\"days\":30,\"autoCleanup\":true}}}}"
expect_eq "create storage: 201" 201 "$HTTP_STATUS"
shape "create storage" destination
S3=$(jbody 'd["id"]')
expect_eq "storage: secretAccessKey masked" '********' "$(jbody 'd["config"]["storage"]["config"]["secretAccessKey"]')"
expect_eq "storage: accessKeyId shown" AKIAEXAMPLE "$(jbody 'd["config"]["storage"]["config"]["accessKeyId"]')"

http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "{\"label\":\"sftp\",\"type\":\"sftp\",\"config\":{\"sftp\":{\"host\":\"127.0.0.1\",\"port\":2222,\"username\":\"drop\",\"password\":\"$SFTP_PASS\",\"privateKey\":\"$SFTP_KEY\",\"path\":\"/in\",\"hostKey\":\"SHA256:AAAAAAAAAAAAAAAAAAAAbbbbbbbbbbbbbbbbbbbbbbb\"}}}"
expect_eq "create sftp: 201" 201 "$HTTP_STATUS"
shape "create sftp" destination
SFTP=$(jbody 'd["id"]')
expect_eq "sftp: password and privateKey masked" '["********", "********"]' "$(jbody '[d["config"]["sftp"]["password"], d["config"]["sftp"]["privateKey"]]')"

http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d '{"label":"links","type":"download","config":{"download":{"expiryHours":48,"maxAccess":3,"allowedIpRanges":["10.0.0.0/8","2001:db8::/32"]},"circuitBreaker":{"minimumVolume":20,"disableAfterSeconds":86400}}}'
expect_eq "create download: 201" 201 "$HTTP_STATUS"
shape "create download" destination
DL=$(jbody 'd["id"]')

# ---- read, list -----------------------------------------------------------------------------
http GET $D/$WH -H "x-api-key: $A_ADMIN"
expect_eq "get: 200" 200 "$HTTP_STATUS"
shape "get" destination
conforms "get" GET /api/v1/delivery/destinations/{id} 200
expect_eq "get: no secret member after creation" null "$(jbody 'd.get("secrets")')"
expect_eq "get: the label" "hook one" "$(jbody 'd["label"]')"

http GET "$D?limit=2&sortBy=label&sortOrder=asc" -H "x-api-key: $A_ADMIN"
expect_eq "list: 200" 200 "$HTTP_STATUS"
shape "list" destinations-page
conforms "list" GET /api/v1/delivery/destinations 200
expect_eq "list: sorted by label, 2 of 5" '["bucket", "hook one"] 5 true false' \
    "$(jbody '[x["label"] for x in d["data"]]') $(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["hasNext"]') $(jbody 'd["pagination"]["hasPrevious"]')"
http GET "$D?limit=2&offset=4&sortBy=label&sortOrder=asc" -H "x-api-key: $A_ADMIN"
expect_eq "list: the last page" '["sftp"] false true' "$(jbody '[x["label"] for x in d["data"]]') $(jbody 'd["pagination"]["hasNext"]') $(jbody 'd["pagination"]["hasPrevious"]')"
http GET "$D?type=webhook" -H "x-api-key: $A_ADMIN"
expect_eq "list: type=webhook" "[\"$WH\"]" "$(jbody '[x["id"] for x in d["data"]]')"
http GET "$D?sortBy=type&sortOrder=desc&limit=1" -H "x-api-key: $A_ADMIN"
expect_eq "list: sortBy type desc" webhook "$(jbody 'd["data"][0]["type"]')"
for q in "limit=0" "limit=1001" "offset=-1" "sortBy=secret" "sortOrder=up" "type=fax" "disabled=yes"; do
    http GET "$D?$q" -H "x-api-key: $A_ADMIN"
    field_400 "list ?$q" "${q%%=*}"
done
http GET "$D?colour=red" -H "x-api-key: $A_ADMIN"
expect_eq "list: an unknown parameter is a 400" 400 "$HTTP_STATUS"

# ---- update: PUT (partial, as the client sends it) and PATCH (merge patch) ---------------------
http PUT $D/$WH -H "x-api-key: $A_ADMIN" -H "$J" -d '{"label":"hook renamed","disabled":true,"config":{"webhook":{"url":"http://127.0.0.1:9/v2","method":"PUT","headers":{"Authorization":"********","X-Plain":"visible"},"timeout":7000,"retryConfig":{"maxRetries":3,"backoffMultiplier":2,"maxBackoffDelay":1000}}}}'
expect_eq "PUT: 200" 200 "$HTTP_STATUS"
shape "PUT" destination
conforms "PUT" PUT /api/v1/delivery/destinations/{id} 200
expect_eq "PUT: label, disabled, disabledBy, url" "hook renamed true apikey: http://127.0.0.1:9/v2" \
    "$(jbody 'd["label"]') $(jbody 'd["disabled"]') $(jbody 'd["disabledBy"][:7]') $(jbody 'd["config"]["webhook"]["url"]')"
expect_match "PUT: disabledAt set" '^20..-..-..T' "$(jbody 'd.get("disabledAt")')"
expect_eq "PUT: the masked header kept its sealed value (in the sealed blob, not in config)" \
    '{"sealed": true}' "$(sql "SELECT config->'webhook'->'headers'->'Authorization' FROM delivery_destinations WHERE id = $WH")"
http PATCH $D/$WH -H "x-api-key: $A_ADMIN" -H "$J" -d '{"disabled":false,"config":{"webhook":{"timeout":9000}}}'
expect_eq "PATCH: 200" 200 "$HTTP_STATUS"
expect_eq "PATCH: only the timeout changed in config" "9000 PUT http://127.0.0.1:9/v2 ********" \
    "$(jbody 'd["config"]["webhook"]["timeout"]') $(jbody 'd["config"]["webhook"]["method"]') $(jbody 'd["config"]["webhook"]["url"]') $(jbody 'd["config"]["webhook"]["headers"]["Authorization"]')"
expect_eq "PATCH: enabled again, disabledAt gone" "false None" "$(jbody 'd["disabled"]') $(jbody 'str(d.get("disabledAt"))')"
http PATCH $D/$WH -H "x-api-key: $A_ADMIN" -H "$J" -d '{"config":{"webhook":{"headers":{"X-Plain":null,"X-Added":"a"}}}}'
expect_eq "PATCH: null removes a member (RFC 7396), the sealed header kept" '{"Authorization": "********", "X-Added": "a"}' "$(jbody 'dict(sorted(d["config"]["webhook"]["headers"].items()))')"
http PUT $D/$MAIL -H "x-api-key: $A_ADMIN" -H "$J" -d '{"type":"webhook"}'
field_400 "PUT: type cannot change" type
http PATCH $D/$MAIL -H "x-api-key: $A_ADMIN" -H "$J" -d '{"config":{"email":{"smtpConfig":{"port":70000}}}}'
field_400 "PATCH: a bad port" config.email.smtpConfig.port
http PATCH $D/$WH -H "x-api-key: $A_ADMIN" -H "$J" -d '{"config":{"webhook":{"headers":{"X-New-Token":"********"}}}}'
field_400 "PATCH: a mask with no stored secret" config
conforms "a 400" PATCH /api/v1/delivery/destinations/{id} 400

# ---- the client's bad input: 400 with the field ---------------------------------------------
bad() { # LABEL FIELD BODY
    http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "$3"
    field_400 "create, $1" "$2"
}
W='"method":"POST","headers":{},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}'
bad "no type" type '{"label":"x","config":{}}'
bad "unknown type" type '{"label":"x","type":"fax","config":{}}'
bad "empty label" label '{"label":"","type":"download","config":{"download":{"expiryHours":1}}}'
bad "no config" config '{"label":"x","type":"download"}'
bad "no member of its type" config.download '{"label":"x","type":"download","config":{}}'
bad "another type's member" config.email '{"label":"x","type":"download","config":{"download":{"expiryHours":1},"email":{}}}'
bad "unknown top member" secret '{"label":"x","type":"download","secret":1,"config":{"download":{"expiryHours":1}}}'
bad "no url" config.webhook.url "{\"label\":\"x\",\"type\":\"webhook\",\"config\":{\"webhook\":{$W}}}"
bad "url not a URL" config.webhook.url "{\"label\":\"x\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"not a url\",$W}}}"
bad "ftp url" config.webhook.url "{\"label\":\"x\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"ftp://127.0.0.1/x\",$W}}}"
bad "credentials in the url" config.webhook.url "{\"label\":\"x\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"http://u:p@127.0.0.1/x\",$W}}}"
bad "method GET" config.webhook.method '{"label":"x","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1/","method":"GET","headers":{},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}'
bad "no retryConfig" config.webhook.retryConfig '{"label":"x","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1/","method":"POST","headers":{},"timeout":5000}}}'
bad "maxRetries -1" config.webhook.retryConfig.maxRetries '{"label":"x","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1/","method":"POST","headers":{},"timeout":5000,"retryConfig":{"maxRetries":-1,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}'
bad "a header with a line break" "config.webhook.headers.X-A" '{"label":"x","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1/","method":"POST","headers":{"X-A":"a\r\nHost: evil"},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}'
bad "a webhook-* header" "config.webhook.headers.webhook-signature" '{"label":"x","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1/","method":"POST","headers":{"webhook-signature":"v1,x"},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}'
bad "email without from" config.email.from '{"label":"x","type":"email","config":{"email":{"service":"smtp","subject":"s"}}}'
bad "email recipient" "config.email.recipients[0]" '{"label":"x","type":"email","config":{"email":{"service":"smtp","from":"a@b.c","subject":"s","recipients":["nobody"]}}}'
bad "storage provider" config.storage.provider '{"label":"x","type":"storage","config":{"storage":{"provider":"dropbox","config":{},"path":"/","retention":{"days":1,"autoCleanup":false}}}}'
bad "sftp without path" config.sftp.path '{"label":"x","type":"sftp","config":{"sftp":{"host":"127.0.0.1","port":22}}}'
bad "sftp without hostKey (pinned)" config.sftp.hostKey '{"label":"x","type":"sftp","config":{"sftp":{"host":"127.0.0.1","port":22,"path":"/"}}}'
bad "storage provider azure (not supported)" config.storage.provider '{"label":"x","type":"storage","config":{"storage":{"provider":"azure","config":{},"path":"/","retention":{"days":1,"autoCleanup":false}}}}'
bad "circuitBreaker out of range" config.circuitBreaker.minimumVolume '{"label":"x","type":"download","config":{"download":{"expiryHours":1},"circuitBreaker":{"minimumVolume":0}}}'
bad "circuitBreaker unknown knob" config.circuitBreaker.speed '{"label":"x","type":"download","config":{"download":{"expiryHours":1},"circuitBreaker":{"speed":1}}}'
bad "download ip range" "config.download.allowedIpRanges[0]" '{"label":"x","type":"download","config":{"download":{"expiryHours":1,"allowedIpRanges":["10.0.0.0/33"]}}}'
bad "a mask as a new secret" config.sftp.password '{"label":"x","type":"sftp","config":{"sftp":{"host":"127.0.0.1","port":22,"path":"/","hostKey":"SHA256:AAAAAAAAAAAAAAAAAAAAbbbbbbbbbbbbbbbbbbbbbbb","password":"********"}}}'
http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d '{"label":'
expect_eq "create: not JSON is a 400" 400 "$HTTP_STATUS"
http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d '[1]'
expect_eq "create: not an object is a 400" 400 "$HTTP_STATUS"
http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d '{"label":"links","type":"download","config":{"download":{"expiryHours":1}}}'
expect_eq "create: a label taken is a 409" "409 label" "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]')"
expect_eq "nothing half-written by the refusals" 5 "$(sql "SELECT count(*) FROM delivery_destinations")"

# ---- the address policy (SSRF) at creation and update ----------------------------------------
refused() { # LABEL FIELD BODY
    http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "$3"
    code=$(printf '%s' "$HTTP_BODY" | json 'd["error"]["details"]["errors"][0]["code"]' 2>/dev/null)
    if [ "$HTTP_STATUS" = 400 ] && [ "$code" = ADDRESS_REFUSED ]; then ok "SSRF: $1 refused"; else
        not_ok "SSRF: $1 refused"; diag "$HTTP_STATUS $HTTP_BODY"; fi
    field_400 "SSRF: $1" "$2"
}
hook_at() { printf '{"label":"ssrf %s","type":"webhook","config":{"webhook":{"url":"%s",%s}}}' "$1" "$1" "$W"; }
for u in "http://169.254.169.254/latest/meta-data/" "http://[::1]:8080/" "http://0.0.0.0/" \
         "http://10.1.2.3/" "http://172.16.0.1/" "http://192.168.1.1/" "http://100.64.0.1/" \
         "http://[fd00::1]/" "http://[fe80::1]/" "http://224.0.0.1/" "http://[::]/" \
         "http://[::ffff:169.254.169.254]/" "http://[::ffff:10.0.0.1]/" "http://[64:ff9b::a00:1]/" \
         "http://127.0.0.2/" "http://0x7f000002/" "http://169.254.169.254.nip.io.invalid.localhost/"; do
    case "$u" in
        *localhost*) # a name that resolves to loopback (glibc: *.localhost is 127.0.0.1 or unresolvable)
            http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d "$(hook_at "$u")"
            expect_match "SSRF: a *.localhost name is refused or unresolvable" '^400 .*(ADDRESS_REFUSED|UNRESOLVABLE_HOST)' "$HTTP_STATUS $HTTP_BODY" ;;
        *) refused "$u" config.webhook.url "$(hook_at "$u")" ;;
    esac
done
refused "an SMTP host on 10/8" config.email.smtpConfig.host '{"label":"m2","type":"email","config":{"email":{"service":"smtp","smtpConfig":{"host":"10.0.0.5","port":25,"secure":true,"auth":{"user":"u","pass":"p"}},"from":"a@b.c","subject":"s"}}}'
refused "an SFTP host on link-local v6" config.sftp.host '{"label":"s2","type":"sftp","config":{"sftp":{"host":"fe80::1","port":22,"path":"/","hostKey":"SHA256:AAAAAAAAAAAAAAAAAAAAbbbbbbbbbbbbbbbbbbbbbbb"}}}'
refused "an S3 endpoint on the metadata address" config.storage.config.endpoint '{"label":"b2","type":"storage","config":{"storage":{"provider":"s3","config":{"endpoint":"http://169.254.169.254"},"path":"/","retention":{"days":1,"autoCleanup":false}}}}'
http PATCH $D/$WH -H "x-api-key: $A_ADMIN" -H "$J" -d '{"config":{"webhook":{"url":"http://169.254.169.254/"}}}'
field_400 "SSRF: refused at update too" config.webhook.url
http GET $D/$WH -H "x-api-key: $A_ADMIN"
expect_eq "SSRF: the refused update changed nothing" http://127.0.0.1:9/v2 "$(jbody 'd["config"]["webhook"]["url"]')"

# ---- validate and test ------------------------------------------------------------------------
http POST $D/$WH/validate -H "x-api-key: $A_ADMIN"
expect_eq "validate: 200" 200 "$HTTP_STATUS"
shape "validate" validation-result
conforms "validate" POST /api/v1/delivery/destinations/{id}/validate 200
expect_eq "validate: a good webhook is valid (an http URL warns)" "true 1" "$(jbody 'd["isValid"]') $(jbody 'len(d["warnings"])')"
# the superuser points a row at the metadata address behind the API's back
sql "UPDATE delivery_destinations SET config = jsonb_set(config, '{webhook,url}', '\"http://169.254.169.254/\"') WHERE id = $WH" >/dev/null
http POST $D/$WH/validate -H "x-api-key: $A_ADMIN"
expect_match "validate: an address refused now makes it invalid" '^false .*ADDRESS|refused' "$(jbody 'd["isValid"]') $(jbody 'd["errors"]')"
sql "UPDATE delivery_destinations SET config = jsonb_set(config, '{webhook,url}', '\"http://127.0.0.1:9/v2\"') WHERE id = $WH" >/dev/null
http POST $D/$WH/test -H "x-api-key: $A_ADMIN"
expect_eq "test: 200" 200 "$HTTP_STATUS"
shape "test" connection-test
conforms "test" POST /api/v1/delivery/destinations/{id}/test 200
expect_eq "test: a closed port is no success (never a fake one)" false "$(jbody 'd["success"]')"
expect_match "test: the error says why" '.' "$(jbody 'd.get("error", "")')"
http POST $D/$DL/test -H "x-api-key: $A_READ"
expect_eq "test needs delivery:manage" 403 "$HTTP_STATUS"

# ---- tampering: sealed secrets bound to their row --------------------------------------------
sql "UPDATE delivery_destinations SET secrets = (SELECT secrets FROM delivery_destinations WHERE id = $MAIL) WHERE id = $SFTP" >/dev/null
http POST $D/$SFTP/validate -H "x-api-key: $A_ADMIN"
expect_match "another row's sealed secrets do not open here" '^false .*do not open' "$(jbody 'd["isValid"]') $(jbody 'd["errors"]')"
http POST $D/$SFTP/test -H "x-api-key: $A_ADMIN"
expect_match "test: refused, not sent with the wrong secrets" '^false .*do not open' "$(jbody 'd["success"]') $(jbody 'd["error"]')"
http PATCH $D/$SFTP -H "x-api-key: $A_ADMIN" -H "$J" -d '{"config":{"sftp":{"port":2223}}}'
expect_eq "an update over secrets that do not open: 409 naming config" "409 config" "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]')"
http PATCH $D/$SFTP -H "x-api-key: $A_ADMIN" -H "$J" -d '{"description":"still labelled"}'
expect_eq "a change outside config still goes through" "200 still labelled" "$HTTP_STATUS $(jbody 'd.get("description")')"
sql "UPDATE delivery_destinations SET secrets = set_byte(secrets, 20, get_byte(secrets, 20) # 1) WHERE id = $MAIL" >/dev/null
http POST $D/$MAIL/validate -H "x-api-key: $A_ADMIN"
expect_eq "a flipped bit in the sealed secrets is found" false "$(jbody 'd["isValid"]')"

# ---- webhook secrets: rotation with a grace period -------------------------------------------
expect_eq "two active primary keys after creation (v1, v1a)" "HMAC-SHA256 Ed25519" \
    "$(sql "SELECT string_agg(algorithm, ' ' ORDER BY algorithm DESC) FROM webhook_secrets WHERE destination_id = $WH AND is_primary = 'true' AND is_active = 'true'")"
http POST $D/$WH/secrets/rotate -H "x-api-key: $A_ADMIN"
expect_eq "rotate: 200" 200 "$HTTP_STATUS"
conforms "rotate" POST /api/v1/delivery/destinations/{id}/secrets/rotate 200
NEWSEC=$(jbody 'd["secret"]')
expect_match "rotate: a new whsec_ secret, shown once" '^whsec_' "$NEWSEC"
if [ "$NEWSEC" != "$WHSEC" ]; then ok "rotate: not the old secret"; else not_ok "rotate: not the old secret"; fi
expect_eq "rotate: the old pair stays active 24 h, the new pair primary" "2 2" \
    "$(sql "SELECT count(*) FILTER (WHERE is_primary = 'false' AND expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours') || ' ' || count(*) FILTER (WHERE is_primary = 'true' AND expires_at IS NULL) FROM webhook_secrets WHERE destination_id = $WH AND is_active = 'true'")"
http POST $D/$WH/secrets/rotate -H "x-api-key: $A_ADMIN" -H "$J" -d '{"gracePeriodHours":0}'
expect_eq "rotate with no grace: 200" 200 "$HTTP_STATUS"
expect_eq "rotate with no grace: only the newest pair is active, the others destroyed" "2 4" \
    "$(sql "SELECT count(*) FILTER (WHERE is_active = 'true') || ' ' || count(*) FILTER (WHERE is_active = 'false' AND secret_key = '') FROM webhook_secrets WHERE destination_id = $WH")"
http POST $D/$WH/secrets/rotate -H "x-api-key: $A_ADMIN" -H "$J" -d '{"gracePeriodHours":721}'
field_400 "rotate: grace above 30 days" gracePeriodHours
http POST $D/$MAIL/secrets/rotate -H "x-api-key: $A_ADMIN"
field_400 "rotate: an email destination has no signing secret" type

# ---- tenants and permissions -------------------------------------------------------------------
for m in "GET $D/$WH" "PUT $D/$WH" "PATCH $D/$WH" "DELETE $D/$WH" "POST $D/$WH/validate" \
         "POST $D/$WH/test" "POST $D/$WH/secrets/rotate"; do
    set -- $m
    if [ "$1" = PUT ] || [ "$1" = PATCH ]; then http "$1" "$2" -H "x-api-key: $B_ADMIN" -H "$J" -d '{"label":"mine now"}'
    else http "$1" "$2" -H "x-api-key: $B_ADMIN"; fi
    expect_eq "org-b: $1 ${2#$D} of org-a's destination is a 404" "404 NOT_FOUND" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
done
http GET $D -H "x-api-key: $B_ADMIN"
expect_eq "org-b lists none of org-a's" "0 0" "$(jbody 'len(d["data"])') $(jbody 'd["pagination"]["total"]')"
http POST $D -H "x-api-key: $B_ADMIN" -H "$J" -d '{"organizationId":"org-a","label":"into a","type":"download","config":{"download":{"expiryHours":1}}}'
expect_eq "org-b creating for org-a: 403" 403 "$HTTP_STATUS"
http GET $D/$WH -H "x-api-key: $A_ADMIN"
expect_eq "org-a's destination untouched by org-b" "hook renamed" "$(jbody 'd["label"]')"
for id in 0 -1 abc 99999999999 "$WH.0"; do
    http GET "$D/$id" -H "x-api-key: $A_ADMIN"
    expect_eq "get id \"$id\": 404" 404 "$HTTP_STATUS"
    conforms "get id \"$id\": 404" GET /api/v1/delivery/destinations/{id} 404
done
http GET $D -H "x-api-key: $A_VIEW"
expect_eq "a viewer may not list destinations" 403 "$HTTP_STATUS"
http GET $D/$WH -H "x-api-key: $A_READ"
expect_eq "delivery:read may read" 200 "$HTTP_STATUS"
http POST $D -H "x-api-key: $A_READ" -H "$J" -d '{"label":"r","type":"download","config":{"download":{"expiryHours":1}}}'
expect_eq "delivery:read may not create" 403 "$HTTP_STATUS"
http GET $D
expect_eq "no key: 401" 401 "$HTTP_STATUS"
# the request login itself: row-level security, not only the statements' WHERE
expect_eq "RLS: org-b's tenant sees none of org-a's destinations or keys" "0 0" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "$(tenant_setting org-b)" -c "SET LOCAL ROLE auditdb_app" \
        -c "SELECT (SELECT count(*) FROM delivery_destinations) || ' ' || (SELECT count(*) FROM webhook_secrets)" -c "COMMIT" | sed -n 2p)"

# ---- delete --------------------------------------------------------------------------------------
http DELETE $D/$DL -H "x-api-key: $A_ADMIN"
expect_eq "delete: 204" 204 "$HTTP_STATUS"
http GET $D/$DL -H "x-api-key: $A_ADMIN"
expect_eq "deleted: 404 after" 404 "$HTTP_STATUS"
http DELETE $D/$DL -H "x-api-key: $A_ADMIN"
expect_eq "deleted twice: 404" 404 "$HTTP_STATUS"
http POST $D -H "x-api-key: $A_ADMIN" -H "$J" -d '{"label":"links","type":"download","config":{"download":{"expiryHours":1}}}'
expect_eq "a deleted destination's label may be used again" 201 "$HTTP_STATUS"
http DELETE $D/$WH -H "x-api-key: $A_ADMIN"
expect_eq "delete the webhook: its keys destroyed, its secrets gone" "204 0 0" \
    "$HTTP_STATUS $(sql "SELECT count(*) FROM webhook_secrets WHERE destination_id = $WH AND (is_active = 'true' OR secret_key <> '')") $(sql "SELECT count(*) FROM delivery_destinations WHERE id = $WH AND (secrets IS NOT NULL OR config <> '{}')")"

# ---- the CLI -----------------------------------------------------------------------------------
C="$AUDITDB_BIN deliveries destinations"
out=$($C create --org org-c --json '{"label":"cli hook","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1:9/c","method":"POST","headers":{"X-Api-Key":"cli-CLISECRET-1"},"timeout":1000,"retryConfig":{"maxRetries":1,"backoffMultiplier":1,"maxBackoffDelay":0}}}}' 2>&1)
CID=$(printf '%s' "$out" | json 'd["id"]')
expect_match "cli create: prints the destination with its secret once" '^whsec_' "$(printf '%s' "$out" | json 'd["secrets"]["secret"]')"
expect_eq "cli show: masked" '********' "$($C show "$CID" --org org-c | json 'd["config"]["webhook"]["headers"]["X-Api-Key"]')"
expect_match "cli list" "^$CID +webhook +no +cli hook" "$($C list --org org-c | sed -n 2p)"
expect_eq "cli update --merge" 2000 "$($C update "$CID" --org org-c --merge --json '{"config":{"webhook":{"timeout":2000}}}' | json 'd["config"]["webhook"]["timeout"]')"
expect_match "cli rotate-secret" '^whsec_' "$($C rotate-secret "$CID" --org org-c --grace-hours 1 | json 'd["secret"]')"
$C show "$CID" --org org-a >/dev/null 2>"$TEST_TMP/cli.err"; rc=$?
expect_eq "cli show in another organization: exit 1" 1 "$rc"
$C create --org org-c --json '{"label":"bad","type":"webhook","config":{"webhook":{"url":"http://169.254.169.254/"}}}' >/dev/null 2>"$TEST_TMP/cli.err"; rc=$?
expect_match "cli create refused: exit 1, the field on stderr" "^1 .*config\.webhook\." "$rc $(cat "$TEST_TMP/cli.err")"
AUDITDB_DELIVERY_ALLOW= $C create --org org-c --json '{"label":"lo","type":"sftp","config":{"sftp":{"host":"localhost","port":22,"path":"/","hostKey":"SHA256:AAAAAAAAAAAAAAAAAAAAbbbbbbbbbbbbbbbbbbbbbbb"}}}' >/dev/null 2>"$TEST_TMP/cli.err"; rc=$?
expect_match "cli: localhost refused without the allow-list" "^1 .*config\.sftp\.host.*(loopback|refused)" "$rc $(cat "$TEST_TMP/cli.err")"
$C delete "$CID" --org org-c >/dev/null; rc=$?
expect_eq "cli delete" 0 "$rc"
$C frobnicate >/dev/null 2>&1; rc=$?
expect_eq "cli: an unknown command is a usage error" 2 "$rc"

# ---- without the allow-list: 127.0.0.1 itself and its other spellings --------------------------
stop_serve >/dev/null 2>&1; rc=$?
expect_eq "serve stops cleanly" 0 "$rc"
unset AUDITDB_DELIVERY_ALLOW
if start_serve "$TEST_TMP/serve2.log"; then ok "serve without the allow-list"; else not_ok "serve without the allow-list"; finish; fi
for u in "http://127.0.0.1:8080/" "http://localhost/" "http://[::ffff:127.0.0.1]/" "http://2130706433/" \
         "http://0177.0.0.1/" "http://127.1/"; do
    refused "$u (no allow-list)" config.webhook.url "$(hook_at "$u")"
done

# ---- secrets: nowhere after creation --------------------------------------------------------------
pg_dump "$AUDIT_DB_URL" >"$TEST_TMP/dump.sql" 2>/dev/null
expect_match "pg_dump ran" 'delivery_destinations' "$(head -c 2000000 "$TEST_TMP/dump.sql")"
logs="$TEST_TMP/serve.log $TEST_TMP/serve.log.out $TEST_TMP/serve2.log $TEST_TMP/serve2.log.out"
pglog=$(dirname "$TEST_TMP")/cluster/log/postgresql.log
if [ -f "$pglog" ]; then logs="$logs $pglog"; ok "PostgreSQL's log is searched too"; else not_ok "PostgreSQL's log is searched too"; diag "no $pglog"; fi
[ -n "$WHSEC" ] && [ -n "$NEWSEC" ] || not_ok "both webhook secrets were seen"
for s in "$HDR_SECRET" "$SMTP_PASS" "$API_KEY" "$S3_SECRET" "$SFTP_PASS" SFTPKEYSECRET CLISECRET \
         "${WHSEC#whsec_}" "${NEWSEC#whsec_}"; do
    if grep -qF -- "$s" "$TEST_TMP/dump.sql"; then not_ok "not in pg_dump: ${s%%-*}..."; else ok "not in pg_dump: ${s%%-*}..."; fi
    if cat $logs 2>/dev/null | grep -qF -- "$s"; then not_ok "not in any log: ${s%%-*}..."; else ok "not in any log: ${s%%-*}..."; fi
done
stop_serve >/dev/null 2>&1; rc=$?
trap - EXIT
expect_eq "serve (no allow-list) stops cleanly" 0 "$rc"
for l in "$TEST_TMP/serve.log" "$TEST_TMP/serve2.log"; do
    if grep -q 'runtime error\|Sanitizer' "$l"; then not_ok "no sanitizer report in $(basename "$l")"; diag "$(grep -A5 'runtime error\|Sanitizer' "$l" | head -20)"
    else ok "no sanitizer report in $(basename "$l")"; fi
done
# the raw key bytes either (hex, as bytea would show them)
hex=$(printf '%s' "${WHSEC#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
if grep -qi "$hex" "$TEST_TMP/dump.sql"; then not_ok "the webhook key's bytes not in pg_dump"; else ok "the webhook key's bytes not in pg_dump"; fi
finish
