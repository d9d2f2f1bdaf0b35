/*
 * bench_archive.c - archival against PostgreSQL's own speed, in the same
 * run, on the same rows (docs/archive.md, bench/README.md).
 *
 *  1. load: N events older than their policies' archive_after_days (365
 *     days: INTERNAL, PHI, CONFIDENTIAL) over several organizations,
 *     through auditdb's writer, plus a few recent events that must stay
 *     live; then VACUUM ANALYZE and CHECKPOINT.
 *  2. raw COPY TO: COPY (SELECT <the 22 columns archives store> FROM
 *     audit_log WHERE <the due rows>) TO STDOUT, received and dropped;
 *     three times (after an untimed one that keeps the rows for the
 *     checks), the fastest is the reference.
 *  3. archival: one maintenance round at the same clock (what `auditdb
 *     maintenance run --now T` runs): the due events move into
 *     archive_storage and leave audit_log.
 *  4. checks (untimed): audit_log holds no due row and every recent one;
 *     the archives, read back with auditdb's reader (which checks their
 *     checksums, counts and positions), hold exactly the rows the raw COPY
 *     read, all 22 columns of each. Any difference exits 1.
 *
 * Environment: ADMIN_URL (a cluster, from scripts/with-cluster.sh),
 * BENCH_ARCHIVE_EVENTS (200000 due events), BENCH_ARCHIVE_LIVE (events that
 * stay live, N/20), BENCH_ARCHIVE_ORGS (8), BENCH_ARCHIVE_MAX_ROWS (rows per
 * archive, 0: the default 100000), BENCH_ARCHIVE_KEEP (1: keep the database
 * bench_archive afterwards).
 */
#define BENCH_NAME "bench_archive"
#include "bench_util.h"
#include "lifecycle/archive.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_NAME "bench_archive"
#define DAY_S 86400LL

