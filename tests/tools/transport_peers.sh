#!/bin/sh
# transport_peers.sh - starts (and stops) the real peers of the delivery
# transports' tests on loopback, each on a port of its own:
#   - S3: tests/tools/s3_peer.py, every request's SigV4 recomputed with
#     Debian's python3-botocore (/usr/bin/python3);
#   - SMTP: tests/tools/smtp_peer.js (npm smtp-server + mailparser, installed
#     by scripts/smtp-peer.sh), STARTTLS with a certificate made here, and a
#     second one speaking TLS from the first byte (smtps);
#   - SFTP: OpenSSH's sshd (Debian openssh-server) with its own config, a
#     fresh ed25519 host key and a throwaway user key authorized for the user
#     running the test.
#
# usage: transport_peers.sh start DIR OWNER_PID   (writes DIR/env, see below)
#        transport_peers.sh stop DIR
# The peers are stopped by `stop`, and by a watchdog when OWNER_PID is gone
# (a test killed by its time limit leaves nothing running).
# DIR/env holds shell assignments: S3_PORT, SMTP_PORT, SMTPS_PORT, CA_FILE,
# SSH_PORT, SSH_USER, SSH_KEY, SSH_HOSTKEY (SHA256:...), SSH_WRONG_HOSTKEY,
# SSH_PW_USER, SSH_PW_PASS, SSH_PW_DIR (a password login: see below) or SSH_PW_SKIP,
# and SMTP_SKIP / SSH_SKIP / S3_SKIP with a reason when a peer cannot run.
set -u
cmd=${1:?usage: transport_peers.sh start|stop DIR [OWNER_PID]}
dir=${2:?usage: transport_peers.sh start|stop DIR [OWNER_PID]}
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$cmd" = stop ]; then
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
        rm -f "$f"
    done
    exit 0
fi

owner=${3:?usage: transport_peers.sh start DIR OWNER_PID}
mkdir -p "$dir"
env="$dir/env"
: >"$env"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_file FILE: up to 20 s for a peer to write its port
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}

# ---- S3 ----
if /usr/bin/python3 -c 'import botocore.auth' 2>/dev/null; then
    mkdir -p "$dir/s3"
    /usr/bin/python3 "$top/tests/tools/s3_peer.py" "$dir/s3.port" "$dir/s3" \
        AKIDAUDITDBTEST "wJalrXUtnFEMI/K7MDENG+bPxRfiCYauditdbKEY" eu-west-3 reports archive.v2 \
        >/dev/null 2>"$dir/s3.log" &
    echo $! >"$dir/s3.pid"
    if wait_file "$dir/s3.port"; then
        echo "S3_PORT=$(cat "$dir/s3.port")" >>"$env"
    else
        echo "S3_SKIP='the S3 peer did not start: $(tail -n 1 "$dir/s3.log")'" >>"$env"
    fi
else
    echo "S3_SKIP='python3-botocore is not installed (scripts/deps.sh test)'" >>"$env"
fi

# ---- SMTP ----
mods=${SMTP_NODE_DIR:-$top/build/node-smtp}
if why=$("$top/scripts/smtp-peer.sh" "$mods"); then
    mkdir -p "$dir/smtp" "$dir/smtps"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$dir/smtp.key" -out "$dir/smtp.crt" >/dev/null 2>&1
    echo "CA_FILE=$dir/smtp.crt" >>"$env"
    NODE_PATH="$mods/node_modules" node "$top/tests/tools/smtp_peer.js" "$dir/smtp.port" \
        "$dir/smtp" "$dir/smtp.key" "$dir/smtp.crt" mailer 's3cret pass' >/dev/null 2>"$dir/smtp.log" &
    echo $! >"$dir/smtp.pid"
    NODE_PATH="$mods/node_modules" node "$top/tests/tools/smtp_peer.js" "$dir/smtps.port" \
        "$dir/smtps" "$dir/smtp.key" "$dir/smtp.crt" mailer 's3cret pass' implicit \
        >/dev/null 2>"$dir/smtps.log" &
    echo $! >"$dir/smtps.pid"
    if wait_file "$dir/smtp.port" && wait_file "$dir/smtps.port"; then
        echo "SMTP_PORT=$(cat "$dir/smtp.port")" >>"$env"
        echo "SMTPS_PORT=$(cat "$dir/smtps.port")" >>"$env"
    else
        echo "SMTP_SKIP='the SMTP peer did not start: $(tail -n 1 "$dir/smtp.log")'" >>"$env"
    fi
