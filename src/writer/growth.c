/*
 * growth.c - analyze a partition of audit_log as it fills (growth.h).
 *
 * Per month: the rows this process stored there, whether the partition's
 * size was read yet, the next mark and whether the thread has work for it.
 * The thread, for a month met for the first time, reads the planner's
 * estimate of the partition's rows and analyzes it only if it was never
 * analyzed (a new partition, or one an earlier process filled); at a mark it
 * analyzes it. Either way it sets the next mark from the size.
 */
#include "growth.h"
#include "../core/util.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>

#define GROWTH_MONTHS 64 /* months tracked at once; the oldest entry is reused */

typedef enum { DUE_NONE, DUE_FIRST, DUE_MARK } due_kind;

typedef struct {
    int month;
    bool seen;           /* met before (its first look is asked for or done) */
    due_kind due;        /* work asked of the thread */
    long long rows;      /* estimated rows in the partition */
    long long next_mark; /* ask for an ANALYZE when rows reach it; 0: none now */
} month_rows;

struct adb__growth {
    adb_pool *pool;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    month_rows m[GROWTH_MONTHS];
    unsigned n, reuse;
};

/* The entry of month, created if missing; g->mu held. */
static month_rows *entry(adb__growth *g, int month)
{
    for (unsigned i = 0; i < g->n; i++)
        if (g->m[i].month == month)
            return &g->m[i];
    month_rows *e = g->n < GROWTH_MONTHS ? &g->m[g->n++] : &g->m[g->reuse++ % GROWTH_MONTHS];
    *e = (month_rows){ .month = month };
    return e;
}

void adb__growth_add(adb__growth *g, int month, long long count)
{
    if (!g || count <= 0)
        return;
    pthread_mutex_lock(&g->mu);
    month_rows *e = entry(g, month);
    e->rows += count;
    if (!e->seen) {
        e->seen = true;
        e->due = DUE_FIRST;
    } else if (e->next_mark > 0 && e->rows >= e->next_mark) {
        e->next_mark = 0; /* the thread sets the next one */
        e->due = DUE_MARK;
    }
    if (e->due != DUE_NONE)
        pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* The partition's rows as the planner estimates them: pg_class.reltuples
 * scaled by how its pages grew since (the planner's own estimate); -1 when
 * never analyzed or vacuumed, or missing; -2 when the query failed. */
static long long estimated_rows(PGconn *c, const char *name)
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
    PQclear(r);
    return n;
}

/* Looks at month's partition over c; returns its estimated rows, or -1 when
 * unknown (a failure: the next mark then counts from this process's rows). A
 * failed ANALYZE is not retried: autovacuum's schedule remains. A login role
 * that may not analyze the partition gets a WARNING, not an error
 * (docs/writer.md). */
static long long look(PGconn *c, int month, due_kind due, long long rows_known)
{
    char name[32], sql[128];
    long long rows = -1;

    /* the partition's name is auditdb_ensure_partition's: audit_log_YYYY_MM */
    adb__fmt(name, sizeof(name), "audit_log_%04d_%02d", month / 12, month % 12 + 1);
    if (due == DUE_FIRST && (rows = estimated_rows(c, name)) != -1)
        return rows < 0 ? -1 : rows; /* analyzed before: its plans know its size */
    /* a partition below GROWTH_SMALL_SAMPLE_ROWS is analyzed from a sample of 3,000 rows
     * instead of 30,000: 44 ms instead of 1.2 s at 64,000 rows, for what the plans need
     * (the partition's size, and rough distributions); autovacuum's full analyses follow,
     * after each 10 % of growth (docs/writer.md) */
    adb__fmt(sql, sizeof(sql), "BEGIN; %sANALYZE %s; COMMIT",
             rows_known >= 0 && rows_known < ADB__GROWTH_SMALL_SAMPLE_ROWS
                 ? "SET LOCAL default_statistics_target = 10; " : "", name);
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    rows = ok ? estimated_rows(c, name) : -1;
    return rows < 0 ? -1 : rows;
}

static void set_next_mark(adb__growth *g, int month, long long rows)
{
    month_rows *e = entry(g, month);

    if (rows >= 0)
        e->rows = rows;
    long long mark = e->rows * ADB__GROWTH_FACTOR;
    e->next_mark = e->rows >= ADB__GROWTH_LAST ? 0
                   : mark < ADB__GROWTH_FIRST_MARK ? ADB__GROWTH_FIRST_MARK : mark;
}

static void *growth_main(void *arg)
{
    adb__growth *g = arg;

    pthread_mutex_lock(&g->mu);
    for (;;) {
        month_rows *e = NULL;
        for (unsigned i = 0; i < g->n && !e; i++)
            if (g->m[i].due != DUE_NONE)
                e = &g->m[i];
        if (!e && g->stopping)
            break;
        if (!e) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        int month = e->month;
        due_kind due = e->due;
        long long known = e->rows;
        bool stopping = g->stopping;
        e->due = DUE_NONE;
        pthread_mutex_unlock(&g->mu);
        adb_status st;
        char err[ADB_ERRMSG_MAX];
        PGconn *c = stopping ? NULL : adb_pool_acquire(g->pool, &st, err, sizeof(err));
        long long rows = -1;
        if (c) {
            rows = look(c, month, due, known);
            adb_pool_release(g->pool, c);
        }
        pthread_mutex_lock(&g->mu);
        if (c)
            set_next_mark(g, month, rows);
        else if (!g->stopping)
            entry(g, month)->seen = false; /* no connection: met again with its next rows */
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

adb__growth *adb__growth_start(adb_pool *pool)
{
    adb__growth *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    g->pool = pool;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thread, NULL, growth_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    return g;
}

void adb__growth_stop(adb__growth *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    for (unsigned i = 0; i < g->n; i++) /* left for the next process */
        g->m[i].due = DUE_NONE;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