static long long query_ll(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die(sql, PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* ---- events --------------------------------------------------------------- */

/* n realistic events with ascending timestamps from `from` to `to` (seconds
 * since 1970), spread over orgs organizations and three classifications
 * (and so three retention policies), the usual fields and a small details
 * object with text that needs escaping now and then. */
static char **make_events(size_t n, int orgs, time_t from, time_t to, size_t salt)
{
    static const char *const actions[] = { "fhir.patient.read", "fhir.observation.read",
                                           "auth.login.success", "fhir.encounter.read",
                                           "fhir.observation.create", "fhir.patient.update",
                                           "auth.logout", "data.export" };
    static const char *const statuses[] = { "success", "success", "success", "success", "failure",
                                            "attempt" };
    static const char *const classes[] = { "PHI", "PHI", "INTERNAL", "CONFIDENTIAL", "PHI",
                                           "INTERNAL", "PHI" };
    static const char *const reasons[] = { "treatment", "payment", "operations",
                                           "emergency \\\"break glass\\\"", "audit\\ttrail",
                                           "r\\u00e9vision m\\u00e9dicale" };
    char **t = calloc(n, sizeof(char *));

    if (!t)
        die("events", "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t k = i + salt;
        time_t ts = from + (time_t)((double)i / (double)(n ? n : 1) * (double)(to - from));
        struct tm tm;
        char when[40], buf[1400];
        gmtime_r(&ts, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, sizeof(buf),
                 "{\"timestamp\":\"%s.%03zuZ\",\"action\":\"%s\",\"status\":\"%s\","
                 "\"principalId\":\"prac-%02zu-%04zu\",\"organizationId\":\"org-%02zu\","
                 "\"targetResourceType\":\"Patient\",\"targetResourceId\":\"patient-%zu\","
                 "\"outcomeDescription\":\"%s\","
                 "\"correlationId\":\"req-%zu\",\"dataClassification\":\"%s\","
                 "\"sessionContext\":{\"sessionId\":\"sess-%zu\",\"ipAddress\":\"10.%zu.%zu.%zu\","
                 "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"},"
                 "\"details\":{\"resourceVersion\":%zu,\"fields\":[\"name\",\"birthDate\"],"
                 "\"reason\":\"%s\",\"client\":\"ehr-web/4.2.1\"}}",
                 when, k % 1000, actions[k % 8], statuses[k % 6], k % (size_t)orgs,
                 (k * 7919) % 2000, k % (size_t)orgs, (k * 104729) % 100000,
                 k % 13 ? "Access to the patient's chart" : "Chart opened\\nfrom the ward",
                 k, classes[k % 7],
                 k / 20, k % 250, (k / 7) % 250, (k / 3) % 250, k % 17, reasons[k % 6]);
        if (!(t[i] = strdup(buf)))
            die("events", "out of memory");
    }
    return t;
}

/* Loads texts through the writer: `clients` threads, chunk events a call.
 * Events of one thread stay in order; threads take consecutive slices. */
static void load(adb *db, char **texts, size_t n, int clients, size_t chunk)
{
    bench_client *cl = calloc((size_t)clients, sizeof(*cl));
    pthread_t *th = calloc((size_t)clients, sizeof(*th));
    size_t per = n / (size_t)clients;
    long failed = 0;

    for (int i = 0; i < clients; i++) {
        size_t from = (size_t)i * per, k = i == clients - 1 ? n - from : per;
        cl[i] = (bench_client){ .db = db, .texts = texts + from, .n = k, .chunk = chunk };
        pthread_create(&th[i], NULL, bench_client_main, &cl[i]);
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        if (cl[i].failed && !failed)
            fprintf(stderr, "bench_archive: load: %s\n", cl[i].first_error);
        failed += cl[i].failed;
    }
    free(cl);
    free(th);
    if (failed)
        die("load", "some events were not stored");
}

/* ---- rows as COPY text, and their fingerprint --------------------------------- */

/* A row's fingerprint: the first 8 bytes of the SHA-256 of its COPY text
 * line (without the newline). The sum over rows is independent of order. */
static uint64_t fingerprint(const void *line, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    uint64_t v = 0;

    SHA256(line, len, md);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | md[i];
    return v;
}

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static void gb_put(growbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        if (!(b->p = realloc(b->p, b->cap)))
            die("fingerprint", "out of memory");
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends value v as COPY's text format writes it (PostgreSQL's
 * CopyAttributeOutText with the default delimiter; NULL is \N). */
static void copy_text(growbuf *b, const char *v)
{
    if (!v) {
        gb_put(b, "\\N", 2);
        return;
    }
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\v': e = "\\v"; break;
        case '\\': e = "\\\\"; break;
        }
        if (e)
            gb_put(b, e, 2);
        else
            gb_put(b, (const char *)s, 1);
    }
}

/* ---- the measurements ------------------------------------------------------ */

/* COPY (query) TO STDOUT: rows and the seconds taken. With sum (not NULL)
 * each row is also kept and, after the clock stopped, the sum of their
 * fingerprints computed; without, rows are received and dropped. */
static double raw_copy(PGconn *c, const char *query, long long *rows, uint64_t *sum)
{
    char sql[2048];
    char *line;
    int k;
    growbuf kept = { 0 };

    snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", query);
    double t0 = now_ms();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT)
        die("COPY TO", PQerrorMessage(c));
    PQclear(r);
    *rows = 0;
    while ((k = PQgetCopyData(c, &line, 0)) > 0) {
        if (sum)
            gb_put(&kept, line, (size_t)k);
        (*rows)++;
        PQfreemem(line);
    }
    if (k == -2)
        die("COPY TO", PQerrorMessage(c));
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY TO", PQresultErrorMessage(r));
        PQclear(r);
    }
    double secs = (now_ms() - t0) / 1000.0;
    if (sum)
        *sum = 0;
    for (size_t off = 0; sum && off < kept.len;) {
        char *nl = memchr(kept.p + off, '\n', kept.len - off);
        if (!nl)
            die("COPY TO", "a row without its newline");
        *sum += fingerprint(kept.p + off, (size_t)(nl - (kept.p + off)));
        off = (size_t)(nl - kept.p) + 1;
    }
    free(kept.p);
    return secs;
}

