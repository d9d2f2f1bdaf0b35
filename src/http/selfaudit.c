/*
 * selfaudit.c - the security tables, written in batches by one thread.
 */
#include "selfaudit.h"
#include "authchain.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../core/digest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX 20000
#define FLUSH_MS 200
#define BAD_KEY_THRESHOLD 10     /* failed authentications from one address ... */
#define BAD_KEY_WINDOW_MS 60000  /* ... within this window raise a security event */
#define RATE_ABUSE_THRESHOLD 20  /* rate-limit refusals of one key per minute */
#define DETECT_SLOTS 256
#define RATE_SLOTS 1024          /* keys refused between two flushes, at most */
#define RATE_WINDOW_S 60         /* a rate_limit_violations row: one key, one minute */

typedef enum { SA_ACCESS, SA_AUTH, SA_SECURITY } sa_kind;

typedef struct rec {
    sa_kind kind;
    char ts[40];
    char org[64], key_id[24], request_id[65], ip[46], ua[256];
    char method[10], path[256], error_code[51], body_hash[65];
    int status, ms, bytes;
    int resp_bytes;  /* access: the response body's size */
    char type[51], sev[10], text[256];   /* auth: event_status in sev, reason in text */
} rec;

/*
 * Rate-limit refusals are counted here, not queued one by one: a client
 * hammering a limit gets thousands of 429s a second, and each used to be a
 * row. A slot counts the refusals of one key in one window (UTC minute) not
 * yet written; the flush adds them to that key's row for that window
 * (INSERT ... ON CONFLICT DO UPDATE), so each key has one row per window
 * whatever the number of flushes or instances. The table is emptied whole at
 * each flush, which keeps open addressing without tombstones correct.
 */
typedef struct rate_agg {
    char org[64], key_id[24], ip[46], method[10], path[256];
    char first_ts[40];        /* the window's first refusal seen here */
    long long window_start;   /* Unix seconds, a multiple of RATE_WINDOW_S */
    int limit;
    int count;                /* refusals not written yet; 0: slot free */
} rate_agg;

typedef struct detect {
    char who[64];
    double window_start;
    int count;
    bool raised;
} detect;

struct adb_selfaudit {
    adb *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rec *q;
    size_t head, n;
    bool stop;
    pthread_t th;
    long long dropped;
    detect bad_keys[DETECT_SLOTS];
    detect rate_abuse[DETECT_SLOTS];
    rate_agg *rate;           /* RATE_SLOTS */
    size_t nrate;             /* slots in use */
};

