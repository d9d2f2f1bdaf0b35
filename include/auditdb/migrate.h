/*
 * migrate.h - numbered SQL migrations, compiled into the library.
 *
 * Each migration runs in its own transaction and is recorded in
 * schema_migrations (version, name, SHA-256 of the file, applied_at,
 * duration). A session-level advisory lock makes concurrent runners safe: the
 * second waits, then finds nothing left to do. A migration whose recorded
 * checksum differs from the file is refused.
 */
#ifndef AUDITDB_MIGRATE_H
#define AUDITDB_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "status.h"

typedef struct adb_migration {
    int version;         /* from the file name NNNN_name.sql */
    const char *name;    /* "NNNN_name.sql" */
    const char *sql;
    size_t len;
} adb_migration;

typedef struct adb_migration_set {
    const adb_migration *items;
    size_t count;
    void *owned;         /* non-NULL when loaded from a directory */
} adb_migration_set;

typedef enum adb_migration_state {
    ADB_MIGRATION_PENDING,
    ADB_MIGRATION_APPLIED,
    ADB_MIGRATION_CHANGED,  /* applied, but the file's checksum differs */
    ADB_MIGRATION_UNKNOWN   /* applied, but this binary does not have it */
} adb_migration_state;

typedef struct adb_migration_status {
    int version;
    char name[128];
    adb_migration_state state;
    char checksum[65];        /* of the file (or as recorded, for UNKNOWN) */
    char applied_at[40];      /* empty when pending */
    double duration_ms;
} adb_migration_status;

/* The migrations compiled into the library (static storage). */
void adb_migrations_builtin(adb_migration_set *set);

/* Loads NNNN_name.sql files from dir, sorted by version; for development and
 * tests. Free with adb_migrations_free(). errbuf says what is wrong. */
ADB_WUR adb_status adb_migrations_load_dir(const char *dir, adb_migration_set *set,
                                           char *errbuf, size_t errlen);
void adb_migrations_free(adb_migration_set *set);

/* SHA-256 of a migration's text as 64 lowercase hex digits plus NUL. */
void adb_migration_checksum(const adb_migration *m, char out[65]);

/* Called after each applied migration. */
typedef void (*adb_migrate_cb)(void *ud, const adb_migration *m, double duration_ms);

/* Applies the pending migrations of set on conn. Refuses (ERR_CHECKSUM,
 * ERR_SCHEMA_NEWER) before applying anything when the recorded history does
 * not match. *applied counts what this call applied. */
ADB_WUR adb_status adb_migrate_up(PGconn *conn, const adb_migration_set *set,
                                  adb_migrate_cb cb, void *ud, int *applied,
                                  char *errbuf, size_t errlen);

/* Compares set with schema_migrations. *out is malloc()ed (caller frees) with
 * *n rows, one per migration known to either side, in version order. */
ADB_WUR adb_status adb_migrate_status(PGconn *conn, const adb_migration_set *set,
                                      adb_migration_status **out, size_t *n,
                                      char *errbuf, size_t errlen);

/* Checks history without applying: ADB_OK when every applied migration
 * matches and nothing is pending; *pending counts pending ones. */
ADB_WUR adb_status adb_migrate_check(PGconn *conn, const adb_migration_set *set,
                                     int *pending, char *errbuf, size_t errlen);

#endif
