/*
 * logins.h - the database roles the service logs in as (docs/auth.md,
 * "Database roles").
 *
 * Migrations, maintenance and verify run as the owner (AUDIT_DB_URL, or the
 * embedded cluster's postgres). HTTP requests read as auditdb_api, which can
 * become auditdb_app and nothing else, so row-level security binds every
 * statement they run; the batched writer logs in as auditdb_writer (INSERT
 * and SELECT, and the chain heads; it bypasses row-level security because
 * COPY is refused under it). Neither may be a superuser or become one.
 */
#ifndef AUDITDB_LOGINS_H
#define AUDITDB_LOGINS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include "status.h"

#define ADB_LOGIN_API "auditdb_api"
#define ADB_LOGIN_WRITER "auditdb_writer"

/*
 * The owner's conninfo (key=value or URI) with user set to user and any
 * password left out (the login role authenticates on its own: pg_hba.conf,
 * a password file, a certificate). Returns a malloc'd key=value string the
 * caller frees, or NULL (errbuf says why).
 */
char *adb_login_conninfo(const char *owner_conninfo, const char *user, char *errbuf,
                         size_t errlen);

/*
 * Refuses (ADB_ERR_CONFIG, errbuf says why) a connection whose session user
 * is a superuser, may create roles, may read or write the server's files or
 * run programs there, or belongs to a role that may. For a connection that
 * serves requests (requests true) it must also neither bypass row-level
 * security nor own audit_log. what names the connection in the message.
 */
ADB_WUR adb_status adb_login_check(PGconn *c, bool requests, const char *what, char *errbuf,
                                   size_t errlen);

#endif
