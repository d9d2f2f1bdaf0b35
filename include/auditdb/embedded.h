/*
 * embedded.h - the private PostgreSQL cluster under $AUDITDB_HOME.
 *
 * Layout of the home folder:
 *   pg/           the data directory (initdb on first use)
 *   run/          the unix socket directory; no TCP port is opened
 *   log/          postgresql.log
 *   auditdb.lock  flock()ed by the process that owns the cluster
 *
 * When auditdb runs as root and the PostgreSQL user cannot reach the home (a
 * home under /root, mode 0700), pg/, run/ and log/ live in
 * /var/lib/auditdb/<id>/ instead and the home holds links to them.
 *
 * One process owns a home at a time (flock on auditdb.lock, released by the
 * kernel even on kill -9). Another process may still use a running cluster as
 * a guest: it connects but never starts or stops it. When running as root,
 * initdb and postgres run as an unprivileged user (AUDITDB_PG_USER, else
 * "postgres", else "nobody").
 */
#ifndef AUDITDB_EMBEDDED_H
#define AUDITDB_EMBEDDED_H

#include <stdbool.h>
#include <sys/types.h>
#include "status.h"

typedef struct adb_embedded adb_embedded;

typedef enum adb_embedded_mode {
    ADB_EMBEDDED_OWNER,       /* must own the home: refuse if another process does */
    ADB_EMBEDDED_OWNER_OR_GUEST /* own it if free, else use the running cluster */
} adb_embedded_mode;

/* Prepares a handle for the cluster under home (created if missing). bindir
 * and user may be NULL for the defaults. Returns NULL only when out of memory.
 * Free with adb_embedded_free(). */
adb_embedded *adb_embedded_new(const char *home, const char *bindir, const char *user);

/* Takes ownership of the home (or becomes a guest, per mode). */
ADB_WUR adb_status adb_embedded_acquire(adb_embedded *e, adb_embedded_mode mode);

/* Starts the cluster if it is not running (initdb first when needed), adopts a
 * postmaster left by an auditdb that died, clears stale pid files, waits until
 * it accepts connections and creates the "auditdb" database. */
ADB_WUR adb_status adb_embedded_start(adb_embedded *e);

/* The owner starts the cluster again after its postmaster died (kill -9, the
 * OOM killer): clears what the dead one left, starts, waits until it accepts
 * connections. An operator's `db start` mark is kept. *pid gets the new
 * postmaster's pid. */
ADB_WUR adb_status adb_embedded_restart(adb_embedded *e, pid_t *pid);

/* Marks the running cluster as started by an operator (auditdb db start): the
 * owner will then leave it running when it exits. */
ADB_WUR adb_status adb_embedded_detach(adb_embedded *e);

/* Stops the cluster (fast shutdown) if it runs. Refused for a guest. */
ADB_WUR adb_status adb_embedded_stop(adb_embedded *e);

/* Stops the cluster if this process started or adopted it and no operator
 * detached it; releases ownership. Safe to call more than once. */
void adb_embedded_release(adb_embedded *e);

/* true when a postmaster for this home is alive and accepts connections. */
bool adb_embedded_running(adb_embedded *e);

/* true when the home holds a cluster (initdb completed), started or not. Reads
 * nothing but the file system: commands that only read refuse without one. */
bool adb_embedded_exists(const adb_embedded *e);

/* true when this handle is a guest of a cluster owned by another process. */
bool adb_embedded_is_guest(const adb_embedded *e);

/* pid of the postmaster, 0 if none. */
pid_t adb_embedded_postmaster_pid(adb_embedded *e);

/* pid of the process that owns the home, 0 if none (or ourselves). */
pid_t adb_embedded_owner_pid(adb_embedded *e);

/* libpq conninfo for the cluster's "auditdb" database; owned by e. */
const char *adb_embedded_conninfo(const adb_embedded *e);

/* Paths, owned by e. */
const char *adb_embedded_datadir(const adb_embedded *e);
const char *adb_embedded_logfile(const adb_embedded *e);

/* Message for the last failure; owned by e. */
const char *adb_embedded_errmsg(const adb_embedded *e);

/* Calls adb_embedded_release() and frees e. Accepts NULL. */
void adb_embedded_free(adb_embedded *e);

#endif
