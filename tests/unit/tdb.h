/*
 * tdb.h - database helpers for the C tests: a fresh migrated database and a
 * library handle on it, SQL one-liners.
 */
#ifndef ADB_TDB_H
#define ADB_TDB_H

#include "t.h"
#include "auditdb.h"

#define T_MASTER_KEY "test-master-key-0123456789abcdef-0123456789"

/* Creates database name, applies the built-in migrations, writes its
 * conninfo into ci. */
static inline bool t_migrated_db(const char *name, char *ci, size_t len)
{
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int applied;
    PGconn *c;
    bool ok;

    if (!t_fresh_db(name, ci, len))
        return false;
    c = PQconnectdb(ci);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    adb_migrations_builtin(&set);
    ok = adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_OK;
    if (!ok)
        printf("# migrate: %s\n", err);
    PQfinish(c);
    return ok;
}

/* Opens a handle with the test key; opts may adjust the defaults. */
static inline adb *t_open(const char *ci, void (*adjust)(adb_options *))
{
    adb_options o;
    adb *db = NULL;
    char err[ADB_ERRMSG_MAX];

    adb_options_default(&o);
    o.conninfo = ci;
    o.master_key = T_MASTER_KEY;
    o.pool_min = 1;
    if (adjust)
        adjust(&o);
    if (adb_open(&o, &db, err, sizeof(err)) != ADB_OK)
        printf("# adb_open: %s\n", err);
    return db;
}

/* Runs a statement; false (with a diagnostic) on error. */
static inline bool t_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        printf("# %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/* The first value of a query as a long long (-1 on error). */
static inline long long t_count(PGconn *c, const char *sql)
{
    char *v = t_query1(c, sql);
    long long n = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return n;
}

#endif
