/*
 * export_worker.c - writes queued exports (export_worker.h). Memory stays
 * constant whatever the export's size: FETCH_ROWS rows at a time from the
 * cursor, and at most one chunk of output (plus zlib's window) in memory.
 */
#include "export_worker.h"
#include "event_filter.h"
#include "export_format.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define FETCH_ROWS 250
#define POLL_MS 1000
#define EXPIRE_EVERY_MS 60000.0

struct adb_http_exports {
    adb *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken;
    atomic_bool stopping;
    pthread_cond_t done_cv;   /* a job ended: its id in done */
    char done[64];
    unsigned long done_count;
};

/* One job being written. */
typedef struct job {
    adb *db;
    char id[64], org[256], err[256];
    bool gzip;
    z_stream z;
    bool z_open;
    EVP_MD_CTX *sha;
    adb__buf chunk;        /* output not yet written */
    int seq;
    long long bytes;
    adb_http_fmt fmt;
    bool cancelled;
    atomic_bool *stopping;  /* the server stops: leave the job to be taken over */
} job;

/* ---- output: compression, checksum, chunks ------------------------------ */

/* Writes the chunk held as the next one, with the progress, in one tenant
 * transaction; learns whether the job was cancelled meanwhile. */
static bool write_chunk(job *j, long long records)
{
    adb_status st;
    PGconn *c = adb_tenant_begin(j->db, j->org, &st, NULL, 0);
    char seq[16], recs[24], bytes[24];

    if (!c) {
        adb__fmt(j->err, sizeof(j->err), "could not write the export: database unavailable");
        return false;
    }
    adb__fmt(seq, sizeof(seq), "%d", j->seq);
    adb__fmt(recs, sizeof(recs), "%lld", records);
    adb__fmt(bytes, sizeof(bytes), "%lld", j->bytes + (long long)j->chunk.len);
    const char *p[] = { j->id, seq, j->org, j->chunk.p ? j->chunk.p : "" };
    int lens[] = { 0, 0, 0, (int)j->chunk.len };
    int fmts[] = { 0, 0, 0, 1 };
    PGresult *r = PQexecParams(c, "INSERT INTO audit_export_chunk (export_id, seq, organization_id, data)"
                                  " VALUES ($1, $2::int, $3, $4::bytea)", 4, NULL, p, lens, fmts, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        const char *u[] = { j->id, recs, bytes, seq };
        r = PQexecParams(c, "UPDATE audit_export SET record_count = $2::bigint, data_size = $3::bigint,"
                            " chunk_count = $4::int + 1, heartbeat_at = now() WHERE id = $1"
                            " RETURNING cancel_requested", 4, NULL, u, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        j->cancelled = ok && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    adb_tenant_end(j->db, c, ok);
    if (!ok) {
        adb__fmt(j->err, sizeof(j->err), "could not write the export's chunk %d", j->seq);
        return false;
    }
    EVP_DigestUpdate(j->sha, j->chunk.p, j->chunk.len);
    j->bytes += (long long)j->chunk.len;
    j->seq++;
    j->chunk.len = 0;
    return true;
}

/* Adds n bytes of the file's text: compressed when asked, into the chunk;
 * a full chunk is written. finish: the end of the file. */
static bool emit(job *j, const char *s, size_t n, bool finish, long long records)
{
    if (!j->gzip) {
        adb__buf_put(&j->chunk, s, n);
    } else {
        j->z.next_in = (Bytef *)s;
        j->z.avail_in = (uInt)n;
        int zr;
        do {
            char *room = adb__buf_room(&j->chunk, 64 * 1024);
            if (!room)
                break;
            j->z.next_out = (Bytef *)room;
            j->z.avail_out = 64 * 1024;
            zr = deflate(&j->z, finish ? Z_FINISH : Z_NO_FLUSH);
            j->chunk.len += 64 * 1024 - j->z.avail_out;
            j->chunk.p[j->chunk.len] = '\0';
        } while (zr != Z_STREAM_END && (j->z.avail_out == 0 || (finish && zr == Z_OK)));
    }
    if (j->chunk.oom) {
        adb__fmt(j->err, sizeof(j->err), "out of memory");
        return false;
    }
    if (j->chunk.len >= ADB_EXPORT_CHUNK_BYTES || (finish && (j->chunk.len > 0 || j->seq == 0)))
        return write_chunk(j, records);
    return true;
}

/* ---- the job -------------------------------------------------------------- */

/* Sets the job's end state on the owner's connection: the state, and for a
 * file not completed, its chunks removed. */
static void finish_job(adb *db, const char *id, const char *state, const char *error,
                       const char *checksum, long long records, long long bytes, int chunks)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, NULL, 0);
    char recs[24], by[24], ch[16], ttl[16];

    if (!c)
        return; /* stays processing: taken over once stale */
    adb__fmt(recs, sizeof(recs), "%lld", records);
    adb__fmt(by, sizeof(by), "%lld", bytes);
    adb__fmt(ch, sizeof(ch), "%d", chunks);
    adb__fmt(ttl, sizeof(ttl), "%d", ADB_EXPORT_TTL_S);
    const char *p[] = { id, state, error, checksum, recs, by, ch, ttl };
    if (strcmp(state, "completed") != 0)
        PQclear(PQexecParams(c, "DELETE FROM audit_export_chunk WHERE export_id = $1", 1, NULL, p,
                             NULL, NULL, 0));
    PQclear(PQexecParams(c, "UPDATE audit_export SET state = $2, error = $3, checksum = $4,"
                            " record_count = $5::bigint, data_size = $6::bigint, chunk_count = $7::int,"
                            " finished_at = now(), heartbeat_at = now(),"
                            " expires_at = CASE WHEN $2 = 'completed'"
                            " THEN now() + make_interval(secs => $8::int) END WHERE id = $1",
                         8, NULL, p, NULL, NULL, 0));
    adb_pool_release(adb__pool(db), c);
}

