/*
 * confine.h - what the embedded PostgreSQL's processes may see: a scrubbed
 * environment and, with Landlock, only the folders they need. See
 * docs/embedded.md "Confinement" and docs/integrity.md "Keys".
 */
#ifndef ADB_CONFINE_H
#define ADB_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

/* The Landlock ABI version this kernel offers, 0 when it offers none (or
 * AUDITDB_TEST_NO_LANDLOCK is set: a test hook that can only cause a refusal). */
int adb__landlock_abi(void);

/* The folders a PostgreSQL process may write (data, socket, log) and the
 * folder of its programs; filled by the caller, read in the child. */
typedef struct adb__confine {
    const char *rw[4];     /* NULL-terminated */
    const char *bindir;    /* its parent is readable: share/, lib/ of a custom build */
} adb__confine;

/* In a forked child, before exec: restricts this process and everything it
 * will run to the system folders (read and execute), /dev, and c's folders.
 * Only async-signal-safe calls. Returns 0, or an errno value. */
int adb__confine_apply(const adb__confine *c);

/* The environment of every PostgreSQL program: PATH, LC_ALL/LANG=C and TZ when
 * set; nothing else of auditdb's environment (AUDITDB_MASTER_KEY, REDIS_URL,
 * AUDIT_DB_URL...). Returns a static NULL-terminated array (built once). */
char *const *adb__pg_environ(void);

#endif
