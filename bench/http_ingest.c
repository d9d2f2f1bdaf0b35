/*
 * http_ingest.c - the client of bench/http_ingest.sh: ingestion through the
 * HTTP API from an empty database, and its reference, raw COPY of the same rows.
 *
 *   http_ingest post BASE_URL KEYS_FILE EVENTS CONNS CHUNK WINDOW
 *       CONNS threads, each with one keep-alive connection, send bulk requests
 *       of CHUNK events (POST /api/v1/audit/events/bulk) one after the other
 *       (a closed loop: the next request leaves when the answer to the last
 *       one came) until EVENTS events were acknowledged. Thread i uses the key
 *       on line i % lines of KEYS_FILE (one key, one organization, a line).
 *       Events carry no timestamp: the server's clock puts them all in the
 *       current month, as in a fresh deployment. Prints, on stdout,
 *         WINDOW from=N to=N seconds=S rate=R      (events/s, every WINDOW events)
 *         RESULT events=N seconds=S rate=R failed=N
 *       Any answer other than 201, or an event not stored, counts as failed
 *       (the first such answer goes to stderr).
 *   http_ingest interleave BASE_URL KEYS_FILE CONNINFO EVENTS CONNS CHUNK WINDOW
 *       As post, a window at a time; after each window, the rows it stored
 *       are COPYed (one transaction) into bench_http_copy, fresh at the
 *       start: HTTP and its reference alternate every few seconds, so a
 *       shared machine's changing load weighs on both alike. Prints a
 *       WINDOW line per window with both rates, and a RESULT line.
 *   http_ingest single BASE_URL KEYS_FILE EVENTS CONNS OFFSET
 *       The same events one by one (POST /api/v1/audit/events, {"eventData":
 *       ...}), numbered from OFFSET, over CONNS keep-alive connections (closed
 *       loop); prints SINGLE events=N seconds=S rate=R p50=MS p99=MS failed=N
 *       (latency of each create as the client saw it).
 *   http_ingest copy CONNINFO
 *       Reads every row of audit_log in the database of CONNINFO (COPY TO),
 *       loads them with one COPY FROM into a fresh database of the same schema
 *       (bench_http_copy, every migration, the partitions the rows need) in
 *       one transaction, and prints COPY rows=N seconds=S rate=R.
 *
 * Environment for copy: ADMIN_URL (the cluster's postgres database).
 */
#define BENCH_NAME "http_ingest"
#include "bench_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- post --------------------------------------------------------------- */

typedef struct {
    const char *url, *key;
    size_t chunk;
} poster;

static atomic_long next_request;  /* the next request number to send */
static long total_requests;
static double *done_at;           /* completion time (ms) of each request, by finishing order */
static atomic_long done_count;
static atomic_long failed;
static atomic_int reported;

/* The answer's first 300 bytes (for an error message) and its last 100 (the
 * bulk answer's summary comes last). */
typedef struct {
    char head[301], tail[101];
    size_t head_len, tail_len;
} answer;

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t k = size * n, take;

    take = k < 300 - a->head_len ? k : 300 - a->head_len;
    memcpy(a->head + a->head_len, p, take);
    a->head_len += take;
    a->head[a->head_len] = '\0';
    if (k >= 100) {
        memcpy(a->tail, p + k - 100, 100);
        a->tail_len = 100;
    } else {
        size_t keep = a->tail_len + k > 100 ? 100 - k : a->tail_len;
        memmove(a->tail, a->tail + a->tail_len - keep, keep);
        memcpy(a->tail + keep, p, k);
        a->tail_len = keep + k;
    }
    a->tail[a->tail_len] = '\0';
    return k;
}

/* Event number i, appended at b + used (cap bytes in all); returns the new
 * length. About 600 bytes: principal, target, outcome, correlation id, a
 * session context and a small details object (as bench_ingest's events). */