/* Writes the export described by one claimed row (id, organization_id,
 * format, compression, options, filter). */
static void run_job(adb *db, PGresult *row, atomic_bool *stopping)
{
    job j;
    adb_http_filter f;
    adb_http_filter_error fe;
    adb_status st;
    json_t *opts = json_loads(PQgetvalue(row, 0, 4), 0, NULL);
    json_t *filter = json_loads(PQgetvalue(row, 0, 5), 0, NULL);
    PGconn *c = NULL;
    bool ok = false;

    memset(&j, 0, sizeof(j));
    j.db = db;
    j.stopping = stopping;
    adb__fmt(j.id, sizeof(j.id), "%s", PQgetvalue(row, 0, 0));
    adb__fmt(j.org, sizeof(j.org), "%s", PQgetvalue(row, 0, 1));
    adb_http_fmt_parse(PQgetvalue(row, 0, 2), &j.fmt.kind);
    j.gzip = !strcmp(PQgetvalue(row, 0, 3), "gzip");
    j.fmt.metadata = !json_is_false(json_object_get(opts, "includeMetadata"));
    j.fmt.headers = !json_is_false(json_object_get(opts, "includeHeaders"));
    j.fmt.fields = json_incref(json_object_get(opts, "customFields"));
    adb__fmt(j.fmt.title, sizeof(j.fmt.title), "%s", j.id);
    adb_http_filter_init(&f);
    j.sha = EVP_MD_CTX_new();
    if (!j.sha || !EVP_DigestInit_ex(j.sha, EVP_sha256(), NULL) ||
        !adb_http_filter_from_json(&f, filter, "filter", j.org, &fe)) {
        adb__fmt(j.err, sizeof(j.err), "the export's stored request could not be read");
        goto out;
    }
    if (j.gzip) {
        if (deflateInit2(&j.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            adb__fmt(j.err, sizeof(j.err), "could not start compression");
            goto out;
        }
        j.z_open = true;
    }
    /* a job taken over from a stopped worker starts again from nothing */
    PGconn *oc = adb_pool_acquire(adb__pool(db), &st, NULL, 0);
    if (oc) {
        const char *ip[] = { j.id };
        PQclear(PQexecParams(oc, "DELETE FROM audit_export_chunk WHERE export_id = $1", 1, NULL, ip,
                             NULL, NULL, 0));
        adb_pool_release(adb__pool(db), oc);
    }

    /* one snapshot: the cursor's, for the whole file */
    adb_http_sql q = { .n = 0 };
    adb__buf_puts(&q.text, "DECLARE export_rows NO SCROLL CURSOR FOR SELECT " ADB_EXPORT_COLUMNS
                           " FROM audit_log WHERE organization_id = $1");
    adb_http_sql_param(&q, j.org);
    adb_http_filter_where(&f, &q);
    adb__buf_puts(&q.text, " ORDER BY \"timestamp\", id");
    if (!(c = adb_tenant_begin(db, j.org, &st, NULL, 0))) {
        adb_http_sql_free(&q);
        adb__fmt(j.err, sizeof(j.err), "the database is unavailable");
        goto out;
    }
    PGresult *r = PQexecParams(c, q.text.p, q.n, NULL, (const char *const *)q.param, NULL, NULL, 0);
    adb_http_sql_free(&q);
    bool declared = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!declared) {
        adb__fmt(j.err, sizeof(j.err), "could not read the events");
        goto out;
    }
    adb__buf text = { 0 };
    adb_http_fmt_begin(&j.fmt, &text);
    for (;;) {
        r = PQexec(c, "FETCH 250 FROM export_rows") /* FETCH_ROWS */;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            adb__fmt(j.err, sizeof(j.err), "could not read the events");
            adb__buf_free(&text);
            goto out;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++)
            adb_http_fmt_event(&j.fmt, r, i, &text);
        PQclear(r);
        if (rows < FETCH_ROWS)
            adb_http_fmt_end(&j.fmt, &text);
        if (text.oom) {
            adb__fmt(j.err, sizeof(j.err), "out of memory");
            adb__buf_free(&text);
            goto out;
        }
        bool more = emit(&j, text.p ? text.p : "", text.len, rows < FETCH_ROWS, j.fmt.count);
        text.len = 0;
        if (!more || j.cancelled || rows < FETCH_ROWS)
            break;
        if (atomic_load(j.stopping)) { /* stays processing; another run takes it over */
            adb__buf_free(&text);
            if (c)
                adb_tenant_end(db, c, false);
            if (j.z_open)
                deflateEnd(&j.z);
            EVP_MD_CTX_free(j.sha);
            adb__buf_free(&j.chunk);
            json_decref(j.fmt.fields);
            json_decref(opts);
            json_decref(filter);
            adb_http_filter_free(&f);
            return;
        }
    }
    adb__buf_free(&text);
    ok = !j.err[0] && !j.cancelled;