else
    echo "SMTP_SKIP='$(printf '%s' "$why" | tr -d "'")'" >>"$env"
fi

# ---- SFTP ----
if [ -x /usr/sbin/sshd ]; then
    s="$dir/ssh"
    mkdir -p "$s/home"
    chmod 700 "$s"
    ssh-keygen -q -t ed25519 -N '' -f "$s/host_ed25519" >/dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$s/other_host" >/dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$s/user" >/dev/null
    cp "$s/user.pub" "$s/authorized_keys"
    chmod 600 "$s/authorized_keys"
    port=$(free_port)
    cat >"$s/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $s/host_ed25519
PidFile $s/sshd.pid.own
AuthorizedKeysFile $s/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
    # a password login: an account of its own (adbsftp, no home, a random password made with
    # it and kept in a root-only file, so that tests running at once share one password)
    # allowed to log in with a password only; root only, else SSH_PW_SKIP
    pw_user=
    pwf=/var/tmp/auditdb-test-adbsftp.pw
    if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null 2>&1 && command -v chpasswd >/dev/null 2>&1; then
        pw=$(flock /var/tmp/auditdb-test-adbsftp.lock sh -c '
            id adbsftp >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh adbsftp >/dev/null 2>&1 || exit 1
            if [ ! -s "$1" ]; then
                (umask 077; openssl rand -hex 16 >"$1") || exit 1
                echo "adbsftp:$(cat "$1")" | chpasswd >/dev/null 2>&1 || { rm -f "$1"; exit 1; }
            fi
            cat "$1"' sh "$pwf")
        if [ -n "$pw" ]; then
            mkdir -p "$dir/sftp-pw"
            chown adbsftp "$dir/sftp-pw"
            printf 'Match User adbsftp\n    PasswordAuthentication yes\n    PubkeyAuthentication no\n' >>"$s/sshd_config"
            pw_user=adbsftp
        fi
    fi
    [ "$(id -u)" -eq 0 ] && mkdir -p -m 0755 /run/sshd
    /usr/sbin/sshd -D -e -f "$s/sshd_config" >/dev/null 2>"$dir/sshd.log" &
    echo $! >"$dir/sshd.pid"
    i=0
    while [ $i -lt 100 ] && ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    if [ $i -lt 100 ]; then
        {
            echo "SSH_PORT=$port"
            echo "SSH_USER=$(id -un)"
            echo "SSH_KEY=$s/user"
            echo "SSH_HOSTKEY=$(ssh-keygen -l -E sha256 -f "$s/host_ed25519.pub" | awk '{print $2}')"
            echo "SSH_WRONG_HOSTKEY=$(ssh-keygen -l -E sha256 -f "$s/other_host.pub" | awk '{print $2}')"
            if [ -n "$pw_user" ]; then
                echo "SSH_PW_USER=$pw_user"
                echo "SSH_PW_PASS=$pw"
                echo "SSH_PW_DIR=$dir/sftp-pw"
            else
                echo "SSH_PW_SKIP='a password login needs root (useradd, chpasswd) for an account of its own'"
            fi
        } >>"$env"
    else
        echo "SSH_SKIP='sshd did not start: $(tail -n 1 "$dir/sshd.log" | tr -d "'")'" >>"$env"
    fi
else
    echo "SSH_SKIP='/usr/sbin/sshd is not installed (Debian openssh-server; scripts/deps.sh test)'" >>"$env"
fi

# the watchdog: the peers go when the test does
(
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    "$0" stop "$dir"
) >/dev/null 2>&1 &
exit 0
