/*
 * status.h - the one error type of libauditdb.
 *
 * Every code, its symbolic name and its text live in ADB_STATUS_LIST; the enum,
 * adb_status_name() and adb_strerror() are generated from it. Numbers are
 * never reused: retire a code by leaving its row in place.
 */
#ifndef AUDITDB_STATUS_H
#define AUDITDB_STATUS_H

#include <stddef.h>

#define ADB_WUR __attribute__((warn_unused_result))

/* X(name, number, text) */
#define ADB_STATUS_LIST(X)                                                     \
    X(OK, 0, "success")                                                        \
    X(ERR_NOMEM, 1, "out of memory")                                           \
    X(ERR_INVALID, 2, "invalid argument")                                      \
    X(ERR_IO, 3, "input/output error")                                         \
    X(ERR_CONFIG, 4, "invalid configuration")                                  \
    X(ERR_DB_CONNECT, 5, "could not connect to the database")                  \
    X(ERR_DB_QUERY, 6, "database query failed")                                \
    X(ERR_TIMEOUT, 7, "timed out")                                             \
    X(ERR_BUSY, 8, "resource busy")                                            \
    X(ERR_LOCKED, 9, "owned by another auditdb process")                       \
    X(ERR_NOT_FOUND, 10, "not found")                                          \
    X(ERR_PG_MISSING, 11, "PostgreSQL server binaries not found")              \
    X(ERR_PG_START, 12, "embedded PostgreSQL failed")                          \
    X(ERR_MIGRATION, 13, "migration failed")                                   \
    X(ERR_CHECKSUM, 14, "an applied migration was changed")                    \
    X(ERR_SCHEMA_NEWER, 15, "database schema is newer than this auditdb")      \
    X(ERR_INTERNAL, 16, "internal error")                                     \
    X(ERR_OUTCOME_UNKNOWN, 17, "the database connection broke during COMMIT: "  \
      "the outcome is unknown")

typedef enum adb_status {
#define ADB__STATUS_ENUM(name, num, text) ADB_##name = num,
    ADB_STATUS_LIST(ADB__STATUS_ENUM)
#undef ADB__STATUS_ENUM
} adb_status;

/* Returns the text of a status ("out of memory"); static storage. */
const char *adb_strerror(adb_status st);

/* Returns the symbolic name of a status ("ERR_NOMEM"); static storage. */
const char *adb_status_name(adb_status st);

/* Size of the message buffers kept on handles. */
#define ADB_ERRMSG_MAX 1024

#endif