out:
    if (c)
        adb_tenant_end(db, c, false);
    if (j.z_open)
        deflateEnd(&j.z);
    if (ok) {
        unsigned char md[32];
        unsigned int mdlen = 0;
        char hex[65];
        EVP_DigestFinal_ex(j.sha, md, &mdlen);
        adb__hex(md, 32, hex);
        finish_job(db, j.id, "completed", NULL, hex, j.fmt.count, j.bytes, j.seq);
    } else if (j.cancelled) {
        finish_job(db, j.id, "cancelled", "cancelled while it was being written", NULL,
                   j.fmt.count, 0, 0);
    } else {
        finish_job(db, j.id, "failed", j.err[0] ? j.err : "failed", NULL, j.fmt.count, 0, 0);
    }
    EVP_MD_CTX_free(j.sha);
    adb__buf_free(&j.chunk);
    json_decref(j.fmt.fields);
    json_decref(opts);
    json_decref(filter);
    adb_http_filter_free(&f);
}

/* Claims the oldest job to write, or one whose worker went silent. */
static PGresult *claim(adb *db)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, NULL, 0);
    char stale[16];

    if (!c)
        return NULL;
    adb__fmt(stale, sizeof(stale), "%d", ADB_EXPORT_STALE_S);
    const char *p[] = { stale };
    PGresult *r = PQexecParams(
        c, "UPDATE audit_export SET state = 'processing', started_at = now(), heartbeat_at = now()"
           " WHERE id = (SELECT id FROM audit_export WHERE NOT cancel_requested AND (state = 'pending'"
           " OR (state = 'processing' AND heartbeat_at < now() - make_interval(secs => $1::int)))"
           " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
           " RETURNING id, organization_id, format, compression, options::text, filter::text",
        1, NULL, p, NULL, NULL, 0);
    adb_pool_release(adb__pool(db), c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Completed files past their time are deleted; the ledger row stays. A job
 * cancelled while its worker was gone is ended too. */
static void expire(adb *db)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, NULL, 0);
    if (!c)
        return;
    PQclear(PQexec(c, "WITH gone AS (UPDATE audit_export SET state = 'expired', chunk_count = 0"
                      " WHERE state = 'completed' AND expires_at < now() RETURNING id)"
                      " DELETE FROM audit_export_chunk WHERE export_id IN (SELECT id FROM gone)"));
    /* a cancelled file whose discard failed (export.c) */
    PQclear(PQexec(c, "DELETE FROM audit_export_chunk WHERE export_id IN (SELECT id FROM audit_export"
                      " WHERE state IN ('cancelled', 'failed'))"));
    adb_pool_release(adb__pool(db), c);
}

