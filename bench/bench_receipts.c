/*
 * bench_receipts.c - receipts of a large organization (issue 16: "a receipt
 * for any event of a 10-million-event organization: p99 within 2x a raw
 * SELECT of that event in the same run"). Driven by bench/receipts.sh.
 *
 *   bench_receipts load DBURL ORG N
 *     N events of ORG loaded straight into audit_log with COPY (generated
 *     rows: version 1 event ids from their timestamps, content hashes, chain
 *     positions 1..N; the chain hashes are not real: this organization is
 *     for receipts, not for `auditdb verify`), and its Merkle tree built by
 *     the library's Merkle code (merkle.h) as tlog-tiles rows (tiles and
 *     entry bundles, COPY on a second connection while the rows stream),
 *     its root recomputed from the stored tiles through the library's tile
 *     reader (tiles.h), then the tree head, chain head and positions. serve's
 *     checkpointer signs the first checkpoint of it when it starts.
 *
 *   bench_receipts run BASE KEY DBURL ORG SAMPLES VKEY
 *     SAMPLES events drawn at random among the N (ids read beforehand, not
 *     timed); for each, in alternating order, GET /api/v1/audit/events/{id}/proof
 *     over one keep-alive HTTP connection (libcurl) and the raw SELECT of the
 *     same event by its id over one libpq connection (PQexecParams, the
 *     whole row: WHERE "timestamp" = <the id's instant> AND event_id = <id>,
 *     the lookup the audit_log_event_id_idx index serves); p50/p99 of both
 *     and their ratios. Every receipt is verified offline (signature, origin,
 *     entry = the event's id, inclusion proof) with VKEY.
 */
#define BENCH_NAME "bench_receipts"
#include "bench_util.h"

#include "event/event_id.h"
#include "log/receipt.h"
#include "log/tiles.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/sha.h>

/* ---- load --------------------------------------------------------------------- */

typedef struct copybuf {
    PGconn *c;
    char *b;
    size_t len, cap;
} copybuf;

static void cb_flush(copybuf *cb)
{
    if (cb->len && PQputCopyData(cb->c, cb->b, (int)cb->len) != 1)
        die("COPY", PQerrorMessage(cb->c));
    cb->len = 0;
}

static void cb_put(copybuf *cb, const char *s, size_t n)
{
    if (cb->len + n > cb->cap) {
        cb_flush(cb);
        if (n > cb->cap) {
            cb->cap = n * 2;
            if (!(cb->b = realloc(cb->b, cb->cap)))
                die("COPY", "out of memory");
        }
    }
    memcpy(cb->b + cb->len, s, n);
    cb->len += n;
}

static void cb_puts(copybuf *cb, const char *s)
{
    cb_put(cb, s, strlen(s));
}

/* bytes as COPY text's bytea: \\x followed by hex */
static void cb_bytea(copybuf *cb, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char tmp[2 * 256 * 48 + 4];
    size_t o = 0;
    tmp[o++] = '\\';
    tmp[o++] = '\\';
    tmp[o++] = 'x';
    for (size_t i = 0; i < n; i++) {
        tmp[o++] = hx[p[i] >> 4];
        tmp[o++] = hx[p[i] & 15];
    }
    cb_put(cb, tmp, o);
}

static void cb_begin(copybuf *cb, PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(sql, PQerrorMessage(c));
    PQclear(r);
    cb->c = c;
    cb->cap = 1 << 20;
    cb->len = 0;
    if (!(cb->b = malloc(cb->cap)))
        die("COPY", "out of memory");
}

