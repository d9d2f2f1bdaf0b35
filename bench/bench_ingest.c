/*
 * bench_ingest.c - ingestion and verification against PostgreSQL's own
 * speed, in the same run, on the same rows.
 *
 *  1. auditdb's writer: C client threads call adb_log_batch_json with
 *     CHUNK events each (as bulk API requests would), acknowledged after
 *     COMMIT; rate and per-call ack latency p50/p99.
 *  2. raw COPY: the very rows the writer stored (read back with COPY TO) are
 *     loaded with one COPY FROM into a fresh database of the same schema.
 *  3. verify: adb_verify over all events vs a raw COPY TO of the same rows.
 *  4. seal: canonical form, hash and signature of each event under
 *     sha256-c14n-v3 (commitments to its personal data) against the same
 *     under sha256-c14n-v2, one thread, no database: what commitments cost.
 *
 * Environment: ADMIN_URL (a cluster, from scripts/with-cluster.sh),
 * BENCH_EVENTS (200000), BENCH_CLIENTS (16), BENCH_CHUNK (100), BENCH_ORGS (10).
 */
#define BENCH_NAME "bench"
#include "bench_util.h"
#include "event/event.h"
#include "event/json.h"
#include "integrity/integrity.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the writer --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Realistic events: ordered timestamps over the last 30 days, several
 * organizations, the usual fields and a small details object. */
static char **make_events(size_t n, int orgs)
{
    static const char *const actions[] = { "auth.login.success", "fhir.patient.read",
                                           "fhir.observation.create", "data.export",
                                           "auth.logout", "admin.role.update" };
    static const char *const statuses[] = { "success", "success", "success", "failure", "attempt" };
    static const char *const classes[] = { "PHI", "INTERNAL", "CONFIDENTIAL", "PUBLIC" };
    char **t = calloc(n, sizeof(char *));
    time_t base = time(NULL) - 30 * 86400;

    for (size_t i = 0; i < n; i++) {
        time_t ts = base + (time_t)((double)i / (double)n * 30 * 86400);
        struct tm tm;
        char when[40], buf[1024];
        gmtime_r(&ts, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, sizeof(buf),
                 "{\"timestamp\":\"%s.%03zuZ\",\"action\":\"%s\",\"status\":\"%s\","
                 "\"principalId\":\"practitioner-%zu\",\"organizationId\":\"org-%02zu\","
                 "\"targetResourceType\":\"Patient\",\"targetResourceId\":\"patient-%zu\","
                 "\"outcomeDescription\":\"Access to the patient's chart\","
                 "\"correlationId\":\"req-%zu\",\"dataClassification\":\"%s\","
                 "\"sessionContext\":{\"sessionId\":\"sess-%zu\",\"ipAddress\":\"10.%zu.%zu.%zu\","
                 "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64)\"},"
                 "\"details\":{\"resourceVersion\":%zu,\"fields\":[\"name\",\"birthDate\"],\"reason\":\"treatment\"}}",
                 when, i % 1000, actions[i % 6], statuses[i % 5], i % 5000, i % (size_t)orgs,
                 i % 100000, i, classes[i % 4], i / 20, i % 250, (i / 7) % 250, (i / 3) % 250,
                 i % 17);
        t[i] = strdup(buf);
    }
    return t;
}

/* Seconds spent sealing events[0..n) under alg (one thread): the events
 * parsed and built outside the timing, as ingestion builds them before. */
