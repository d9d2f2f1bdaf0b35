# key_isolation.sh - a database superuser reads no key material and no secret
# (issue 14 item 1). With AUDITDB_MASTER_KEY and REDIS_URL set, and with a
# master.key file, the literal SQL attacks get nothing: the postmaster's
# /proc/PID/environ, pg_read_file of master.key, admin.key and log.key (the
# verifiable log's signing key, docs/checkpoints.md), and
# COPY ... FROM PROGRAM reading the key files and auditdb's own environ. Once
# with auditdb as root (PostgreSQL as "postgres"), once with auditdb as an
# ordinary user (nobody, PostgreSQL then runs as nobody too). Last, the
# refusal when an ordinary user has no Landlock.
. tests/lib.sh
unset AUDIT_DB_URL

mkey=$(openssl rand -hex 32)
rsecret="redispw$(openssl rand -hex 8)"

# attack HOME PID_OF_AUDITDB LABEL SECRET...: every attack, as the database
# superuser over the cluster's socket; none may return any SECRET
attack() {
    a_home=$1; apid=$2; a_label=$3; shift 3
    ci="host=$a_home/run port=5432 user=postgres dbname=auditdb"
    q() { psql "$ci" -qAtX -c "$1" 2>&1; }
    prog() { # COPY ... FROM PROGRAM CMD: what the shell it runs could read
        psql "$ci" -qAtX -c "CREATE TEMP TABLE t(l text)" \
            -c "COPY t FROM PROGRAM \$q\${ $1; } 2>&1 | tr '\\000\\\\' '\\n/'; true\$q\$" \
            -c "SELECT string_agg(l, ' ') FROM t" 2>&1
    }
    results="
environ:$(q "select pg_read_binary_file('/proc/'||split_part(pg_read_file('postmaster.pid'),chr(10),1)||'/environ')")
environ-text:$(q "select encode(pg_read_binary_file('/proc/'||split_part(pg_read_file('postmaster.pid'),chr(10),1)||'/environ'), 'escape')")
master.key:$(q "select pg_read_file('$a_home/master.key')")
master.key-binary:$(q "select pg_read_binary_file('$a_home/master.key')")
admin.key:$(q "select pg_read_file('$a_home/admin.key')")
log.key:$(q "select pg_read_file('$a_home/log.key')")
copy-from-file:$(psql "$ci" -qAtX -c "CREATE TEMP TABLE f(l text)" -c "COPY f FROM '$a_home/master.key'" -c "SELECT * FROM f" 2>&1)
program-master.key:$(prog "cat $a_home/master.key")
program-admin.key:$(prog "cat $a_home/admin.key")
program-log.key:$(prog "cat $a_home/log.key")
program-auditdb-environ:$(prog "cat /proc/$apid/environ")
program-postmaster-environ:$(prog "cat /proc/\$PPID/environ /proc/self/environ; env")"
    # the attacks ran: each answered (an error or rows), the shell ran
    expect_match "$a_label: the COPY ... PROGRAM shell ran (its env is listed)" "PATH=" "$results"
    leaked=""
    for s in "$@"; do
        [ -n "$s" ] || { not_ok "$a_label: a secret to look for is empty"; continue; }
        printf '%s' "$results" | grep -F -q -- "$s" && leaked="$leaked $(printf '%s\n' "$results" | grep -F -- "$s" | cut -d: -f1 | tr '\n' ' ')"
    done
    expect_eq "$a_label: no SQL attack reads a key or secret" "" "$leaked"
}