/* Reads every archive back (auditdb's reader checks both checksums, sizes,
 * the record count and the positions of each); rows and the sum of their
 * fingerprints as COPY text lines. */
static void read_archives(PGconn *c, long long *archives, long long *rows, uint64_t *sum)
{
    PGresult *r = PQexec(c, "SELECT id FROM archive_storage WHERE deleted_at IS NULL ORDER BY id");
    growbuf line = { 0 };
    char err[ADB_ERRMSG_MAX];

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("archives", PQerrorMessage(c));
    *archives = PQntuples(r);
    *rows = 0;
    *sum = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        adb__archive_reader *rd = adb__archive_open(c, PQgetvalue(r, i, 0), err, sizeof(err));
        const char *v[ADB__ROW_NCOLS];
        int rc;
        if (!rd)
            die("archive", err);
        while ((rc = adb__archive_next(rd, v)) == 1) {
            line.len = 0;
            for (int j = 0; j < ADB__ROW_NCOLS; j++) {
                if (j)
                    gb_put(&line, "\t", 1);
                copy_text(&line, v[j]);
            }
            *sum += fingerprint(line.p, line.len);
            (*rows)++;
        }
        if (rc < 0)
            die("archive", adb__archive_error(rd));
        adb__archive_close(rd);
    }
    free(line.p);
    PQclear(r);
}

