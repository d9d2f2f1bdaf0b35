/*
 * logging.h - what PostgreSQL may write to its own log about auditdb's
 * statements: never a statement, a parameter value or a row. One table of
 * settings, applied to the embedded cluster's postmaster (command-line -c
 * options, which neither postgresql.conf nor ALTER SYSTEM can override) and,
 * as far as the login role may, to every session on an external server.
 * See docs/embedded.md, "What the server log may contain".
 */
#ifndef AUDITDB_DB_LOGGING_H
#define AUDITDB_DB_LOGGING_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name, *value;
} adb__pg_setting;

/* The settings, ended by { NULL, NULL }. */
extern const adb__pg_setting adb__pg_private_logging[];

/* Writes " -c name=value" for each setting to buf (for pg_ctl -o); false
 * when it does not fit. */
bool adb__pg_logging_options(char *buf, size_t len);

/* Applies the settings to session c, each one the login role may set (the
 * others are left to the server's configuration: docs/embedded.md). One
 * round trip; best effort: false only when the statement itself failed. */
bool adb__pg_logging_session(PGconn *c);

#endif