static double seal_seconds(char **texts, size_t n, const char *alg, const adb__keys *k)
{
    adb__validation v;
    double spent = 0;

    adb__validation_default(&v);
    for (size_t i = 0; i < n; i++) {
        adb_json_error je;
        adb_event_errors errs;
        adb_json_doc *doc = adb__json_parse(texts[i], strlen(texts[i]), NULL, &je);
        adb__event *ev = doc ? adb__event_from_json(adb__json_root(doc), NULL, &v, &errs) : NULL;
        adb__json_free(doc);
        if (!ev)
            die("seal", "an event was refused");
        free(ev->f[ADB_F_HASH_ALGORITHM]);
        ev->f[ADB_F_HASH_ALGORITHM] = strdup(alg);
        double t0 = now_ms();
        if (!adb__event_seal(ev, k, &errs))
            die("seal", "an event could not be sealed");
        spent += now_ms() - t0;
        adb__event_free(ev);
    }
    return spent / 1000.0;
}

int main(void)
{
    const char *admin = getenv("ADMIN_URL");
    size_t n = (size_t)env_int("BENCH_EVENTS", 200000);
    int clients = (int)env_int("BENCH_CLIENTS", 16);
    size_t chunk = (size_t)env_int("BENCH_CHUNK", 100);
    int orgs = (int)env_int("BENCH_ORGS", 10);
    char ci[2048], err[ADB_ERRMSG_MAX];

    if (!admin)
        die("ADMIN_URL", "not set (run through make bench)");
    printf("bench: %zu events, %d organizations, %d clients x %zu-event calls\n", n, orgs, clients, chunk);
    char **texts = make_events(n, orgs);

    /* 1. through the writer */
    fresh_db(admin, "bench_writer");
    snprintf(ci, sizeof(ci), "%s dbname=bench_writer", admin);
    adb_options o;
    adb_options_default(&o);
    o.conninfo = ci;
    o.master_key = "bench-master-key-0123456789abcdef0123456789";
    o.pool_max = 8;
    o.batch_max = (int)env_int("BENCH_BATCH", 2000);
    o.queue_max = 50000;
    o.writer_threads = (int)env_int("BENCH_WRITERS", 2);
    adb *db;
    if (adb_open(&o, &db, err, sizeof(err)) != ADB_OK)
        die("adb_open", err);
    /* partitions exist before timing, as in the COPY run */
    {
        adb_log_result r;
        adb_log_json(db, texts[0], strlen(texts[0]), NULL, &r);
        adb_log_json(db, texts[n - 1], strlen(texts[n - 1]), NULL, &r);
        PGconn *c = connect_db(admin, "bench_writer");
        exec_ok(c, "SELECT auditdb_ensure_partition((now() - interval '31 days')::date),"
                   " auditdb_ensure_partition((now() - interval '15 days')::date),"
                   " auditdb_ensure_partition(now()::date)");
        /* the positions too: a position is otherwise taken for good (0013) */
        exec_ok(c, "TRUNCATE audit_log, audit_chain_head, audit_chain_position");
        PQfinish(c);
    }
    bench_client *cl = calloc((size_t)clients, sizeof(*cl));
    pthread_t *th = calloc((size_t)clients, sizeof(*th));
    size_t per = n / (size_t)clients, totalcalls = 0;
    double t0 = now_ms();
    for (int i = 0; i < clients; i++) {
        size_t from = (size_t)i * per, k = i == clients - 1 ? n - from : per;
        cl[i] = (bench_client){ .db = db, .texts = texts + from, .n = k, .chunk = chunk,
                                .lat = calloc(k / chunk + 2, sizeof(double)) };
        pthread_create(&th[i], NULL, bench_client_main, &cl[i]);
    }
    long failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        failed += cl[i].failed;
        totalcalls += cl[i].ncalls;
    }
    double writer_s = (now_ms() - t0) / 1000.0;
    double *lat = calloc(totalcalls, sizeof(double));
    size_t m = 0;
    for (int i = 0; i < clients; i++)
        for (size_t j = 0; j < cl[i].ncalls; j++)
            lat[m++] = cl[i].lat[j];
    qsort(lat, m, sizeof(double), cmp_double);
    if (failed)
        die("writer", "some events were not stored");

    /* 2. the same rows, raw COPY into a fresh database */
    PGconn *w = connect_db(admin, "bench_writer");
    size_t len;
    double read_s;
    long rows;
    char *data = bench_copy_out(w, BENCH_ROWS_QUERY, true, &len, &read_s, &rows);
    fresh_db(admin, "bench_copy");
    PGconn *cc = connect_db(admin, "bench_copy");
    exec_ok(cc, "SELECT auditdb_ensure_partition((now() - interval '31 days')::date),"
                " auditdb_ensure_partition((now() - interval '15 days')::date),"
                " auditdb_ensure_partition(now()::date)");
    double copy_s = bench_copy_in(cc, data, len);
    free(data);
    PQfinish(cc);

    /* 3. verification vs a raw read of the same rows in the same order */
    double raw_read_s;
    long raw_rows;
    free(bench_copy_out(w, BENCH_ROWS_QUERY " ORDER BY organization_id, chain_seq, id", false, &len,
                  &raw_read_s, &raw_rows));
    PQfinish(w);
    adb_verify_options vo = { .record = false };
    adb_verify_summary vs;
    if (adb_verify(db, &vo, &vs, err, sizeof(err)) != ADB_OK)
        die("verify", err);
    if (vs.problems)
        die("verify", "problems found in a freshly written database");

    double copy_rate = (double)rows / copy_s, writer_rate = (double)n / writer_s;
    double read_rate = (double)raw_rows / raw_read_s, verify_rate = (double)vs.events / vs.seconds;
    printf("ingest\n");
    printf("  raw COPY FROM (same rows, one transaction)  %9.0f rows/s\n", copy_rate);
    printf("  auditdb writer (ack after COMMIT)           %9.0f events/s\n", writer_rate);
    printf("  ratio writer/COPY                           %9.2f   (goal >= 0.80)\n", writer_rate / copy_rate);
    printf("  ack latency per %zu-event call              p50 %.1f ms, p99 %.1f ms (%zu calls)\n",
           chunk, lat[m / 2], lat[(size_t)((double)m * 0.99)], m);
    printf("verify\n");
    printf("  raw COPY TO (same rows, chain order)        %9.0f rows/s\n", read_rate);
    printf("  auditdb verify (hash, signature, chain)     %9.0f events/s\n", verify_rate);
    printf("  ratio verify/COPY TO                        %9.2f\n", verify_rate / read_rate);
    adb_writer_stats ws;
    adb_writer_get_stats(db, &ws);
    printf("writer: %lld batches, %.0f events per batch on average, %lld chain conflicts\n", ws.batches,
           ws.batches ? (double)ws.events_written / (double)ws.batches : 0.0, ws.chain_conflicts);
    adb_close(db);

    /* 4. what commitments cost per event: v3 against v2, alternated, best of 3 */
    {
        adb__keys k;
        size_t ns = n < 50000 ? n : 50000;
        double v2 = 1e9, v3 = 1e9;
        if (!adb__keys_derive((const unsigned char *)o.master_key, strlen(o.master_key), &k))
            die("keys", "could not derive");
        for (int round = 0; round < 3; round++) {
            double a = seal_seconds(texts, ns, ADB_HASH_ALG_C14N_V2, &k);
            double b = seal_seconds(texts, ns, ADB_HASH_ALG_C14N, &k);
            v2 = a < v2 ? a : v2;
            v3 = b < v3 ? b : v3;
        }
        printf("seal (canonical form, hash, signature; %zu events, one thread, best of 3)\n", ns);
        printf("  sha256-c14n-v2 (values)                     %9.2f us/event\n", v2 * 1e6 / (double)ns);
        printf("  sha256-c14n-v3 (7 commitments per event)    %9.2f us/event\n", v3 * 1e6 / (double)ns);
        printf("  commitments cost                            %9.2f us/event (v3/v2 %.2f)\n",
               (v3 - v2) * 1e6 / (double)ns, v3 / v2);
        adb__keys_wipe(&k);
    }
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    return 0;
}
