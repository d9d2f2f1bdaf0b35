/*
 * t.h - the small test framework of the C tests: cases print "ok - name" or
 * "not ok - name" (with "#" diagnostic lines), which tests/run.sh counts.
 * Database tests get the throwaway cluster from AUDIT_DB_URL (set by the
 * runner) and make their own database with t_fresh_db().
 */
#ifndef ADB_T_H
#define ADB_T_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool t_cur_failed;
static int t_failures;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            t_cur_failed = true;                                                        \
            printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            t_cur_failed = true;                                                        \
            printf("#   %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                                        \
            printf("\n");                                                               \
        }                                                                               \
    } while (0)

#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            t_cur_failed = true;                                                        \
            printf("#   %s:%d: required: %s\n", __FILE__, __LINE__, #cond);             \
            return;                                                                     \
        }                                                                               \
    } while (0)

#define CHECK_STR(a, b)                                                                 \
    do {                                                                                \
        const char *t_a = (a), *t_b = (b);                                              \
        CHECK_MSG(t_a && t_b && strcmp(t_a, t_b) == 0, "\"%s\" != \"%s\"",              \
                  t_a ? t_a : "(null)", t_b ? t_b : "(null)");                          \
    } while (0)

#define RUN(fn) t_run(#fn, fn)

static inline void t_run(const char *name, void (*fn)(void))
{
    t_cur_failed = false;
    fn();
    printf("%s - %s\n", t_cur_failed ? "not ok" : "ok", name);
    fflush(stdout);
    if (t_cur_failed)
        t_failures++;
}

static inline int t_done(void)
{
    return t_failures ? 1 : 0;
}

/* The runner's cluster (key=value conninfo). Exits with a clear message when
 * the test is started without the runner. */
static inline const char *t_admin_conninfo(void)
{
    const char *ci = getenv("AUDIT_DB_URL");
    if (!ci || !*ci) {
        printf("not ok - environment: AUDIT_DB_URL is not set (run through tests/run.sh)\n");
        exit(1);
    }
    return ci;
}

/* Creates (or re-creates) database name on the runner's cluster and writes
 * a conninfo for it into out. Returns false with a diagnostic on failure. */
static inline bool t_fresh_db(const char *name, char *out, size_t len)
{
    const char *admin = t_admin_conninfo();
    PGconn *c = PQconnectdb(admin);
    char sql[256];
    bool ok = PQstatus(c) == CONNECTION_OK;

    if (ok)
        PQclear(PQexec(c, "SET client_min_messages = warning"));
    for (int i = 0; ok && i < 2; i++) {
        snprintf(sql, sizeof(sql), i == 0 ? "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)"
                                          : "CREATE DATABASE \"%s\"", name);
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            printf("# %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    snprintf(out, len, "%s dbname=%s", admin, name);
    return ok;
}

/* Runs sql on conninfo and returns the first value as a malloc()ed string
 * (NULL on error or no row). */
static inline char *t_query1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v = NULL;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        v = strdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        printf("# query failed: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return v;
}

#endif