static void *worker_main(void *arg)
{
    adb_http_exports *x = arg;
    double expired_at = 0;

    pthread_setname_np(pthread_self(), "adb-export");
    for (;;) {
        pthread_mutex_lock(&x->mu);
        bool stop = atomic_load(&x->stopping);
        x->woken = false;
        pthread_mutex_unlock(&x->mu);
        if (stop)
            return NULL;
        if (adb__now_ms() - expired_at > EXPIRE_EVERY_MS) {
            expire(x->db);
            expired_at = adb__now_ms();
        }
        PGresult *row = claim(x->db);
        if (row) {
            run_job(x->db, row, &x->stopping);
            pthread_mutex_lock(&x->mu);
            adb__fmt(x->done, sizeof(x->done), "%s", PQgetvalue(row, 0, 0));
            x->done_count++;
            pthread_cond_broadcast(&x->done_cv);
            pthread_mutex_unlock(&x->mu);
            PQclear(row);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&x->mu);
        while (!x->woken && !atomic_load(&x->stopping))
            if (pthread_cond_timedwait(&x->cv, &x->mu, &ts) != 0)
                break;
        pthread_mutex_unlock(&x->mu);
    }
}

adb_http_exports *adb_http_exports_start(adb *db)
{
    adb_http_exports *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->db = db;
    atomic_init(&x->stopping, false);
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    pthread_cond_init(&x->done_cv, NULL);
    if (pthread_create(&x->thread, NULL, worker_main, x) != 0) {
        pthread_mutex_destroy(&x->mu);
        pthread_cond_destroy(&x->cv);
        pthread_cond_destroy(&x->done_cv);
        free(x);
        return NULL;
    }
    return x;
}

void adb_http_exports_wake(adb_http_exports *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->woken = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

bool adb_http_exports_wait(adb_http_exports *x, const char *id, int ms)
{
    struct timespec ts;
    bool done = false;

    if (!x)
        return false;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&x->mu);
    while (!(done = !strcmp(x->done, id)) && !atomic_load(&x->stopping))
        if (pthread_cond_timedwait(&x->done_cv, &x->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&x->mu);
    return done;
}

void adb_http_exports_stop(adb_http_exports *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    atomic_store(&x->stopping, true);
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    pthread_cond_destroy(&x->done_cv);
    free(x);
}
