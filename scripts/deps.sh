#!/bin/sh
# Installs the Debian packages auditdb needs to build, run and test, and only
# those that are missing. Says which it installs; does nothing when all are
# present; stops with a clear message when it cannot install.
#
# usage: scripts/deps.sh [build|run|test|bench] [EXTRA-PACKAGE...]
#        (default set: test, the superset)
set -eu

what=${1:-test}
[ $# -gt 0 ] && shift

# zlib1g-dev: gzip and deflate request bodies (docs/http.md, "Compressed request
# bodies"); zlib is already there as a dependency of libcurl and libpq
build_pkgs="gcc make pkg-config libc6-dev libpq-dev libssl-dev libmicrohttpd-dev
libjansson-dev libcurl4-openssl-dev libhiredis-dev libzstd-dev zlib1g-dev"
# libcairo2-dev (brings libfontconfig-dev): the PDF rendering of reports, cairo's PDF surface;
# fonts-dejavu-core: the fonts it draws with (docs/reports.md, "Renderings")
build_pkgs="$build_pkgs libcairo2-dev fonts-dejavu-core"
run_pkgs="postgresql curl"
# postgresql-15-hypopg: hypothetical indexes, to check a missing-index suggestion with the
# planner's cost before and after without building it (docs/monitoring.md, "Index suggestions");
# optional at run time: without it suggestions are listed unchecked
run_pkgs="$run_pkgs postgresql-15-hypopg"
# python3-cryptography: Ed25519 for the tests' own C2SP implementations, written from
# the specs, not from auditdb (tests/tools/tlog_witness.py, tests/tools/witness_client.py)
test_pkgs="python3 python3-cryptography clang libclang-rt-14-dev redis-server procps zstd"
# the delivery transports' real peers (tests/unit/test_transports.c, tests/tools/transport_peers.sh):
# openssh-server: sshd on loopback, the SFTP peer; python3-botocore: the S3 peer recomputes every
# request's SigV4 with botocore's own signer (tests/tools/s3_peer.py); openssl: the SMTP peer's
# self-signed certificate
test_pkgs="$test_pkgs openssh-server python3-botocore openssl"
# the report renderings' checks (tests/sh/report_render.sh): pdftotext and pdftoppm, qpdf --check
test_pkgs="$test_pkgs poppler-utils qpdf"

case "$what" in
build) want="$build_pkgs" ;;
run) want="$build_pkgs $run_pkgs" ;;
test) want="$build_pkgs $run_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $run_pkgs python3" ;;
*) echo "deps.sh: unknown set \"$what\" (expected build, run, test or bench)" >&2; exit 2 ;;
esac
want="$want $*"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found: this script installs Debian packages;" >&2
    echo "install the equivalents of these by hand: $want" >&2
    exit 1
fi

# commands the tests need, with the Debian package that brings each when the
# machine does not already have it from elsewhere
if [ "$what" = test ]; then
    for pair in node:nodejs npm:npm; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || want="$want ${pair#*:}"
    done
fi

missing=""
for p in $want; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "deps.sh: cannot install packages: not root and no password-less sudo." >&2
    echo "Run as root: apt-get install -y$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -q >/tmp/auditdb-apt.log 2>&1 ||
   ! $sudo apt-get install -y -q --no-install-recommends $missing >>/tmp/auditdb-apt.log 2>&1; then
    echo "deps.sh: apt-get could not install:$missing" >&2
    tail -n 20 /tmp/auditdb-apt.log >&2
    echo "(full log: /tmp/auditdb-apt.log)" >&2
    exit 1
fi
echo "deps.sh: installed:$missing"
