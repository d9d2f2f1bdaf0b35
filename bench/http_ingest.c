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

/* One bulk body of chunk events; seq makes each event unique. About 600
 * bytes an event: principal, target, outcome, correlation id, a session
 * context and a small details object (as bench_ingest's events). */
static char *bulk_body(size_t chunk, long seq)
{
    static const char *const actions[] = { "auth.login.success", "fhir.patient.read",
                                           "fhir.observation.create", "data.export",
                                           "auth.logout", "admin.role.update" };
    static const char *const statuses[] = { "success", "success", "success", "failure", "attempt" };
    static const char *const classes[] = { "PHI", "INTERNAL", "CONFIDENTIAL", "PUBLIC" };
    size_t cap = chunk * 1024 + 64, used = 0;
    char *b = malloc(cap);

    if (!b)
        die("post", "out of memory");
    used += (size_t)snprintf(b, cap, "{\"events\":[");
    for (size_t j = 0; j < chunk; j++) {
        size_t i = (size_t)seq * chunk + j;
        used += (size_t)snprintf(b + used, cap - used,
            "%s{\"action\":\"%s\",\"status\":\"%s\",\"principalId\":\"practitioner-%zu\","
            "\"targetResourceType\":\"Patient\",\"targetResourceId\":\"patient-%zu\","
            "\"outcomeDescription\":\"Access to the patient's chart\","
            "\"correlationId\":\"req-%zu\",\"dataClassification\":\"%s\","
            "\"sessionContext\":{\"sessionId\":\"sess-%zu\",\"ipAddress\":\"10.%zu.%zu.%zu\","
            "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64)\"},"
            "\"details\":{\"resourceVersion\":%zu,\"fields\":[\"name\",\"birthDate\"],\"reason\":\"treatment\"}}",
            j ? "," : "", actions[i % 6], statuses[i % 5], i % 5000, i % 100000, i, classes[i % 4],
            i / 20, i % 250, (i / 7) % 250, (i / 3) % 250, i % 17);
    }
    snprintf(b + used, cap - used, "]}");
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
        if (code != 201 || !strstr(ans.tail, "\"failed\":0}")) {
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

static int cmd_post(char **argv)
{
    const char *base = argv[0];
    long events = strtol(argv[2], NULL, 10), conns = strtol(argv[3], NULL, 10);
    long chunk = strtol(argv[4], NULL, 10), window = strtol(argv[5], NULL, 10);
    char url[512], *keys[64];
    int nkeys = 0;
    size_t klen;
    char *kf = NULL;

    if (events < 1 || conns < 1 || conns > 256 || chunk < 1 || chunk > 1000 || window < chunk)
        die("post", "EVENTS >= 1, CONNS 1..256, CHUNK 1..1000, WINDOW >= CHUNK");
    FILE *f = fopen(argv[1], "r");
    if (!f)
        die(argv[1], "cannot open the keys file");
    kf = malloc(1 << 16);
    klen = fread(kf, 1, (1 << 16) - 1, f);
    fclose(f);
    kf[klen] = '\0';
    for (char *s = kf, *nl; *s && nkeys < 64; s = nl ? nl + 1 : s + strlen(s)) {
        if ((nl = strchr(s, '\n')))
            *nl = '\0';
        if (*s)
            keys[nkeys++] = s;
        if (!nl)
            break;
    }
    if (nkeys == 0)
        die(argv[1], "no key in the keys file");
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
    if (argc == 3 && strcmp(argv[1], "copy") == 0)
        return cmd_copy(argv + 2);
    fprintf(stderr, "usage: http_ingest post BASE_URL KEYS_FILE EVENTS CONNS CHUNK WINDOW\n"
                    "       http_ingest copy CONNINFO\n");
    return 2;
}
