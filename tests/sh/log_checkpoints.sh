# log_checkpoints.sh - the verifiable log's key and checkpoints from outside
# (docs/checkpoints.md): `auditdb log vkey` (no key yet: exit 1; --create
# makes log.key 0600; a group- or other-readable file refused; AUDITDB_LOG_KEY
# used as given; bad hex or a bad AUDITDB_LOG_NAME refused), the vkey's key
# id recomputed by Python from the spec; serve makes log.key on its first
# start and prints the vkey; GET /api/v1/audit/log/vkey answers the same
# text; GET /api/v1/audit/log/checkpoint answers 404 before any checkpoint,
# the stored signed note as text/plain after, only to keys with
# audit.log:read and only their own organization's (row-level security); an
# unresolved refusal of the checkpointer fails `auditdb verify`.
. tests/lib.sh

home="$TEST_TMP/home"
export AUDITDB_HOME="$home"
mkdir -p "$home"

# vkeyok VKEY NAME: the vkey is name+8 hex+base64(0x01||32 bytes) with the key
# id the spec defines, recomputed here
vkeyok() {
    python3 - "$1" "$2" <<'PY'
import base64, hashlib, re, sys
v, name = sys.argv[1], sys.argv[2]
m = re.fullmatch(r"([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]{43}[A-Za-z0-9+/=])", v)
raw = base64.b64decode(m.group(3)) if m else b""
ok = m and m.group(1) == name and len(raw) == 33 and raw[0] == 1 and \
    hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == m.group(2)
sys.exit(0 if ok else 1)
PY
}

# ---- the command line ------------------------------------------------------
err=$("$AUDITDB_BIN" log vkey 2>&1); rc=$?
expect_eq "log vkey without a key: exit 1" 1 "$rc"
expect_match "... says serve makes it" "no log key .* yet: serve creates it" "$err"
check "... and made none" test ! -e "$home/log.key"

vk=$("$AUDITDB_BIN" log vkey --create); rc=$?
expect_eq "log vkey --create: exit 0" 0 "$rc"
expect_eq "... log.key is mode 600" 600 "$(stat -c %a "$home/log.key")"
expect_match "... log.key holds 64 hex digits" '^[0-9a-f]{64}$' "$(cat "$home/log.key")"
check "... the vkey is name+keyid+base64 with the spec's key id" vkeyok "$vk" auditdb.local
expect_eq "... the same vkey every time" "$vk" "$("$AUDITDB_BIN" log vkey)"
check "... never the key itself" sh -c "! printf '%s' '$vk' | grep -q '$(cat "$home/log.key")'"

chmod 640 "$home/log.key"
err=$("$AUDITDB_BIN" log vkey 2>&1); rc=$?
expect_eq "a group-readable log.key: exit 1" 1 "$rc"
expect_match "... says why" 'readable by others \(mode 640\): chmod 600 it' "$err"
chmod 600 "$home/log.key"

seed=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
vk2=$(AUDITDB_LOG_KEY=$seed AUDITDB_LOG_NAME=example.org/log "$AUDITDB_BIN" log vkey); rc=$?
expect_eq "AUDITDB_LOG_KEY: exit 0" 0 "$rc"
check "... the vkey carries AUDITDB_LOG_NAME" vkeyok "$vk2" example.org/log
# RFC 8032's first test key: its public key is known
expect_eq "... the public key of that seed (RFC 8032 test 1)" \
    "01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" \
    "$(printf '%s' "$vk2" | cut -d+ -f3- | base64 -d | od -An -tx1 | tr -d ' \n')"
err=$(AUDITDB_LOG_KEY=abc "$AUDITDB_BIN" log vkey 2>&1); rc=$?
expect_eq "AUDITDB_LOG_KEY not 64 hex digits: exit 1" 1 "$rc"
expect_match "... says so" 'AUDITDB_LOG_KEY must be 64 hex digits' "$err"
check "... without echoing it" sh -c "! printf '%s' \"\$1\" | grep -q abc" _ "$err"
err=$(AUDITDB_LOG_NAME='bad name' "$AUDITDB_BIN" log vkey 2>&1); rc=$?
expect_eq "AUDITDB_LOG_NAME with a space: exit 2" 2 "$rc"
expect_match "... names the variable" 'invalid value for AUDITDB_LOG_NAME' "$err"
err=$(AUDITDB_LOG_NAME='a+b' "$AUDITDB_BIN" log vkey 2>&1); rc=$?
expect_eq "AUDITDB_LOG_NAME with a +: exit 2" 2 "$rc"
err=$("$AUDITDB_BIN" log checkpoint --org nobody-here 2>&1); rc=$?
expect_eq "log checkpoint of an organization without one: exit 1" 1 "$rc"
err=$("$AUDITDB_BIN" log frobnicate 2>&1); rc=$?
expect_eq "log with an unknown command: exit 2" 2 "$rc"

# ---- serve -------------------------------------------------------------------
rm -f "$home/log.key"
fresh_db t_log_checkpoints
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
expect_eq "serve's first start made log.key, mode 600" 600 "$(stat -c %a "$home/log.key" 2>&1)"
vk=$("$AUDITDB_BIN" log vkey)
expect_match "serve prints the log's vkey" "log key:  $(printf '%s' "$vk" | sed 's/[+/]/./g')" "$(cat "$TEST_TMP/serve.log.out")"
check "serve never logs the key" sh -c "! grep -q '$(cat "$home/log.key")' '$TEST_TMP/serve.log' '$TEST_TMP/serve.log.out'"
check "serve made the checkpoint folder outside the database" test -d "$AUDITDB_CHECKPOINT_DIR"