static void cb_end(copybuf *cb)
{
    cb_flush(cb);
    if (PQputCopyEnd(cb->c, NULL) != 1)
        die("COPY end", PQerrorMessage(cb->c));
    PGresult *r = PQgetResult(cb->c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("COPY", PQerrorMessage(cb->c));
    PQclear(r);
    while ((r = PQgetResult(cb->c)))
        PQclear(r);
    free(cb->b);
    cb->b = NULL;
}

/* A tile row (level, index, width hashes) or a bundle row (entries). */
static void put_tile(copybuf *cb, const char *org, unsigned level, uint64_t index,
                     const uint8_t *hashes, unsigned width)
{
    char head[128];
    snprintf(head, sizeof(head), "%s\t%u\t%" PRIu64 "\t%u\t", org, level, index, width);
    cb_puts(cb, head);
    cb_bytea(cb, hashes, (size_t)width * 32);
    cb_puts(cb, "\n");
}

static void put_bundle(copybuf *cb, const char *org, uint64_t index, const uint8_t *entries,
                       unsigned width)
{
    char head[128];
    snprintf(head, sizeof(head), "%s\t%" PRIu64 "\t%u\t", org, index, width);
    cb_puts(cb, head);
    cb_bytea(cb, entries, (size_t)width * 48);
    cb_puts(cb, "\n");
}

/* The root of 256 hashes (a full tile). */
static void tile_root(const uint8_t *hashes, uint8_t out[32])
{
    adb__mhash h[128];
    for (unsigned i = 0; i < 128; i++)
        adb__merkle_node_hash(hashes + (size_t)(2 * i) * 32, hashes + (size_t)(2 * i + 1) * 32, h[i]);
    for (unsigned n = 64; n >= 1; n /= 2)
        for (unsigned i = 0; i < n; i++)
            adb__merkle_node_hash(h[2 * i], h[2 * i + 1], h[i]);
    memcpy(out, h[0], 32);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool uuid_raw(const char *s, uint8_t out[16])
{
    size_t o = 0;
    for (; *s && o < 32; s++) {
        if (*s == '-')
            continue;
        int v = (*s >= '0' && *s <= '9') ? *s - '0' : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (o % 2 == 0)
            out[o / 2] = (uint8_t)(v << 4);
        else
            out[o / 2] |= (uint8_t)v;
        o++;
    }
    return o == 32;
}

static PGconn *conn(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    return c;
}

static int load(const char *url, const char *org, uint64_t n)
{
    PGconn *c = conn(url), *t = conn(url);
    copybuf rows, tiles;
    /* timestamps: 2026-11-01 onwards, 100 us apart (10M events: 17 minutes) */
    const int64_t t0_us = 1793491200LL * 1000000;
    double started = now_ms();
    uint8_t *hashes0 = malloc(256 * 32), *ents = malloc(256 * 48);
    uint64_t nup = n / 256 + 1, nfull = 0;
    uint8_t (*up)[32] = malloc(nup * 32); /* roots of full level-0 tiles: level-1 hashes */
    char last_hash[65] = "";

    if (!hashes0 || !ents || !up)
        die("load", "out of memory");
    exec_ok(c, "SET synchronous_commit = off");
    exec_ok(t, "SET synchronous_commit = off");
    exec_ok(c, "SELECT auditdb_ensure_partition('2026-11-01'::date)");
    /* positions are recorded below as one range, like the writer does */
    exec_ok(c, "SET auditdb.writer_takes_positions = 'on'");
    exec_ok(c, "BEGIN");
    exec_ok(t, "BEGIN");
    cb_begin(&rows, c, "COPY audit_log (id, \"timestamp\", principal_id, organization_id, action,"
                       " target_resource_type, target_resource_id, status, hash, hash_algorithm,"
                       " event_version, chain_seq, prev_chain_hash, chain_hash, event_id, details)"
                       " FROM STDIN");
    cb_begin(&tiles, t, "COPY audit_tree_tile (organization_id, level, index, width, hashes)"
                        " FROM STDIN");
    PGconn *b = conn(url);
    copybuf bundles;
    exec_ok(b, "SET synchronous_commit = off");
    exec_ok(b, "BEGIN");
    cb_begin(&bundles, b, "COPY audit_tree_bundle (organization_id, index, width, entries)"
                          " FROM STDIN");
    for (uint64_t i = 0; i < n; i++) {
        int64_t ts_us = t0_us + (int64_t)i * 100;
        char id[ADB_EVENT_ID_LEN + 1], ts[96], line[1024], hh[65], prev[65];
        uint8_t content[32], entry[48], seed[8];
        time_t sec = (time_t)(ts_us / 1000000);
        struct tm tm;

        if (!adb__event_id_new(ts_us, id))
            die("load", "event id");
        for (int k = 0; k < 8; k++)
            seed[k] = (uint8_t)(i >> (8 * k));
        SHA256(seed, 8, content);
        hex(content, 32, hh);
        gmtime_r(&sec, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ts_us % 1000000));
        snprintf(prev, sizeof(prev), "%s", last_hash[0] ? last_hash : "\\N");
        /* a chain hash that is not computed: SHA-256 of the content hash's bytes */
        uint8_t ch[32];
        SHA256(content, 32, ch);
        hex(ch, 32, last_hash);
        snprintf(line, sizeof(line),
                 "%" PRIu64 "\t%s\tuser-%" PRIu64 "\t%s\tdocument.read\tdocument\tdoc-%" PRIu64
                 "\tsuccess\t%s\tSHA-256\t1.0\t%" PRIu64 "\t%s\t%s\t%s\t{\"n\": %" PRIu64 "}\n",
                 i + 1, ts, i % 5000, org, i % 100000, hh, i + 1, prev, last_hash, id, i);
        cb_puts(&rows, line);
        if (!uuid_raw(id, entry))
            die("load", "uuid");
        memcpy(entry + 16, content, 32);
        unsigned k = (unsigned)(i % 256);
        memcpy(ents + (size_t)k * 48, entry, 48);
        adb__merkle_leaf_hash(entry, 48, hashes0 + (size_t)k * 32);
        if (k == 255) {
            put_tile(&tiles, org, 0, i / 256, hashes0, 256);
            put_bundle(&bundles, org, i / 256, ents, 256);
            tile_root(hashes0, up[nfull++]);
        }
        if (i && i % 1000000 == 0)
            fprintf(stderr, "  %" PRIu64 " rows, %.0f s\n", i, (now_ms() - started) / 1000);
    }
    if (n % 256) {
        put_tile(&tiles, org, 0, n / 256, hashes0, (unsigned)(n % 256));
        put_bundle(&bundles, org, n / 256, ents, (unsigned)(n % 256));
    }
    /* the levels above: level L's hashes are the roots of level L-1's full tiles */
    for (unsigned level = 1; nfull > 0; level++) {
        uint64_t next = 0;
        for (uint64_t j = 0; j * 256 < nfull; j++) {
            unsigned w = nfull - j * 256 >= 256 ? 256 : (unsigned)(nfull - j * 256);
            put_tile(&tiles, org, level, j, up[j * 256], w);
            if (w == 256)
                tile_root(up[j * 256], up[next++]);
        }
        nfull = next;
    }
    cb_end(&rows);
    cb_end(&tiles);
    cb_end(&bundles);
    exec_ok(b, "COMMIT");
    exec_ok(t, "COMMIT");
    double copied = now_ms();

    /* the root from the stored tiles, through the library's tile reader */
    uint8_t root[32];
    adb__tile_reader *rd = adb__tile_reader_new(t, org);
    if (!rd || adb__merkle_root_from(adb__tile_reader_get, rd, n, root) != ADB_OK)
        die("root", adb__tile_reader_error(rd));
    adb__tile_reader_done(rd);
    char nn[24];
    snprintf(nn, sizeof(nn), "%" PRIu64, n);
    const char *p[] = { org, nn, last_hash };
    const char *sqls[] = {
        "INSERT INTO audit_chain_head (organization_id, last_seq, last_chain_hash)"
        " VALUES ($1, $2::bigint, $3)",
        "INSERT INTO audit_chain_position (organization_id, first_seq, last_seq, last_chain_hash)"
        " VALUES ($1, 1, $2::bigint, $3)",
    };
    for (int i = 0; i < 2; i++) {
        PGresult *r = PQexecParams(c, sqls[i], 3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die(sqls[i], PQerrorMessage(c));
        PQclear(r);
    }
    const char *pv[] = { org, nn, (const char *)root };
    int lens[] = { 0, 0, 32 }, fmts[] = { 0, 0, 1 };
    PGresult *r = PQexecParams(c, "INSERT INTO audit_tree (organization_id, size, root, backfill_to)"
                                  " VALUES ($1, $2::bigint, $3, $2::bigint)",
                               3, NULL, pv, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("tree head", PQerrorMessage(c));
    PQclear(r);
    exec_ok(c, "COMMIT");
    exec_ok(c, "ANALYZE audit_log");
    exec_ok(c, "ANALYZE audit_tree_tile");
    exec_ok(c, "ANALYZE audit_tree_bundle");
    char rh[65];
    hex(root, 32, rh);
    printf("loaded %" PRIu64 " events of %s: COPY of rows, tiles and bundles %.1f s (%.0f rows/s),"
           " root and heads %.1f s; root %s\n",
           n, org, (copied - started) / 1000, (double)n / ((copied - started) / 1000),
           (now_ms() - copied) / 1000, rh);
    free(hashes0);
    free(ents);
    free(up);
    PQfinish(b);
    PQfinish(t);
    PQfinish(c);
    return 0;
}

/* ---- run ------------------------------------------------------------------------- */

typedef struct body {
    char *b;
    size_t len, cap;
} body;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    body *b = ud;
    size_t n = sz * nm;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        if (!(b->b = realloc(b->b, b->cap)))
            return 0;
    }
    memcpy(b->b + b->len, p, n);
    b->len += n;
    b->b[b->len] = '\0';
    return n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* One GET, its milliseconds; dies unless 200. */
static double get_ms(CURL *h, const char *u, body *bd)
{
    long code = 0;
    curl_easy_setopt(h, CURLOPT_URL, u);
    bd->len = 0;
    double a = now_ms();
    CURLcode cc = curl_easy_perform(h);
    double z = now_ms();
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK || code != 200)
        die(u, cc != CURLE_OK ? curl_easy_strerror(cc) : "not 200");
    return z - a;
}

static int run(const char *base, const char *key, const char *url, const char *org, long samples,
               const char *vkey)
{
    PGconn *c = conn(url);
    char err[512];
    adb__note_verifier lv;
    if (adb__note_vkey_parse(vkey, &lv, err, sizeof(err)) != ADB_OK)
        die("vkey", err);
    adb__receipt_policy pol = { .log = &lv, .org = org };
    adb__receipt_verifier *ver = adb__receipt_verifier_new(&pol, 16);

    /* the organization's size, then SAMPLES random events' ids and instants */
    const char *po[] = { org };
    PGresult *r = PQexecParams(c, "SELECT size FROM audit_tree WHERE organization_id = $1", 1,
                               NULL, po, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die("size", PQerrorMessage(c));
    uint64_t n = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    char (*ids)[37] = malloc((size_t)samples * 37), (*tss)[40] = malloc((size_t)samples * 40);
    uint64_t *seqs = malloc((size_t)samples * sizeof(*seqs));
    srand((unsigned)time(NULL));
    for (long i = 0; i < samples; i++) {
        uint64_t s = 1 + (((uint64_t)rand() << 31) ^ (uint64_t)rand()) % n;
        char sq[24];
        snprintf(sq, sizeof(sq), "%" PRIu64, s);
        const char *pp[] = { org, sq };
        r = PQexecParams(c, "SELECT event_id, \"timestamp\" FROM audit_log"
                            " WHERE organization_id = $1 AND chain_seq = $2::bigint",
                         2, NULL, pp, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            die("sample", PQerrorMessage(c));
        snprintf(ids[i], 37, "%s", PQgetvalue(r, 0, 0));
        snprintf(tss[i], 40, "%s", PQgetvalue(r, 0, 1));
        seqs[i] = s;
        PQclear(r);
    }

    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    char auth[512], u[1024];
    body bd = { 0 };
    snprintf(auth, sizeof(auth), "x-api-key: %s", key);
    hd = curl_slist_append(hd, auth);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &bd);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    double *th = malloc((size_t)samples * sizeof(double)), *ts = malloc((size_t)samples * sizeof(double));
    double *te = malloc((size_t)samples * sizeof(double)), *tl = malloc((size_t)samples * sizeof(double));
    long warm = samples / 20 + 1;

    for (long pass = 0; pass < 2; pass++) { /* a warm-up pass of 5 %, then the measured one */
        long m = pass == 0 ? warm : samples;
        for (long i = 0; i < m; i++) {
            double a, z, hms = 0, sms = 0;
            for (int order = 0; order < 2; order++) {
                bool http_now = ((i + order) % 2) == 0;
                if (http_now) {
                    snprintf(u, sizeof(u), "%s/api/v1/audit/events/%s/proof", base, ids[i]);
                    curl_easy_setopt(h, CURLOPT_URL, u);
                    bd.len = 0;
                    a = now_ms();
                    CURLcode cc = curl_easy_perform(h);
                    z = now_ms();
                    long code = 0;
                    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
                    if (cc != CURLE_OK || code != 200) {
                        fprintf(stderr, "%s -> %ld %s\n", u, code, bd.b ? bd.b : "");
                        die("GET proof", curl_easy_strerror(cc));
                    }
                    hms = z - a;
                    adb__receipt_result res;
                    if (adb__receipt_verify(ver, bd.b, bd.len, &res, err, sizeof(err)) != ADB_OK)
                        die("receipt", err);
                    if (strcmp(res.event_id, ids[i]) || res.index != seqs[i] - 1)
                        die("receipt", "names another event");
                } else {
                    const char *pp[] = { tss[i], ids[i] };
                    a = now_ms();
                    r = PQexecParams(c, "SELECT * FROM audit_log WHERE \"timestamp\" = $1"
                                        " AND event_id = $2::uuid",
                                     2, NULL, pp, NULL, NULL, 0);
                    z = now_ms();
                    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                        die("SELECT", PQerrorMessage(c));
                    PQclear(r);
                    sms = z - a;
                }
            }
            /* the references of the HTTP side: the event itself, and /live */
            double ems, lms;
            snprintf(u, sizeof(u), "%s/api/v1/audit/events/%s", base, ids[i]);
            ems = get_ms(h, u, &bd);
            snprintf(u, sizeof(u), "%s/live", base);
            lms = get_ms(h, u, &bd);
            if (pass == 1) {
                th[i] = hms;
                ts[i] = sms;
                te[i] = ems;
                tl[i] = lms;
            }
        }
    }
    qsort(th, (size_t)samples, sizeof(double), cmp_d);
    qsort(te, (size_t)samples, sizeof(double), cmp_d);
    qsort(tl, (size_t)samples, sizeof(double), cmp_d);
    qsort(ts, (size_t)samples, sizeof(double), cmp_d);
    double h50 = pct(th, (size_t)samples, 0.5), h99 = pct(th, (size_t)samples, 0.99);
    double s50 = pct(ts, (size_t)samples, 0.5), s99 = pct(ts, (size_t)samples, 0.99);
    printf("receipts of %s (%" PRIu64 " events), %ld random events, one connection each,"
           " alternating order; every receipt verified offline\n", org, n, samples);
    printf("  raw SELECT of the event by its id (libpq)   p50 %7.3f ms   p99 %7.3f ms\n", s50, s99);
    printf("  GET .../events/{id}/proof (HTTP)            p50 %7.3f ms   p99 %7.3f ms\n", h50, h99);
    printf("  (HTTP floor) GET /live                      p50 %7.3f ms   p99 %7.3f ms\n",
           pct(tl, (size_t)samples, 0.5), pct(tl, (size_t)samples, 0.99));
    printf("  (HTTP) GET .../events/{id}, the event       p50 %7.3f ms   p99 %7.3f ms\n",
           pct(te, (size_t)samples, 0.5), pct(te, (size_t)samples, 0.99));
    printf("  ratio receipt/SELECT                        p50 %7.2f      p99 %7.2f   goal p99 <= 2: %s\n",
           h50 / s50, h99 / s99, h99 / s99 <= 2.0 ? "met" : "NOT met");
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    adb__receipt_verifier_free(ver);
    free(bd.b);
    free(th);
    free(te);
    free(tl);
    free(ts);
    free(ids);
    free(tss);
    free(seqs);
    PQfinish(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "load"))
        return load(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    if (argc == 8 && !strcmp(argv[1], "run"))
        return run(argv[2], argv[3], argv[4], argv[5], strtol(argv[6], NULL, 10), argv[7]);
    fprintf(stderr, "usage: bench_receipts load DBURL ORG N\n"
                    "       bench_receipts run BASE KEY DBURL ORG SAMPLES VKEY\n");
    return 2;
}
