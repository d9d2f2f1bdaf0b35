#!/bin/sh
# with-cluster.sh - runs a command next to a throwaway embedded PostgreSQL
# started by the auditdb binary given, then stops and removes it.
#
# usage: scripts/with-cluster.sh AUDITDB_BIN COMMAND [ARGS...]
# The command sees ADMIN_URL and AUDIT_DB_URL (conninfo of the cluster's
# postgres database), RUN_TMP (a scratch folder, removed afterwards) and
# AUDITDB_HOME (a folder for master.key). Exits 97 when the cluster cannot
# start, else with the command's status.
set -u
bin=${1:?usage: with-cluster.sh AUDITDB_BIN COMMAND [ARGS...]}
shift
RUN_TMP=$(mktemp -d /tmp/adbrun.XXXXXX)
chmod 755 "$RUN_TMP"
export RUN_TMP

cleanup() {
    AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$bin" db stop >/dev/null 2>&1
    rm -rf "$RUN_TMP"
}
trap cleanup EXIT INT TERM

if ! AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$bin" db start >"$RUN_TMP/cluster.log" 2>&1; then
    cat "$RUN_TMP/cluster.log" >&2
    echo "with-cluster.sh: could not start a throwaway PostgreSQL" >&2
    exit 97
fi
ADMIN_URL="host=$RUN_TMP/cluster/run port=5432 user=postgres dbname=postgres"
export ADMIN_URL
export AUDIT_DB_URL="$ADMIN_URL"
export AUDITDB_HOME="$RUN_TMP/home"
"$@"
