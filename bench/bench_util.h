/*
 * bench_util.h - what the benchmark programs share: a monotonic clock,
 * knobs from the environment, fatal errors, and a fresh migrated database.
 * Each program defines BENCH_NAME (its name in messages) before including.
 */
#ifndef AUDITDB_BENCH_UTIL_H
#define AUDITDB_BENCH_UTIL_H

#include "auditdb.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static inline long env_int(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

static inline void die(const char *what, const char *why)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, why);
    exit(1);
}

static inline PGconn *connect_db(const char *admin, const char *db)
{
    char ci[2048];
    snprintf(ci, sizeof(ci), "%s dbname=%s", admin, db);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    return c;
}

static inline void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

/* A fresh database named db (a plain identifier), with every migration. */
static inline void fresh_db(const char *admin, const char *db)
{
    PGconn *a = PQconnectdb(admin);
    char sql[256];
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int applied;

    if (PQstatus(a) != CONNECTION_OK)
        die("connect", PQerrorMessage(a));
    PQclear(PQexec(a, "SET client_min_messages = warning"));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    exec_ok(a, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    exec_ok(a, sql);
    PQfinish(a);
    PGconn *c = connect_db(admin, db);
    adb_migrations_builtin(&set);
    if (adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) != ADB_OK)
        die("migrate", err);
    PQfinish(c);
}

/* ---- COPY both ways: the reference of the ingestion benchmarks ---------- */

#define BENCH_ROWS_QUERY                                                                            \
    "SELECT id, \"timestamp\", ttl, principal_id, organization_id, action, target_resource_type," \
    " target_resource_id, status, outcome_description, hash, hash_algorithm, signature,"       \
    " event_version, correlation_id, data_classification, retention_policy, details,"          \
    " chain_seq, prev_chain_hash, chain_hash FROM audit_log"

/* Reads the rows with COPY TO; returns them (if keep) and the seconds taken. */
static inline char *bench_copy_out(PGconn *c, const char *query, bool keep, size_t *len, double *secs, long *rows)
{
    char sql[1024];
    char *all = NULL, *line;
    size_t cap = 0, n = 0;
    int k;

    snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", query);
    double t0 = now_ms();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT)
        die("COPY TO", PQerrorMessage(c));
    PQclear(r);
    *rows = 0;
    while ((k = PQgetCopyData(c, &line, 0)) > 0) {
        if (keep) {
            if (n + (size_t)k > cap) {
                cap = (n + (size_t)k) * 2;
                all = realloc(all, cap);
            }
            memcpy(all + n, line, (size_t)k);
            n += (size_t)k;
        }
        (*rows)++;
        PQfreemem(line);
    }
    while ((r = PQgetResult(c)))
        PQclear(r);
    *secs = (now_ms() - t0) / 1000.0;
    *len = n;
    return all;
}

static inline double bench_copy_in(PGconn *c, const char *data, size_t len)
{
    double t0 = now_ms();
    exec_ok(c, "BEGIN");
    /* PostgreSQL's own speed: audit_log's chain-position trigger (migration
     * 0013) is skipped as it is for the writer, which records its positions
     * one range per batch */
    exec_ok(c, "SELECT set_config('auditdb.writer_takes_positions', 'on', true)");
    PGresult *r = PQexec(c, "COPY audit_log (id, \"timestamp\", ttl, principal_id, organization_id,"
                            " action, target_resource_type, target_resource_id, status,"
                            " outcome_description, hash, hash_algorithm, signature, event_version,"
                            " correlation_id, data_classification, retention_policy, details,"
                            " chain_seq, prev_chain_hash, chain_hash) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("COPY FROM", PQerrorMessage(c));
    PQclear(r);
    for (size_t off = 0; off < len;) {
        size_t k = len - off > (1 << 20) ? (1 << 20) : len - off;
        if (PQputCopyData(c, data + off, (int)k) != 1)
            die("COPY data", PQerrorMessage(c));
        off += k;
    }
    if (PQputCopyEnd(c, NULL) != 1)
        die("COPY end", PQerrorMessage(c));
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY FROM", PQresultErrorMessage(r));
        PQclear(r);
    }
    exec_ok(c, "COMMIT");
    return (now_ms() - t0) / 1000.0;
}

/* One writer client: sends texts[0..n) through adb_log_batch_json, chunk
 * events a call, in order; lat (optional, room for n / chunk + 1 calls)
 * receives each call's milliseconds. Run by bench_client_main on a thread. */
typedef struct bench_client {
    adb *db;
    char **texts;
    size_t n, chunk;
    double *lat;
    size_t ncalls;
    long failed;
    char first_error[256];
} bench_client;

static inline void *bench_client_main(void *arg)
{
    bench_client *c = arg;
    size_t *lens = calloc(c->chunk, sizeof(size_t));
    adb_log_result *res = calloc(c->chunk, sizeof(*res));

    if (!lens || !res)
        die("client", "out of memory");
    for (size_t i = 0; i < c->n; i += c->chunk) {
        size_t k = c->n - i < c->chunk ? c->n - i : c->chunk;
        for (size_t j = 0; j < k; j++)
            lens[j] = strlen(c->texts[i + j]);
        double t0 = now_ms();
        adb_status st = adb_log_batch_json(c->db, (const char *const *)&c->texts[i], lens, k, NULL, res);
        if (c->lat)
            c->lat[c->ncalls] = now_ms() - t0;
        c->ncalls++;
        if (st != ADB_OK)
            for (size_t j = 0; j < k; j++)
                if (res[j].status != ADB_OK && c->failed++ == 0)
                    snprintf(c->first_error, sizeof(c->first_error), "%s",
                             adb_strerror(res[j].status));
    }
    free(lens);
    free(res);
    return NULL;
}

#endif