static size_t event_text(char *b, size_t used, size_t cap, size_t i)
{
    static const char *const actions[] = { "auth.login.success", "fhir.patient.read",
                                           "fhir.observation.create", "data.export",
                                           "auth.logout", "admin.role.update" };
    static const char *const statuses[] = { "success", "success", "success", "failure", "attempt" };
    static const char *const classes[] = { "PHI", "INTERNAL", "CONFIDENTIAL", "PUBLIC" };

    return used + (size_t)snprintf(b + used, cap - used,
        "{\"action\":\"%s\",\"status\":\"%s\",\"principalId\":\"practitioner-%zu\","
        "\"targetResourceType\":\"Patient\",\"targetResourceId\":\"patient-%zu\","
        "\"outcomeDescription\":\"Access to the patient's chart\","
        "\"correlationId\":\"req-%zu\",\"dataClassification\":\"%s\","
        "\"sessionContext\":{\"sessionId\":\"sess-%zu\",\"ipAddress\":\"10.%zu.%zu.%zu\","
        "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64)\"},"
        "\"details\":{\"resourceVersion\":%zu,\"fields\":[\"name\",\"birthDate\"],\"reason\":\"treatment\"}}",
        actions[i % 6], statuses[i % 5], i % 5000, i % 100000, i, classes[i % 4],
        i / 20, i % 250, (i / 7) % 250, (i / 3) % 250, i % 17);
}

/* One bulk body of chunk events; seq makes each event unique. */
static char *bulk_body(size_t chunk, long seq)
{
    size_t cap = chunk * 1024 + 64, used = 0;
    char *b = malloc(cap);

    if (!b)
        die("post", "out of memory");
    used += (size_t)snprintf(b, cap, "{\"events\":[");
    for (size_t j = 0; j < chunk; j++) {
        if (j)
            b[used++] = ',';
        used = event_text(b, used, cap, (size_t)seq * chunk + j);
    }
    snprintf(b + used, cap - used, "]}");
    return b;
}

/* One single-create body, {"eventData":{...}}: event number seq. Events of
 * the single run are numbered after the bulk runs' (offset), so every row
 * stays unique. */
static char *single_body(long seq)
{
    size_t cap = 1200, used = 0;
    char *b = malloc(cap);

    if (!b)
        die("single", "out of memory");
    used += (size_t)snprintf(b, cap, "{\"eventData\":");
    used = event_text(b, used, cap, (size_t)seq);
    snprintf(b + used, cap - used, "}");
    return b;
}