# serve_as LOG RUNAS: start_serve with auditdb run through RUNAS (setpriv and
# env exec, so SERVE_PID is auditdb's own pid)
serve_as() {
    port=$(free_port)
    $2 "$AUDITDB_BIN" serve --listen "127.0.0.1:$port" >"$1.out" 2>"$1" &
    SERVE_PID=$!
    BASE_URL="http://127.0.0.1:$port"
    i=0
    while [ $i -lt 300 ]; do
        curl -fs -o /dev/null "$BASE_URL/live" && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || return 1
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# phase HOME RUNAS LABEL: serve with AUDITDB_MASTER_KEY and REDIS_URL, then
# serve with the key in master.key; attacks against both
phase() {
    home=$1; runas=$2; label=$3
    export AUDITDB_HOME="$home"
    if ! AUDITDB_MASTER_KEY=$mkey REDIS_URL="redis://:$rsecret@127.0.0.1:1/0" \
        serve_as "$TEST_TMP/$label-1.log" "$runas"; then
        not_ok "$label: serve with AUDITDB_MASTER_KEY starts"; diag "$(tail -5 "$TEST_TMP/$label-1.log")"; return
    fi
    expect_eq "$label: serve made log.key, mode 0600" 600 "$(stat -c %a "$home/log.key" 2>&1)"
    attack "$home" "$SERVE_PID" "$label (AUDITDB_MASTER_KEY, REDIS_URL)" "$mkey" "$rsecret" "$(cat "$home/admin.key")" "$(cat "$home/log.key")"
    stop_serve TERM
    # a second home: the first one's events are signed with AUDITDB_MASTER_KEY
    home=$home.file
    mkdir -p "$home"; [ -z "$runas" ] || chown nobody "$home"
    export AUDITDB_HOME="$home"
    serve_as "$TEST_TMP/$label-2.log" "$runas"
    if ! [ -s "$home/master.key" ]; then
        not_ok "$label: serve without AUDITDB_MASTER_KEY makes master.key"; diag "$(tail -5 "$TEST_TMP/$label-2.log")"; stop_serve TERM; return
    fi
    attack "$home" "$SERVE_PID" "$label (master.key)" "$(cat "$home/master.key")" "$(cat "$home/admin.key")" "$(cat "$home/log.key")"
    stop_serve TERM
}

# auditdb as root: PostgreSQL runs as "postgres"
phase "$TEST_TMP/root-home" "" "as root"

# a server that can read the key file (AUDIT_DB_URL): serve asks it through
# SQL and refuses. The runner's cluster may write its own log folder; a home
# there with a master.key of the server's user is what such a server sees.
if [ "$(id -u)" -eq 0 ] && [ -d "$RUN_TMP/cluster/log" ]; then
    khome="$RUN_TMP/cluster/log/khome"
    mkdir -p "$khome"; chmod 755 "$khome"
    openssl rand -hex 32 >"$khome/master.key"; chmod 600 "$khome/master.key"
    chown "$(stat -c %u "$RUN_TMP/cluster/log")" "$khome/master.key"
    fresh_db t_keyprobe
    err=$(AUDITDB_HOME="$khome" timeout 60 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
    expect_eq "a database server that reads master.key: serve refuses (exit 4)" 4 "$rc"
    expect_match "... and says why" "refusing to serve: the database server can read \"$khome/master.key\"" "$err"
    # the log key alone (the master key from the environment): refused too
    rm -f "$khome/master.key"
    openssl rand -hex 32 >"$khome/log.key"; chmod 600 "$khome/log.key"
    chown "$(stat -c %u "$RUN_TMP/cluster/log")" "$khome/log.key"
    err=$(AUDITDB_HOME="$khome" AUDITDB_MASTER_KEY=$mkey timeout 60 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
    expect_eq "a database server that reads log.key: serve refuses (exit 4)" 4 "$rc"
    expect_match "... and says why" "refusing to serve: the database server can read \"$khome/log.key\"" "$err"
    rm -rf "$khome"; unset AUDIT_DB_URL
else
    echo "skip - key probe through an external server: needs root and the runner's cluster"
fi

# auditdb as an ordinary user: PostgreSQL runs as that same user
# the kernel's Landlock ABI version (syscall 444, landlock_create_ruleset with
# LANDLOCK_CREATE_RULESET_VERSION), or failure when it has none
landlock() { python3 -c 'import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).syscall(444, None, 0, 1) > 0 else 1)'; }
if ! id nobody >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "skip - ordinary user: needs root and a nobody user"
elif ! landlock; then
    # a kernel without Landlock: the attacks cannot be tried, as auditdb must refuse
    uhome="$TEST_TMP/nobody"
    mkdir -p "$uhome"; chown nobody "$uhome"
    err=$(AUDITDB_HOME="$uhome/h2" setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        "$AUDITDB_BIN" db start 2>&1); rc=$?
    expect_eq "this kernel has no Landlock, same user: refused (exit 3)" 3 "$rc"
    diag "$err"
    echo "skip - ordinary user's attacks: this kernel has no Landlock, so auditdb refuses to run PostgreSQL as its own user"
else
    uhome="$TEST_TMP/nobody"
    mkdir -p "$uhome"; chown nobody "$uhome"
    nob="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups env HOME=$uhome"
    phase "$uhome/home" "$nob" "as nobody"

    # without Landlock an ordinary user's PostgreSQL could read the keys: refused
    err=$(AUDITDB_HOME="$uhome/h2" AUDITDB_TEST_NO_LANDLOCK=1 $nob "$AUDITDB_BIN" db start 2>&1); rc=$?
    expect_eq "no Landlock, same user: refused (exit 3)" 3 "$rc"
    expect_match "no Landlock: says why and what to do" \
        "refusing to start the embedded PostgreSQL: it would run as auditdb's own OS user.*read master.key and admin.key.*Run auditdb as root" "$err"
    check "no Landlock: no cluster was made" test ! -e "$uhome/h2/pg/PG_VERSION"
fi
finish
