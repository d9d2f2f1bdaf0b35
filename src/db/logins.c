/*
 * logins.c - the service's database logins: their conninfo, derived from the
 * owner's, and the check that row-level security really binds them.
 * See include/auditdb/logins.h; docs/auth.md "Database roles".
 */
#include "auditdb.h"
#include "auditdb/logins.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

/* key='value' with ' and \ escaped, as libpq's conninfo parser reads it. */
static void put_pair(adb__buf *b, const char *key, const char *val)
{
    if (b->len)
        adb__buf_puts(b, " ");
    adb__buf_puts(b, key);
    adb__buf_puts(b, "='");
    for (const char *p = val; *p; p++) {
        if (*p == '\'' || *p == '\\')
            adb__buf_put(b, "\\", 1);
        adb__buf_put(b, p, 1);
    }
    adb__buf_puts(b, "'");
}

char *adb_login_conninfo(const char *owner_conninfo, const char *user, char *errbuf,
                         size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(owner_conninfo, &perr);
    adb__buf b = { 0 };

    if (!opts) {
        /* perr may quote the conninfo, password included: not repeated */
        adb__fmt(errbuf, errlen, "could not read the database connection string");
        PQfreemem(perr);
        return NULL;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !strcmp(o->keyword, "user") || !strcmp(o->keyword, "password"))
            continue;
        put_pair(&b, o->keyword, o->val);
    }
    put_pair(&b, "user", user);
    PQconninfoFree(opts);
    if (b.oom) {
        free(b.p);
        adb__fmt(errbuf, errlen, "out of memory");
        return NULL;
    }
    return b.p;
}

adb_status adb_login_check(PGconn *c, bool requests, const char *what, char *errbuf,
                           size_t errlen)
{
    /* pg_has_role(..., 'MEMBER'): direct or indirect membership, whether
     * inherited or reachable with SET ROLE. The predefined roles that read
     * or write the server's files or run programs there are as good as
     * superuser. */
    const char *p[] = { requests ? "t" : "f" };
    PGresult *r = PQexecParams(c,
        "SELECT session_user::text,"
        " coalesce((SELECT string_agg(rolname || CASE WHEN rolsuper THEN ' (superuser)'"
        "   WHEN rolcreaterole THEN ' (createrole)' WHEN rolbypassrls THEN ' (bypassrls)'"
        "   ELSE '' END, ', ' ORDER BY rolname)"
        "  FROM pg_roles WHERE pg_has_role(session_user, oid, 'MEMBER') AND (rolsuper OR"
        "   rolcreaterole OR ($1::bool AND rolbypassrls) OR rolname IN"
        "   ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program'))), ''),"
        " $1::bool AND coalesce((SELECT pg_has_role(session_user, relowner, 'MEMBER')"
        "  FROM pg_class WHERE oid = to_regclass('audit_log')), false)",
        1, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(errbuf, errlen, "could not check the %s login: %s", what, PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    } else if (*PQgetvalue(r, 0, 1)) {
        adb__fmt(errbuf, errlen, "the %s login \"%s\" is or can become a role that row-level "
                 "security does not bind: %s; it must be an ordinary role (docs/auth.md)",
                 what, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        st = ADB_ERR_CONFIG;
    } else if (!strcmp(PQgetvalue(r, 0, 2), "t")) {
        adb__fmt(errbuf, errlen, "the %s login \"%s\" owns the tables (or belongs to their "
                 "owner), so row-level security does not bind it (docs/auth.md)",
                 what, PQgetvalue(r, 0, 0));
        st = ADB_ERR_CONFIG;
    }
    PQclear(r);
    return st;
}