static void now_text(char out[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void cp(char *dst, size_t len, const char *src)
{
    adb__fmt(dst, len, "%s", src ? src : "");
}

static void push(adb_selfaudit *sa, const rec *r)
{
    pthread_mutex_lock(&sa->mu);
    if (sa->n >= QUEUE_MAX) {
        sa->dropped++;
    } else {
        sa->q[(sa->head + sa->n) % QUEUE_MAX] = *r;
        sa->n++;
        if (sa->n == 1)
            pthread_cond_signal(&sa->cv);
    }
    pthread_mutex_unlock(&sa->mu);
}

/* Counts an occurrence for who in a window; true once when it crosses threshold. */
static bool detect_hit(detect *slots, const char *who, int threshold, double window_ms)
{
    unsigned h = 2166136261u;
    double now = adb__now_ms();
    for (const char *p = who; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    detect *d = &slots[h % DETECT_SLOTS];
    if (strcmp(d->who, who) != 0 || now - d->window_start > window_ms) {
        cp(d->who, sizeof(d->who), who);
        d->window_start = now;
        d->count = 0;
        d->raised = false;
    }
    d->count++;
    if (d->count >= threshold && !d->raised) {
        d->raised = true;
        return true;
    }
    return false;
}

void adb_selfaudit_access(adb_selfaudit *sa, const adb_sa_access *a)
{
    rec r;
    memset(&r, 0, sizeof(r));
    r.kind = SA_ACCESS;
    now_text(r.ts);
    cp(r.org, sizeof(r.org), a->org);
    cp(r.key_id, sizeof(r.key_id), a->key_id);
    cp(r.request_id, sizeof(r.request_id), a->request_id);
    cp(r.method, sizeof(r.method), a->method);
    cp(r.path, sizeof(r.path), a->path);
    cp(r.ip, sizeof(r.ip), a->ip);
    cp(r.ua, sizeof(r.ua), a->user_agent);
    cp(r.error_code, sizeof(r.error_code), a->error_code);
    if (a->body && a->body_end > a->body)
        adb__sha256_hex(a->body, (size_t)(a->body_end - a->body), r.body_hash);
    r.status = a->status;
    r.ms = a->ms;
    r.bytes = a->request_bytes;
    r.resp_bytes = a->response_bytes;
    push(sa, &r);
}

void adb_selfaudit_security(adb_selfaudit *sa, const char *type, const char *severity,
                            const char *org, const char *key_id, const char *ip,
                            const char *request_id, const char *description)
{
    rec r;
    memset(&r, 0, sizeof(r));
    r.kind = SA_SECURITY;
    now_text(r.ts);
    cp(r.type, sizeof(r.type), type);
    cp(r.sev, sizeof(r.sev), severity);
    cp(r.org, sizeof(r.org), org);
    cp(r.key_id, sizeof(r.key_id), key_id);
    cp(r.ip, sizeof(r.ip), ip);
    cp(r.request_id, sizeof(r.request_id), request_id);
    cp(r.text, sizeof(r.text), description);
    push(sa, &r);
}

void adb_selfaudit_auth(adb_selfaudit *sa, bool ok, const char *org, const char *key_id,
                        const char *ip, const char *user_agent, const char *request_id,
                        const char *failure_reason)
{
    rec r;
    bool raise = false;

    memset(&r, 0, sizeof(r));
    r.kind = SA_AUTH;
    now_text(r.ts);
    cp(r.type, sizeof(r.type), "api_key_auth");
    cp(r.sev, sizeof(r.sev), ok ? "success" : "failure");
    cp(r.org, sizeof(r.org), org);
    cp(r.key_id, sizeof(r.key_id), key_id);
    cp(r.ip, sizeof(r.ip), ip);
    cp(r.ua, sizeof(r.ua), user_agent);
    cp(r.request_id, sizeof(r.request_id), request_id);
    cp(r.text, sizeof(r.text), failure_reason);
    push(sa, &r);
    if (!ok) {
        pthread_mutex_lock(&sa->mu);
        raise = detect_hit(sa->bad_keys, ip ? ip : "", BAD_KEY_THRESHOLD, BAD_KEY_WINDOW_MS);
        pthread_mutex_unlock(&sa->mu);
    }
    if (raise) {
        char desc[160];
        adb__fmt(desc, sizeof(desc), "%d failed API key authentications from %s within %d s",
                 BAD_KEY_THRESHOLD, ip ? ip : "?", BAD_KEY_WINDOW_MS / 1000);
        adb_selfaudit_security(sa, "repeated_auth_failure", "HIGH", NULL, key_id, ip, request_id, desc);
    }
}

void adb_selfaudit_rate(adb_selfaudit *sa, const char *org, const char *key_id, const char *ip,
                        const char *path, const char *method, int limit)
{
    struct timespec ts;
    char now[40];
    unsigned h = 2166136261u;
    bool placed = false, raise;

    clock_gettime(CLOCK_REALTIME, &ts);
    now_text(now);
    long long window = (long long)ts.tv_sec - (long long)ts.tv_sec % RATE_WINDOW_S;
    if (!key_id)
        key_id = "";
    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_mutex_lock(&sa->mu);
    for (unsigned i = 0; i < RATE_SLOTS && !placed; i++) {
        rate_agg *a = &sa->rate[(h + i) % RATE_SLOTS];
        if (a->count > 0 && (a->window_start != window || strcmp(a->key_id, key_id) != 0))
            continue;
        if (a->count == 0) {
            cp(a->org, sizeof(a->org), org);
            cp(a->key_id, sizeof(a->key_id), key_id);
            cp(a->ip, sizeof(a->ip), ip);
            cp(a->path, sizeof(a->path), path);
            cp(a->method, sizeof(a->method), method);
            cp(a->first_ts, sizeof(a->first_ts), now);
            a->window_start = window;
            a->limit = limit;
            if (sa->n == 0 && sa->nrate == 0)
                pthread_cond_signal(&sa->cv);
            sa->nrate++;
        }
        a->count++;
        placed = true;
    }
    if (!placed)
        sa->dropped++; /* RATE_SLOTS keys refused since the last flush */
    raise = detect_hit(sa->rate_abuse, key_id, RATE_ABUSE_THRESHOLD, 60000);
    pthread_mutex_unlock(&sa->mu);
    if (raise) {
        char desc[160];
        adb__fmt(desc, sizeof(desc), "key adb_%s refused %d times by the rate limit within a minute",
                 key_id, RATE_ABUSE_THRESHOLD);
        adb_selfaudit_security(sa, "rate_limit_abuse", "MEDIUM", org, key_id, ip, NULL, desc);
    }
}

long long adb_selfaudit_dropped(adb_selfaudit *sa)
{
    long long n;
    pthread_mutex_lock(&sa->mu);
    n = sa->dropped;
    pthread_mutex_unlock(&sa->mu);
    return n;
}

/* ---- writing ------------------------------------------------------------ */

/* A COPY text field ("" as NULL), then a tab or, when last, a newline. */
static void field(adb__buf *b, const char *s, bool last)
{
    adb__buf_copy_value(b, s && *s ? s : NULL);
    adb__buf_put(b, last ? "\n" : "\t", 1);
}

static void field_int(adb__buf *b, long long v, bool last)
{
    char n[32];
    adb__fmt(n, sizeof(n), "%lld", v);
    field(b, n, last);
}

static bool copy_rows(PGconn *c, const char *copy_sql, const adb__buf *b)
{
    PGresult *r = PQexec(c, copy_sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok)
        return false;
    ok = PQputCopyData(c, b->p, (int)b->len) == 1 && PQputCopyEnd(c, NULL) == 1;
    while ((r = PQgetResult(c)) != NULL) {
        ok &= PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    return ok;
}

/* auth_audit_log rows link to the previous row's blockchain_hash
 * (authchain.h); the chain is continued under an advisory lock so that
 * instances never fork it. */
static bool write_auth(adb_selfaudit *sa, PGconn *c, rec *rows, size_t n)
{
    char prev[65] = "", canon_hash[65], sig[65];
    adb__buf b = { 0 };
    PGresult *r;
    bool ok = false;

    PQclear(PQexec(c, "BEGIN"));
    PQclear(PQexec(c, "SELECT pg_advisory_xact_lock(27413180558893158)"));
    r = PQexec(c, "SELECT coalesce(blockchain_hash, '') FROM auth_audit_log ORDER BY id DESC LIMIT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        adb__fmt(prev, sizeof(prev), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!prev[0])
        memset(prev, '0', 64), prev[64] = '\0';
    for (size_t i = 0; i < n; i++) {
        rec *x = &rows[i];
        const char *fields[ADB_AUTHCHAIN_FIELDS] = { x->ts, x->org, x->key_id, x->type, x->sev,
                                                     x->ip, x->ua, x->request_id, x->text };
        if (!adb_authchain_hash(prev, fields, canon_hash))
            goto out;
        adb_sign_hex(sa->db, canon_hash, sig);
        field(&b, x->org, false);
        field(&b, x->key_id, false);
        field(&b, x->type, false);
        field(&b, x->sev, false);
        field(&b, x->ip, false);
        field(&b, x->ua, false);
        field(&b, x->request_id, false);
        field(&b, x->text, false);
        field(&b, x->ts, false);
        field(&b, prev, false);
        field(&b, canon_hash, false);
        field(&b, sig, true);
        memcpy(prev, canon_hash, 65);
    }
    ok = !b.oom && copy_rows(c, "COPY auth_audit_log (organization_id, api_key_id, event_type,"
                                " event_status, ip_address, user_agent, request_id, failure_reason,"
                                " created_at, previous_hash, blockchain_hash, signature) FROM STDIN", &b);
out:
    PQclear(PQexec(c, ok ? "COMMIT" : "ROLLBACK"));
    free(b.p);
    return ok;
}

static void write_batch(adb_selfaudit *sa, rec *rows, size_t n)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb_get_pool(sa->db), &st, NULL, 0);
    adb__buf acc = { 0 }, sec = { 0 };
    rec *auth = calloc(n ? n : 1, sizeof(*auth));
    size_t nauth = 0;

    if (!c || !auth) {
        pthread_mutex_lock(&sa->mu);
        sa->dropped += (long long)n;
        pthread_mutex_unlock(&sa->mu);
        free(auth);
        if (c)
            adb_pool_release(adb_get_pool(sa->db), c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rec *x = &rows[i];
        switch (x->kind) {
        case SA_ACCESS:
            field(&acc, x->org, false);
            field(&acc, x->key_id, false);
            field(&acc, x->request_id, false);
            field(&acc, x->method, false);
            field(&acc, x->path, false);
            field_int(&acc, x->status, false);
            field_int(&acc, x->ms, false);
            field_int(&acc, x->bytes, false);
            field(&acc, x->ip, false);
            field(&acc, x->ua, false);
            field(&acc, x->error_code, false);
            field(&acc, x->body_hash, false);
            field(&acc, x->ts, false);
            field_int(&acc, x->resp_bytes, true);
            break;
        case SA_AUTH:
            auth[nauth++] = *x;
            break;
        case SA_SECURITY:
            field(&sec, x->org, false);
            field(&sec, x->type, false);
            field(&sec, x->sev, false);
            field(&sec, x->key_id, false);
            field(&sec, x->ip, false);
            field(&sec, x->request_id, false);
            field(&sec, x->text, false);
            field(&sec, x->ts, true);
            break;
        }
    }
    bool ok = true;
    if (acc.len)
        ok &= copy_rows(c, "COPY api_access_log (organization_id, api_key_id, request_id, method,"
                           " path, status_code, response_time_ms, request_bytes, ip_address,"
                           " user_agent, error_code, request_body_hash, created_at, response_bytes)"
                           " FROM STDIN", &acc);
    if (sec.len)
        ok &= copy_rows(c, "COPY security_events (organization_id, event_type, severity,"
                           " api_key_id, ip_address, request_id, description, created_at)"
                           " FROM STDIN", &sec);
    if (nauth)
        ok &= write_auth(sa, c, auth, nauth);
    if (!ok) {
        pthread_mutex_lock(&sa->mu);
        sa->dropped += (long long)n;
        pthread_mutex_unlock(&sa->mu);
    }
    adb_pool_release(adb_get_pool(sa->db), c);
    free(acc.p);
    free(sec.p);
    free(auth);
}

/* Adds each slot's refusals to its key's row for its window, in one
 * transaction (see rate_agg). */
static void write_rates(adb_selfaudit *sa, const rate_agg *rows, size_t n)
{
    adb_status st;
    adb_pool *pool = adb_get_pool(sa->db);
    PGconn *c = adb_pool_acquire(pool, &st, NULL, 0);
    bool ok = c != NULL;
    long long lost = 0;

    for (size_t i = 0; i < n; i++)
        lost += rows[i].count;
    if (ok) {
        PQclear(PQexec(c, "BEGIN"));
        for (size_t i = 0; i < n && ok; i++) {
            const rate_agg *a = &rows[i];
            char count[16], limit[16], window_ms[16], window[24];
            adb__fmt(count, sizeof(count), "%d", a->count);
            adb__fmt(limit, sizeof(limit), "%d", a->limit);
            adb__fmt(window_ms, sizeof(window_ms), "%d", RATE_WINDOW_S * 1000);
            adb__fmt(window, sizeof(window), "%lld", a->window_start);
            const char *p[] = { a->org[0] ? a->org : NULL, a->key_id, a->ip[0] ? a->ip : NULL, a->path,
                                a->method[0] ? a->method : NULL, count, limit, window_ms, window,
                                a->first_ts };
            /* limit_key is the key id: the bucket is the key's */
            PGresult *r = PQexecParams(c,
                "INSERT INTO rate_limit_violations (organization_id, api_key_id, ip_address, limit_key,"
                " endpoint, method, request_count, limit_max, window_ms, window_start, created_at)"
                " VALUES ($1, $2::text, $3, $2::text, $4, $5, $6::int, $7::int, $8::int, to_timestamp($9::bigint),"
                " $10::timestamptz)"
                " ON CONFLICT (limit_key, window_start) DO UPDATE SET request_count ="
                " rate_limit_violations.request_count + EXCLUDED.request_count,"
                " limit_max = EXCLUDED.limit_max",
                10, NULL, p, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        PQclear(PQexec(c, ok ? "COMMIT" : "ROLLBACK"));
        adb_pool_release(pool, c);
    }
    if (!ok) {
        pthread_mutex_lock(&sa->mu);
        sa->dropped += lost;
        pthread_mutex_unlock(&sa->mu);
    }
}

static void *flush_main(void *arg)
{
    adb_selfaudit *sa = arg;
    rec *batch = calloc(QUEUE_MAX, sizeof(*batch));
    rate_agg *rates = calloc(RATE_SLOTS, sizeof(*rates));

    if (!batch || !rates) {
        free(batch);
        free(rates);
        return NULL;
    }
    for (;;) {
        size_t n = 0, nr = 0;
        pthread_mutex_lock(&sa->mu);
        while (sa->n == 0 && sa->nrate == 0 && !sa->stop)
            pthread_cond_wait(&sa->cv, &sa->mu);
        bool stopping = sa->stop;
        pthread_mutex_unlock(&sa->mu);
        if (!stopping)
            adb__sleep_ms(FLUSH_MS); /* let a batch gather */
        pthread_mutex_lock(&sa->mu);
        while (sa->n > 0) {
            batch[n++] = sa->q[sa->head];
            sa->head = (sa->head + 1) % QUEUE_MAX;
            sa->n--;
        }
        for (size_t i = 0; i < RATE_SLOTS && sa->nrate > 0; i++)
            if (sa->rate[i].count > 0)
                rates[nr++] = sa->rate[i];
        memset(sa->rate, 0, RATE_SLOTS * sizeof(*sa->rate));
        sa->nrate = 0;
        stopping = sa->stop;
        pthread_mutex_unlock(&sa->mu);
        if (n)
            write_batch(sa, batch, n);
        if (nr)
            write_rates(sa, rates, nr);
        if (stopping && n == 0 && nr == 0)
            break;
    }
    free(batch);
    free(rates);
    return NULL;
}

adb_selfaudit *adb_selfaudit_start(adb *db)
{
    adb_selfaudit *sa = calloc(1, sizeof(*sa));
    if (!sa || !(sa->q = calloc(QUEUE_MAX, sizeof(*sa->q))) ||
        !(sa->rate = calloc(RATE_SLOTS, sizeof(*sa->rate)))) {
        if (sa)
            free(sa->q);
        free(sa);
        return NULL;
    }
    sa->db = db;
    pthread_mutex_init(&sa->mu, NULL);
    pthread_cond_init(&sa->cv, NULL);
    if (pthread_create(&sa->th, NULL, flush_main, sa) != 0) {
        free(sa->q);
        free(sa->rate);
        free(sa);
        return NULL;
    }
    return sa;
}

void adb_selfaudit_stop(adb_selfaudit *sa)
{
    if (!sa)
        return;
    pthread_mutex_lock(&sa->mu);
    sa->stop = true;
    pthread_cond_signal(&sa->cv);
    pthread_mutex_unlock(&sa->mu);
    pthread_join(sa->th, NULL);
    pthread_cond_destroy(&sa->cv);
    pthread_mutex_destroy(&sa->mu);
    free(sa->q);
    free(sa->rate);
    free(sa);
}
