/*
 * dbmon_caps.c - what the database server offers the monitor: whether
 * pg_stat_statements is created and preloaded (and whether the login reads
 * every role's statements), whether hypopg is created; and why not, in words
 * an operator can act on (docs/monitoring.md, "Database monitoring").
 */
#include "dbmon.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

void adb__dbmon_opts_default(adb__dbmon_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->slow_ms = 1000;
    o->suggest_min_calls = 5;
    o->suggest_max = 20;
    o->suggest_gain = 0.5;
    o->unused_min_bytes = 1024 * 1024;
    o->interval_s = 300;
}

void adb__dbmon_caps_read(PGconn *c, adb__dbmon_caps *caps)
{
    memset(caps, 0, sizeof(*caps));
    PGresult *r = PQexec(c,
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'),"
        " 'pg_stat_statements' = ANY (string_to_array(replace(current_setting("
        "'shared_preload_libraries'), ' ', ''), ',')),"
        " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        " OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'hypopg'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char e[200];
        adb__fmt(e, sizeof(e), "%s", PQresultErrorMessage(r));
        adb__fmt(caps->pss_reason, sizeof(caps->pss_reason), "could not read the server's "
                 "extensions: %s", adb__oneline(e));
        adb__fmt(caps->hypopg_reason, sizeof(caps->hypopg_reason), "%s", caps->pss_reason);
        PQclear(r);
        return;
    }
    bool pss_created = !PQgetisnull(r, 0, 0), pss_avail = PQgetvalue(r, 0, 1)[0] == 't';
    bool preloaded = PQgetvalue(r, 0, 2)[0] == 't', all = PQgetvalue(r, 0, 3)[0] == 't';
    bool hypo_created = !PQgetisnull(r, 0, 4), hypo_avail = PQgetvalue(r, 0, 5)[0] == 't';
    PQclear(r);

    if (!pss_avail && !pss_created)
        adb__fmt(caps->pss_reason, sizeof(caps->pss_reason), "pg_stat_statements is not "
                 "installed on the database server (PostgreSQL's contrib modules): no "
                 "statement times, no slow queries, no index suggestions");
    else if (!pss_created)
        adb__fmt(caps->pss_reason, sizeof(caps->pss_reason), "pg_stat_statements is not "
                 "created in this database: a superuser runs CREATE EXTENSION "
                 "pg_stat_statements (auditdb migrate does when it may)");
    else if (!preloaded)
        adb__fmt(caps->pss_reason, sizeof(caps->pss_reason), "pg_stat_statements is not in "
                 "the server's shared_preload_libraries: add it in postgresql.conf and restart "
                 "the server");
    else {
        caps->pss = true;
        caps->pss_all_roles = all;
        if (!all)
            adb__fmt(caps->pss_reason, sizeof(caps->pss_reason), "the login is neither a "
                     "superuser nor a member of pg_read_all_stats: only its own statements "
                     "are seen");
    }
    if (hypo_created)
        caps->hypopg = true;
    else if (hypo_avail)
        adb__fmt(caps->hypopg_reason, sizeof(caps->hypopg_reason), "hypopg is not created in "
                 "this database: a superuser runs CREATE EXTENSION hypopg (auditdb migrate does "
                 "when it may); suggestions are not made without it");
    else
        adb__fmt(caps->hypopg_reason, sizeof(caps->hypopg_reason), "hypopg is not installed on "
                 "the database server (Debian: postgresql-15-hypopg); suggestions are not made "
                 "without it");
}

json_t *adb__dbmon_caps_json(const adb__dbmon_caps *caps)
{
    return json_pack("{s:{s:b, s:b, s:s?}, s:{s:b, s:s?}}",
                     "pgStatStatements", "available", caps->pss, "allRoles", caps->pss_all_roles,
                     "reason", caps->pss_reason[0] ? caps->pss_reason : NULL,
                     "hypopg", "available", caps->hypopg,
                     "reason", caps->hypopg_reason[0] ? caps->hypopg_reason : NULL);
}