int main(void)
{
    const char *admin = getenv("ADMIN_URL");
    size_t n = (size_t)env_int("BENCH_ARCHIVE_EVENTS", 200000);
    size_t live = (size_t)env_int("BENCH_ARCHIVE_LIVE", (long)(n / 20));
    int orgs = (int)env_int("BENCH_ARCHIVE_ORGS", 8);
    int max_rows = (int)env_int("BENCH_ARCHIVE_MAX_ROWS", 0);
    char ci[2048], err[ADB_ERRMSG_MAX], cutoff_text[64], sql[1024];

    if (!admin)
        die("ADMIN_URL", "not set (run through make bench)");
    if (n < 1 || orgs < 1 || orgs > 99)
        die("settings", "BENCH_ARCHIVE_EVENTS must be at least 1, BENCH_ARCHIVE_ORGS 1 to 99");

    /* The clock is now. Due: 395 to 455 days old (archive after 365 days,
     * deleted after 1825 or more: archived, not expired); live: the last
     * 20 days. */
    time_t now = time(NULL);
    time_t cutoff = now - 365 * DAY_S;
    struct tm tm;
    gmtime_r(&cutoff, &tm);
    strftime(cutoff_text, sizeof(cutoff_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("bench_archive: %zu due events over %d organizations and 3 classifications "
           "(395-455 days old), %zu recent events that stay\n", n, orgs, live);

    char **due = make_events(n, orgs, now - 455 * DAY_S, now - 395 * DAY_S, 0);
    char **recent = make_events(live, orgs, now - 20 * DAY_S, now - 3600, n);
    fresh_db(admin, DB_NAME);
    snprintf(ci, sizeof(ci), "%s dbname=" DB_NAME, admin);
    adb_options o;
    adb_options_default(&o);
    o.conninfo = ci;
    o.master_key = "bench-master-key-0123456789abcdef0123456789";
    o.pool_max = 8;
    o.batch_max = 2000;
    o.queue_max = 50000;
    adb *db;
    if (adb_open(&o, &db, err, sizeof(err)) != ADB_OK)
        die("adb_open", err);
    double t0 = now_ms();
    load(db, due, n, 8, 500);
    if (live)
        load(db, recent, live, 2, 500);
    printf("load: %zu events through the writer in %.1f s\n", n + live, (now_ms() - t0) / 1000.0);

    PGconn *c = connect_db(admin, DB_NAME);
    exec_ok(c, "VACUUM ANALYZE audit_log");
    exec_ok(c, "CHECKPOINT");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE \"timestamp\" < '%s'",
             cutoff_text);
    long long due_rows = query_ll(c, sql);
    long long total_rows = query_ll(c, "SELECT count(*) FROM audit_log");
    if (due_rows != (long long)n || total_rows != (long long)(n + live))
        die("load", "audit_log does not hold the events loaded");

    /* 2. raw COPY TO of the due rows, the columns archives store: once to
     * keep the rows' fingerprints (untimed), then three times received
     * and dropped; the fastest is the reference (the machine is shared) */
    long long copy_rows;
    uint64_t copy_sum;
    double copy_runs[3];
    snprintf(sql, sizeof(sql), "SELECT " ADB__ROW_COLUMNS " FROM audit_log WHERE \"timestamp\" < '%s'",
             cutoff_text);
    raw_copy(c, sql, &copy_rows, &copy_sum);
    for (int i = 0; i < 3 && copy_rows == due_rows; i++)
        copy_runs[i] = raw_copy(c, sql, &copy_rows, NULL);
    if (copy_rows != due_rows)
        die("COPY TO", "did not read every due row");
    double copy_s = copy_runs[0];
    for (int i = 1; i < 3; i++)
        if (copy_runs[i] < copy_s)
            copy_s = copy_runs[i];

    /* 3. archival: one maintenance round at the same clock */
    adb_maintenance_options mo;
    adb_maintenance_report rep;
    adb_maintenance_options_default(&mo);
    mo.now_us = (int64_t)now * 1000000;
    if (max_rows > 0)
        mo.archive_max_rows = max_rows;
    t0 = now_ms();
    adb_status st = adb_maintenance_run(db, &mo, &rep, err, sizeof(err));
    double archive_s = (now_ms() - t0) / 1000.0;
    if (st != ADB_OK)
        die("maintenance run", err);
    if (rep.failures || rep.deferred)
        die("maintenance run", "a job failed (see archive_dlq_event)");

    /* 4. checks */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE \"timestamp\" < '%s'",
             cutoff_text);
    long long left_due = query_ll(c, sql);
    long long left_all = query_ll(c, "SELECT count(*) FROM audit_log");
    long long archives, archived_rows;
    uint64_t archived_sum;
    read_archives(c, &archives, &archived_rows, &archived_sum);
    printf("archival: %lld events into %d archives (%lld stored), %lld expired, %d partitions "
           "dropped\n", rep.events_archived, rep.archives_created, archives, rep.events_expired,
           rep.partitions_dropped);
    if (rep.events_archived != due_rows || left_due != 0)
        die("check", "audit_log still holds due events, or the round archived another number");
    if (left_all != (long long)live)
        die("check", "audit_log lost events that were not due");
    if (archived_rows != due_rows || archived_sum != copy_sum)
        die("check", "the archives do not hold exactly the rows the raw COPY read");
    printf("check: audit_log holds no due event and all %zu recent ones; the archives hold the "
           "%lld rows COPY read, all 22 columns equal\n", live, archived_rows);

    double copy_rate = (double)copy_rows / copy_s, archive_rate = (double)rep.events_archived / archive_s;
    printf("archive\n");
    printf("  raw COPY TO (the due rows, 22 columns)      %9.0f rows/s   (%.2f s; runs %.2f %.2f %.2f)\n",
           copy_rate, copy_s, copy_runs[0], copy_runs[1], copy_runs[2]);
    printf("  auditdb archival (maintenance round)        %9.0f events/s (%.2f s)\n", archive_rate,
           archive_s);
    printf("  ratio archival/COPY TO                      %9.2f\n", archive_rate / copy_rate);

    PQfinish(c);
    adb_close(db);
    if (!env_int("BENCH_ARCHIVE_KEEP", 0)) {
        PGconn *a = PQconnectdb(admin);
        PQclear(PQexec(a, "DROP DATABASE IF EXISTS " DB_NAME " WITH (FORCE)"));
        PQfinish(a);
    }
    for (size_t i = 0; i < n; i++)
        free(due[i]);
    for (size_t i = 0; i < live; i++)
        free(recent[i]);
    free(due);
    free(recent);
    return 0;
}