static void *poster_main(void *arg)
{
    poster *p = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char keyhdr[256];
    answer ans;
    long seq;

    if (!h)
        die("post", "curl_easy_init failed");
    snprintf(keyhdr, sizeof(keyhdr), "X-API-Key: %s", p->key);
    hdr = curl_slist_append(hdr, keyhdr);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    while ((seq = atomic_fetch_add(&next_request, 1)) < total_requests) {
        char *body = bulk_body(p->chunk, seq);
        long code = 0;
        ans = (answer){ .head_len = 0 };
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        CURLcode rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        /* every event stored: the answer's counts come first (docs/api.md, "Bulk
         * answer"); the original shape's summary, last, for builds before it */
        if (code != 201 || (!strstr(ans.head, "\"failed\":0,") && !strstr(ans.tail, "\"failed\":0}"))) {
            atomic_fetch_add(&failed, (long)p->chunk);
            if (atomic_fetch_add(&reported, 1) == 0)
                fprintf(stderr, "http_ingest: request %ld: %s %ld %s\n", seq,
                        rc == CURLE_OK ? "HTTP" : curl_easy_strerror(rc), code, ans.head);
        }
        done_at[atomic_fetch_add(&done_count, 1)] = now_ms();
        free(body);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads KEYS_FILE: one key a line, at most 64; returns the buffer they
 * point into. */
static char *load_keys(const char *path, char *keys[64], int *nkeys)
{
    FILE *f = fopen(path, "r");
    char *kf;
    size_t klen;

    if (!f)
        die(path, "cannot open the keys file");
    kf = malloc(1 << 16);
    if (!kf)
        die(path, "out of memory");
    klen = fread(kf, 1, (1 << 16) - 1, f);
    fclose(f);
    kf[klen] = '\0';
    *nkeys = 0;
    for (char *s = kf, *nl; *s && *nkeys < 64; s = nl ? nl + 1 : s + strlen(s)) {
        if ((nl = strchr(s, '\n')))
            *nl = '\0';
        if (*s)
            keys[(*nkeys)++] = s;
        if (!nl)
            break;
    }
    if (*nkeys == 0)
        die(path, "no key in the keys file");
    return kf;
}

static int cmd_post(char **argv)
{
    const char *base = argv[0];
    long events = strtol(argv[2], NULL, 10), conns = strtol(argv[3], NULL, 10);
    long chunk = strtol(argv[4], NULL, 10), window = strtol(argv[5], NULL, 10);
    char url[512], *keys[64];
    int nkeys = 0;
    char *kf = NULL;

    if (events < 1 || conns < 1 || conns > 256 || chunk < 1 || chunk > 1000 || window < chunk)
        die("post", "EVENTS >= 1, CONNS 1..256, CHUNK 1..1000, WINDOW >= CHUNK");
    kf = load_keys(argv[1], keys, &nkeys);
    snprintf(url, sizeof(url), "%s/api/v1/audit/events/bulk", base);
    total_requests = (events + chunk - 1) / chunk;
    done_at = calloc((size_t)total_requests, sizeof(double));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    poster *ps = calloc((size_t)conns, sizeof(*ps));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    double t0 = now_ms();
    for (long i = 0; i < conns; i++) {
        ps[i] = (poster){ .url = url, .key = keys[i % nkeys], .chunk = (size_t)chunk };
        pthread_create(&th[i], NULL, poster_main, &ps[i]);
    }
    for (long i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double secs = (now_ms() - t0) / 1000.0;
    qsort(done_at, (size_t)total_requests, sizeof(double), cmp_double);
    /* the k-th answer (in time) completes k * chunk events */
    long per = window / chunk;
    for (long from = 0; from < total_requests; from += per) {
        long to = from + per < total_requests ? from + per : total_requests;
        double start = from == 0 ? t0 : done_at[from - 1], end = done_at[to - 1];
        double s = (end - start) / 1000.0;
        printf("WINDOW from=%ld to=%ld seconds=%.2f rate=%.0f\n", from * chunk, to * chunk, s,
               s > 0 ? (double)((to - from) * chunk) / s : 0.0);
    }
    printf("RESULT events=%ld seconds=%.2f rate=%.0f failed=%ld\n", total_requests * chunk, secs,
           (double)(total_requests * chunk) / secs, atomic_load(&failed));
    free(done_at);
    free(ps);
    free(th);
    free(kf);
    curl_global_cleanup();
    return atomic_load(&failed) ? 1 : 0;
}

/* ---- single ------------------------------------------------------------- */

static long single_offset;  /* the first event number of the single run */
static double *latency;     /* ms of each create, by request number */

static void *single_main(void *arg)
{
    poster *p = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char keyhdr[256];
    answer ans;
    long seq;

    if (!h)
        die("single", "curl_easy_init failed");
    snprintf(keyhdr, sizeof(keyhdr), "X-API-Key: %s", p->key);
    hdr = curl_slist_append(hdr, keyhdr);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    while ((seq = atomic_fetch_add(&next_request, 1)) < total_requests) {
        char *body = single_body(single_offset + seq);
        long code = 0;
        ans = (answer){ .head_len = 0 };
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        double t0 = now_ms();
        CURLcode rc = curl_easy_perform(h);
        latency[seq] = now_ms() - t0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code != 201) {
            atomic_fetch_add(&failed, 1);
            if (atomic_fetch_add(&reported, 1) == 0)
                fprintf(stderr, "http_ingest: create %ld: %s %ld %s\n", seq,
                        rc == CURLE_OK ? "HTTP" : curl_easy_strerror(rc), code, ans.head);
        }
        free(body);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

/* http_ingest single BASE_URL KEYS_FILE EVENTS CONNS OFFSET: EVENTS single
 * creates over CONNS keep-alive connections (closed loop); prints
 * SINGLE events=N seconds=S rate=R p50=MS p99=MS failed=N. */
static int cmd_single(char **argv)
{
    const char *base = argv[0];
    long events = strtol(argv[2], NULL, 10), conns = strtol(argv[3], NULL, 10);
    char url[512], *keys[64];
    int nkeys;

    single_offset = strtol(argv[4], NULL, 10);
    if (events < 1 || conns < 1 || conns > 256 || single_offset < 0)
        die("single", "EVENTS >= 1, CONNS 1..256, OFFSET >= 0");
    char *kf = load_keys(argv[1], keys, &nkeys);
    snprintf(url, sizeof(url), "%s/api/v1/audit/events", base);
    total_requests = events;
    latency = calloc((size_t)events, sizeof(double));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    poster *ps = calloc((size_t)conns, sizeof(*ps));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    if (!latency || !ps || !th)
        die("single", "out of memory");
    double t0 = now_ms();
    for (long i = 0; i < conns; i++) {
        ps[i] = (poster){ .url = url, .key = keys[i % nkeys], .chunk = 1 };
        pthread_create(&th[i], NULL, single_main, &ps[i]);
    }
    for (long i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double secs = (now_ms() - t0) / 1000.0;
    qsort(latency, (size_t)events, sizeof(double), cmp_double);
    printf("SINGLE events=%ld seconds=%.2f rate=%.0f p50=%.2f p99=%.2f failed=%ld\n", events, secs,
           (double)events / secs, latency[(events - 1) / 2], latency[(events * 99 - 1) / 100],
           atomic_load(&failed));
    free(latency);
    free(ps);
    free(th);
    free(kf);
    curl_global_cleanup();
    return atomic_load(&failed) ? 1 : 0;
}

/* ---- interleave --------------------------------------------------------- */

/* The months of the rows with id > after in src, ensured in dst (untimed). */
static void ensure_months(PGconn *src, PGconn *dst, const char *after)
{
    const char *p[] = { after };
    PGresult *r = PQexecParams(src, "SELECT DISTINCT date_trunc('month', \"timestamp\")::date::text"
                                    " FROM audit_log WHERE id > $1::bigint", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("months", PQerrorMessage(src));
    for (int i = 0; i < PQntuples(r); i++) {
        const char *m[] = { PQgetvalue(r, i, 0) };
        PGresult *e = PQexecParams(dst, "SELECT auditdb_ensure_partition($1::date)", 1, NULL, m,
                                   NULL, NULL, 0);
        if (PQresultStatus(e) != PGRES_TUPLES_OK)
            die("ensure partition", PQerrorMessage(dst));
        PQclear(e);
    }
    PQclear(r);
}

/* http_ingest interleave BASE_URL KEYS_FILE CONNINFO EVENTS CONNS CHUNK WINDOW:
 * WINDOW events through HTTP (as post), then the very rows those requests
 * stored, raw COPY FROM in one transaction into bench_http_copy (fresh and
 * migrated at the start, so both databases grow alike), then the next
 * window: both measured at nearly the same moments of a shared machine.
 * Prints, a window each, WINDOW from=N to=N seconds=S rate=R copy_seconds=S
 * copy_rate=R, and RESULT events=N seconds=S rate=R copy_rows=N
 * copy_seconds=S copy_rate=R failed=N. */
static int cmd_interleave(char **argv)
{
    const char *base = argv[0], *admin = getenv("ADMIN_URL");
    long events = strtol(argv[3], NULL, 10), conns = strtol(argv[4], NULL, 10);
    long chunk = strtol(argv[5], NULL, 10), window = strtol(argv[6], NULL, 10);
    char url[512], *keys[64], last[32] = "0";
    int nkeys;
    double http_s = 0, copy_s = 0;
    long copy_rows = 0;

    if (!admin)
        die("ADMIN_URL", "not set (run through bench/http_ingest.sh)");
    if (events < 1 || conns < 1 || conns > 256 || chunk < 1 || chunk > 1000 || window < chunk)
        die("interleave", "EVENTS >= 1, CONNS 1..256, CHUNK 1..1000, WINDOW >= CHUNK");
    char *kf = load_keys(argv[1], keys, &nkeys);
    PGconn *src = PQconnectdb(argv[2]);
    if (PQstatus(src) != CONNECTION_OK)
        die("connect", PQerrorMessage(src));
    fresh_db(admin, "bench_http_copy");
    PGconn *dst = connect_db(admin, "bench_http_copy");
    snprintf(url, sizeof(url), "%s/api/v1/audit/events/bulk", base);
    long all = (events + chunk - 1) / chunk, per = window / chunk;
    done_at = calloc((size_t)all, sizeof(double));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    poster *ps = calloc((size_t)conns, sizeof(*ps));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    if (!done_at || !ps || !th)
        die("interleave", "out of memory");
    for (long from = 0; from < all; from += per) {
        long to = from + per < all ? from + per : all;
        atomic_store(&next_request, from);
        total_requests = to;
        double t0 = now_ms();
        for (long i = 0; i < conns; i++) {
            ps[i] = (poster){ .url = url, .key = keys[i % nkeys], .chunk = (size_t)chunk };
            pthread_create(&th[i], NULL, poster_main, &ps[i]);
        }
        for (long i = 0; i < conns; i++)
            pthread_join(th[i], NULL);
        double hs = (now_ms() - t0) / 1000.0;
        /* every answered request is committed: the window's rows are those
         * above the last window's highest id */
        size_t len;
        double read_s;
        long rows;
        char q[600];
        snprintf(q, sizeof(q), BENCH_ROWS_QUERY " WHERE id > %s", last);
        ensure_months(src, dst, last);
        char *data = bench_copy_out(src, q, true, &len, &read_s, &rows);
        double cs = bench_copy_in(dst, data, len);
        free(data);
        PGresult *r = PQexec(src, "SELECT coalesce(max(id), 0)::text FROM audit_log");
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("max id", PQerrorMessage(src));
        snprintf(last, sizeof(last), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        http_s += hs;
        copy_s += cs;
        copy_rows += rows;
        printf("WINDOW from=%ld to=%ld seconds=%.2f rate=%.0f copy_rows=%ld copy_seconds=%.2f copy_rate=%.0f\n",
               from * chunk, to * chunk, hs, (double)((to - from) * chunk) / hs, rows, cs,
               (double)rows / cs);
        fflush(stdout);
    }
    printf("RESULT events=%ld seconds=%.2f rate=%.0f copy_rows=%ld copy_seconds=%.2f copy_rate=%.0f failed=%ld\n",
           all * chunk, http_s, (double)(all * chunk) / http_s, copy_rows, copy_s,
           (double)copy_rows / copy_s, atomic_load(&failed));
    free(done_at);
    free(ps);
    free(th);
    free(kf);
    PQfinish(dst);
    PQfinish(src);
    curl_global_cleanup();
    return atomic_load(&failed) ? 1 : 0;
}

/* ---- copy --------------------------------------------------------------- */

static int cmd_copy(char **argv)
{
    const char *admin = getenv("ADMIN_URL");
    size_t len;
    double read_s;
    long rows;

    if (!admin)
        die("ADMIN_URL", "not set (run through bench/http_ingest.sh)");
    PGconn *src = PQconnectdb(argv[0]);
    if (PQstatus(src) != CONNECTION_OK)
        die("connect", PQerrorMessage(src));
    char *data = bench_copy_out(src, BENCH_ROWS_QUERY, true, &len, &read_s, &rows);
    fresh_db(admin, "bench_http_copy");
    PGconn *dst = connect_db(admin, "bench_http_copy");
    /* the partitions of the months the rows are in, before timing (the
     * HTTP run created them too, on its first request) */
    PGresult *r = PQexec(src, "SELECT DISTINCT date_trunc('month', \"timestamp\")::date::text"
                              " FROM audit_log");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("months", PQerrorMessage(src));
    for (int i = 0; i < PQntuples(r); i++) {
        const char *p[] = { PQgetvalue(r, i, 0) };
        PGresult *e = PQexecParams(dst, "SELECT auditdb_ensure_partition($1::date)", 1, NULL, p,
                                   NULL, NULL, 0);
        if (PQresultStatus(e) != PGRES_TUPLES_OK)
            die("ensure partition", PQerrorMessage(dst));
        PQclear(e);
    }
    PQclear(r);
    double copy_s = bench_copy_in(dst, data, len);
    printf("COPY rows=%ld seconds=%.2f rate=%.0f\n", rows, copy_s, (double)rows / copy_s);
    free(data);
    PQfinish(dst);
    PQfinish(src);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "post") == 0)
        return cmd_post(argv + 2);
    if (argc == 9 && strcmp(argv[1], "interleave") == 0)
        return cmd_interleave(argv + 2);
    if (argc == 7 && strcmp(argv[1], "single") == 0)
        return cmd_single(argv + 2);
    if (argc == 3 && strcmp(argv[1], "copy") == 0)
        return cmd_copy(argv + 2);
    fprintf(stderr, "usage: http_ingest post BASE_URL KEYS_FILE EVENTS CONNS CHUNK WINDOW\n"
                    "       http_ingest interleave BASE_URL KEYS_FILE CONNINFO EVENTS CONNS CHUNK WINDOW\n"
                    "       http_ingest single BASE_URL KEYS_FILE EVENTS CONNS OFFSET\n"
                    "       http_ingest copy CONNINFO\n");
    return 2;
}
