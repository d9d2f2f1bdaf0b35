/*
 * growth.c - analyze a partition of audit_log as it fills (growth.h).
 */
#include "growth.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdlib.h>

#define GROWTH_MONTHS 64 /* months tracked at once; the oldest entry is reused */

typedef struct {
    int month;
    bool seen;           /* its size was read from pg_class */
    long long rows;      /* estimated rows in the partition */
    long long next_mark; /* analyze when rows reach it; 0: no more */
} month_rows;

struct adb__growth {
    pthread_mutex_t mu;
    month_rows m[GROWTH_MONTHS];
    int n, reuse;
};

adb__growth *adb__growth_new(void)
{
    adb__growth *g = calloc(1, sizeof(*g));

    if (g)
        pthread_mutex_init(&g->mu, NULL);
    return g;
}

void adb__growth_free(adb__growth *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* The entry of month, created if missing; g->mu held. */
static month_rows *entry(adb__growth *g, int month)
{
    for (int i = 0; i < g->n; i++)
        if (g->m[i].month == month)
            return &g->m[i];
    month_rows *e = g->n < GROWTH_MONTHS ? &g->m[g->n++] : &g->m[g->reuse++ % GROWTH_MONTHS];
    *e = (month_rows){ .month = month };
    return e;
}

adb__growth_due adb__growth_add(adb__growth *g, int month, long long count)
{
    adb__growth_due due = ADB__GROWTH_NONE;

    if (!g || count <= 0)
        return ADB__GROWTH_NONE;
    pthread_mutex_lock(&g->mu);
    month_rows *e = entry(g, month);
    e->rows += count;
    if (!e->seen)
        due = ADB__GROWTH_FIRST;
    else if (e->next_mark > 0 && e->rows >= e->next_mark)
        due = ADB__GROWTH_MARK;
    if (due != ADB__GROWTH_NONE) { /* until check sets the next one */
        e->seen = true;
        e->next_mark = 0;
    }
    pthread_mutex_unlock(&g->mu);
    return due;
}

void adb__growth_forget(adb__growth *g, int month)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    month_rows *e = entry(g, month);
    e->seen = false;
    e->rows = 0;
    pthread_mutex_unlock(&g->mu);
}

static void set_next_mark(adb__growth *g, int month, long long rows)
{
    pthread_mutex_lock(&g->mu);
    month_rows *e = entry(g, month);
    if (rows >= 0)
        e->rows = rows;
    long long mark = e->rows * ADB__GROWTH_FACTOR;
    e->next_mark = e->rows >= ADB__GROWTH_LAST ? 0 : mark < ADB__GROWTH_FIRST_MARK ? ADB__GROWTH_FIRST_MARK : mark;
    e->seen = true;
    pthread_mutex_unlock(&g->mu);
}

/* The partition's rows as the planner estimates them: pg_class.reltuples
 * scaled by how its pages grew since (the planner's own estimate); -1 when
 * never analyzed or vacuumed (or missing); -2 with err set when the query
 * failed. */
static long long reltuples(PGconn *c, const char *name, char *err, size_t errlen)
{
    const char *p[] = { name };
    PGresult *r = PQexecParams(c, "SELECT coalesce((SELECT CASE WHEN reltuples < 0 THEN -1"
                                  " WHEN relpages = 0 THEN reltuples::bigint"
                                  " ELSE (reltuples / relpages * (pg_relation_size(oid)"
                                  " / current_setting('block_size')::int))::bigint END"
                                  " FROM pg_class WHERE oid = to_regclass($1)), -1)",
                               1, NULL, p, NULL, NULL, 0);
    long long n = -2;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        adb__fmt(err, errlen, "could not read the size of %s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    return n;
}

bool adb__growth_check(adb__growth *g, PGconn *c, int month, adb__growth_due due, char *err,
                       size_t errlen)
{
    char name[32], sql[64];
    long long rows;
    bool ok = true;

    if (due == ADB__GROWTH_NONE)
        return true;
    /* the partition's name is auditdb_ensure_partition's: audit_log_YYYY_MM */
    adb__fmt(name, sizeof(name), "audit_log_%04d_%02d", month / 12, month % 12 + 1);
    if (due == ADB__GROWTH_FIRST) {
        /* analyzed before (by autovacuum, or for an earlier process): its
         * plans are made with its size; only the marks are set from it */
        rows = reltuples(c, name, err, errlen);
        if (rows != -1) {
            set_next_mark(g, month, rows);
            if (rows == -2)
                adb__oneline(err);
            return rows != -2;
        }
    }
    adb__fmt(sql, sizeof(sql), "ANALYZE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not analyze %s: %s", name, PQresultErrorMessage(r));
        ok = false;
    }
    PQclear(r);
    rows = ok ? reltuples(c, name, err, errlen) : -1;
    set_next_mark(g, month, rows);
    if (!ok || rows == -2)
        adb__oneline(err);
    return ok && rows != -2;
}