admin=$(cat "$home/admin.key")
ingest=$("$AUDITDB_BIN" keys create --org default --role ingest | sed -n 's/^key (shown once, store it now): //p')
other=$("$AUDITDB_BIN" keys create --org other --role admin | sed -n 's/^key (shown once, store it now): //p')

http GET /api/v1/audit/log/vkey -H "X-API-Key: $admin"
expect_eq "GET /api/v1/audit/log/vkey: 200" 200 "$HTTP_STATUS"
expect_eq "... the vkey of auditdb log vkey and a newline" "$vk." "$(printf '%s' "$HTTP_BODY" | tr '\n' .)"
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "X-API-Key: $admin" "$BASE_URL/api/v1/audit/log/vkey")
expect_eq "... as text/plain" "text/plain; charset=utf-8" "$ctype"
http GET /api/v1/audit/log/vkey
expect_eq "... without a key: 401" 401 "$HTTP_STATUS"
http GET /api/v1/audit/log/vkey -H "X-API-Key: $ingest"
expect_eq "... an ingest key (no audit.log:read): 403" 403 "$HTTP_STATUS"

http GET /api/v1/audit/log/checkpoint -H "X-API-Key: $admin"
expect_eq "GET /api/v1/audit/log/checkpoint before any: 404" 404 "$HTTP_STATUS"
expect_eq "... NOT_FOUND" NOT_FOUND "$(jbody 'd["error"]["code"]')"

# a checkpoint as the checkpointer stores it (the signed note itself)
note=$(printf 'auditdb.local/default\n3\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\342\200\224 auditdb.local AAAAAAAA\n')
sql "INSERT INTO log_checkpoint (organization_id, tree_size, root_hash, note)
     VALUES ('default', 3, decode(repeat('00', 32), 'hex'), \$n\$$note
\$n\$), ('default', 2, decode(repeat('00', 32), 'hex'), 'older')" >/dev/null
http GET /api/v1/audit/log/checkpoint -H "X-API-Key: $admin"
expect_eq "GET /api/v1/audit/log/checkpoint: 200" 200 "$HTTP_STATUS"
expect_eq "... the newest stored note, byte for byte" "$(printf '%s\n' "$note" | od -c)" "$(printf '%s' "$HTTP_BODY" | od -c)"
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "X-API-Key: $admin" "$BASE_URL/api/v1/audit/log/checkpoint")
expect_eq "... as text/plain" "text/plain; charset=utf-8" "$ctype"
sql "UPDATE log_checkpoint SET cosignatures = 1 WHERE tree_size = 2" >/dev/null
http GET /api/v1/audit/log/checkpoint -H "X-API-Key: $admin"
expect_eq "... a cosigned checkpoint wins over a newer one no witness signed yet" "older" "$HTTP_BODY"
http GET /api/v1/audit/log/checkpoint -H "X-API-Key: $other"
expect_eq "... another organization's key: 404 (its own has none)" 404 "$HTTP_STATUS"
http GET /api/v1/audit/log/checkpoint -H "X-API-Key: $ingest"
expect_eq "... an ingest key: 403" 403 "$HTTP_STATUS"
stop_serve TERM
# the two rows above were forged for the route (no log signature, a zero root): verify names them
out=$("$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "forged checkpoint rows: verify exit 4" 4 "$rc"
expect_match "... names them" "default: checkpoint_" "$out"
sql "DELETE FROM log_checkpoint WHERE organization_id = 'default' AND tree_size IN (2, 3)" >/dev/null

# a refused checkpoint (the checkpointer's alert) fails verify until resolved
out=$("$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "verify without a refusal: exit 0" 0 "$rc"
sql "INSERT INTO alerts (id, organization_id, severity, type, title, description, source, metadata)
     VALUES ('alert-t1', 'default', 'CRITICAL', 'SECURITY', 'the log refused to sign an inconsistent tree',
             'the tree offered at size 9 does not extend the checkpoint the log signed at size 5',
             'auditdb-checkpoint', '{\"kind\": \"inconsistent\"}')" >/dev/null
out=$("$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "verify with a refused checkpoint: exit 4" 4 "$rc"
expect_match "... names it" "default: checkpoint_refused: inconsistent: the tree offered at size 9" "$out"
expect_match "... TAMPERING DETECTED" "TAMPERING DETECTED" "$out"
out=$("$AUDITDB_BIN" verify --json 2>/dev/null)
expect_eq "... --json: not intact" false "$(printf '%s' "$out" | json 'd["intact"]')"
"$AUDITDB_BIN" verify --org other >/dev/null 2>&1; rc=$?
expect_eq "... another organization's verify: exit 0" 0 "$rc"
sql "UPDATE alerts SET resolved = 'true' WHERE id = 'alert-t1'" >/dev/null
"$AUDITDB_BIN" verify >/dev/null 2>&1; rc=$?
expect_eq "... once resolved: exit 0" 0 "$rc"

# a checkpoint folder inside the PostgreSQL data directory: serve refuses
datadir=$(sql "SHOW data_directory")
err=$(AUDITDB_CHECKPOINT_DIR="$datadir" timeout 60 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
check "AUDITDB_CHECKPOINT_DIR inside the data directory: serve refuses" test "$rc" -ne 0
expect_match "... and says why" "is inside the PostgreSQL data directory" "$err"
finish
