/*
 * errors.c - the service's own failures (errors.h): a bounded in-memory
 * queue that adb__error_record fills without blocking, and one background
 * writer on its own connection that commits error_log rows and their
 * error_aggregation upserts in batches, and raises an alert for each
 * resolved aggregation that comes back (a regression).
 */
#include "errors.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "../alert/alert.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "fingerprint.h"

#define BATCH_MAX 256
#define SAMPLES_MAX 10

typedef struct item {
    char category[51], severity[21], code[21], component[101], operation[101];
    char message[512];
    char org[64], request_id[128];
    bool retryable;
    int64_t at_us;
} item;

struct adb__errmon {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued, or stop */
    pthread_cond_t idle_cv; /* the queue drained */
    item *ring;
    size_t head, count;
    bool stop, busy;
    pthread_t thread;
    char *conninfo;
    PGconn *c;
    FILE *log;
    adb__errmon_stats st;
};

static struct adb__errmon *mon_of(adb *h)
{
    return h ? __atomic_load_n(&h->errmon, __ATOMIC_ACQUIRE) : NULL;
}

/* copies s into dst (n bytes), cut at a UTF-8 boundary */
static void copy(char *dst, size_t n, const char *s, const char *dflt)
{
    const char *v = s && *s ? s : dflt;
    size_t len = strlen(v);

    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)v[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static const char *severity_of(const char *s)
{
    static const char *const ok[] = { "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };
    for (size_t i = 0; s && ok[i]; i++)
        if (strcmp(s, ok[i]) == 0)
            return s;
    return "MEDIUM";
}

void adb__error_record(adb *h, const adb__error_report *e)
{
    struct adb__errmon *m = mon_of(h);

    if (!m || !e)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->stop || m->count == ADB_ERRORS_QUEUE_MAX) {
        m->st.dropped++;
        pthread_mutex_unlock(&m->mu);
        return;
    }
    item *it = &m->ring[(m->head + m->count) % ADB_ERRORS_QUEUE_MAX];
    copy(it->category, sizeof(it->category), e->category, "SYSTEM_ERROR");
    copy(it->severity, sizeof(it->severity), severity_of(e->severity), "MEDIUM");
    copy(it->code, sizeof(it->code), e->code, "UNKNOWN");
    copy(it->component, sizeof(it->component), e->component, "unknown");
    copy(it->operation, sizeof(it->operation), e->operation, "unknown");
    copy(it->message, sizeof(it->message), e->message, "(no message)");
    copy(it->org, sizeof(it->org), e->org, "");
    copy(it->request_id, sizeof(it->request_id), e->request_id, "");
    it->retryable = e->retryable;
    it->at_us = adb__now_us();
    m->count++;
    m->st.recorded++;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* ---- the writer ---------------------------------------------------------- */

static bool ok_cmd(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

typedef struct entry {        /* one item of the batch, as written */
    char key[ADB_ERROR_KEY_MAX];
    char pattern[ADB_ERROR_PATTERN_MAX];
    char id[40];
    char ts[ADB_TS_TEXT_MAX];
    bool done;                /* its key was upserted already */
} entry;

static bool insert_log(PGconn *c, const item *it, entry *en, char *err, size_t errlen)
{
    char ver[8];
    snprintf(ver, sizeof(ver), "%d", ADB_ERROR_FINGERPRINT_VERSION);
    const char *p[] = { it->category, it->severity, it->code, it->message, it->component,
                        it->operation, it->request_id[0] ? it->request_id : NULL,
                        it->retryable ? "true" : "false", en->key, en->ts,
                        it->org[0] ? it->org : NULL, ver };
    PGresult *r = PQexecParams(c,
                               "WITH i AS (SELECT gen_random_uuid()::text AS id)"
                               " INSERT INTO error_log (id, category, severity, code, message,"
                               " component, operation, correlation_id, request_id, retryable,"
                               " aggregation_key, \"timestamp\", organization_id,"
                               " fingerprint_version)"
                               " SELECT i.id, $1, $2, $3, $4, $5, $6, coalesce($7, i.id), $7, $8,"
                               " $9, $10::timestamptz, $11, $12::smallint FROM i RETURNING id",
                               12, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        copy(en->id, sizeof(en->id), PQgetvalue(r, 0, 0), "");
    else
        adb__fmt(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* The aggregation of key (the entries from k on that share it): one upsert;
 * *regressed when it was resolved before this batch's last occurrence. */
static bool upsert_key(PGconn *c, const item *items, entry *en, size_t n, size_t k,
                       bool *regressed, char *resolved_at, size_t ralen, long long *count,
                       char *err, size_t errlen)
{
    const item *last = &items[k];
    const char *first_ts = en[k].ts, *last_ts = en[k].ts;
    long long cnt = 0;
    json_t *samples = json_array();
    char cnts[24], ver[8];

    /* newest first, at most SAMPLES_MAX */
    for (size_t i = n; i-- > k;) {
        if (strcmp(en[i].key, en[k].key) != 0)
            continue;
        en[i].done = true;
        cnt++;
        if (strcmp(en[i].ts, first_ts) < 0)
            first_ts = en[i].ts;
        if (strcmp(en[i].ts, last_ts) > 0) {
            last_ts = en[i].ts;
            last = &items[i];
        }
        if (samples && json_array_size(samples) < SAMPLES_MAX) {
            json_t *s = json_pack("{s:s, s:s, s:s}", "errorId", en[i].id, "timestamp", en[i].ts,
                                  "message", items[i].message);
            if (s && items[i].org[0])
                json_object_set_new(s, "organizationId", json_string(items[i].org));
            if (s && items[i].request_id[0])
                json_object_set_new(s, "requestId", json_string(items[i].request_id));
            json_array_append_new(samples, s);
        }
    }
    char *stext = samples ? json_dumps(samples, JSON_COMPACT) : NULL;
    json_decref(samples);
    if (!stext) {
        adb__fmt(err, errlen, "out of memory");
        return false;
    }
    /* the resolution before this batch, its row locked against a concurrent resolve */
    const char *q[] = { en[k].key, last_ts };
    PGresult *r0 = PQexecParams(c,
                                "SELECT resolved_at < $2::timestamptz, to_char(resolved_at AT TIME"
                                " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                " FROM error_aggregation WHERE aggregation_key = $1 FOR UPDATE",
                                2, NULL, q, NULL, NULL, 0);
    if (PQresultStatus(r0) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "%s", PQresultErrorMessage(r0));
        PQclear(r0);
        free(stext);
        return false;
    }
    *regressed = PQntuples(r0) == 1 && strcmp(PQgetvalue(r0, 0, 0), "t") == 0;
    copy(resolved_at, ralen, PQntuples(r0) == 1 ? PQgetvalue(r0, 0, 1) : "", "");
    PQclear(r0);
    snprintf(cnts, sizeof(cnts), "%lld", cnt);
    snprintf(ver, sizeof(ver), "%d", ADB_ERROR_FINGERPRINT_VERSION);
    const char *p[] = { en[k].key, last->category, last->severity, cnts, first_ts, last_ts,
                        stext, ver, last->code, last->component, last->operation,
                        en[k].pattern };
    PGresult *r = PQexecParams(
        c,
        "WITH w AS (SELECT count(*) FILTER (WHERE \"timestamp\" > $6::timestamptz - interval '5 minutes') AS cur,"
        "              count(*) FILTER (WHERE \"timestamp\" <= $6::timestamptz - interval '5 minutes') AS prev"
        "       FROM error_log WHERE aggregation_key = $1"
        "        AND \"timestamp\" > $6::timestamptz - interval '10 minutes'"
        "        AND \"timestamp\" <= $6::timestamptz)"
        " INSERT INTO error_aggregation AS a (aggregation_key, category, severity, count,"
        "  error_rate, trend, first_occurrence, last_occurrence, affected_components, samples,"
        "  fingerprint_version, code, component, operation, message_pattern, updated_at)"
        " SELECT $1, $2, $3, $4::integer, to_char(w.cur / 5.0, 'FM9999999990.00'),"
        "  CASE WHEN w.cur > w.prev + greatest(2, w.prev / 4) THEN 'INCREASING'"
        "       WHEN w.cur < w.prev - greatest(2, w.prev / 4) THEN 'DECREASING'"
        "       ELSE 'STABLE' END,"
        "  $5::timestamptz, $6::timestamptz, jsonb_build_array($10::text), $7::jsonb,"
        "  $8::smallint, $9, $10, $11, $12, now() FROM w"
        " ON CONFLICT (aggregation_key) DO UPDATE SET"
        "  category = EXCLUDED.category, severity = EXCLUDED.severity,"
        "  count = a.count + EXCLUDED.count, error_rate = EXCLUDED.error_rate,"
        "  trend = EXCLUDED.trend,"
        "  first_occurrence = least(a.first_occurrence, EXCLUDED.first_occurrence),"
        "  last_occurrence = greatest(a.last_occurrence, EXCLUDED.last_occurrence),"
        "  affected_components = CASE WHEN a.affected_components ? $10"
        "     OR jsonb_array_length(a.affected_components) >= 20 THEN a.affected_components"
        "     ELSE a.affected_components || EXCLUDED.affected_components END,"
        "  samples = (SELECT coalesce(jsonb_agg(x ORDER BY o), '[]'::jsonb) FROM"
        "     (SELECT x, o FROM jsonb_array_elements(EXCLUDED.samples || a.samples)"
        "      WITH ORDINALITY AS e(x, o) ORDER BY o LIMIT 10) s),"
        "  resolved_at = CASE WHEN a.resolved_at < EXCLUDED.last_occurrence THEN NULL"
        "     ELSE a.resolved_at END,"
        "  resolved_by = CASE WHEN a.resolved_at < EXCLUDED.last_occurrence THEN NULL"
        "     ELSE a.resolved_by END,"
        "  resolution_notes = CASE WHEN a.resolved_at < EXCLUDED.last_occurrence THEN NULL"
        "     ELSE a.resolution_notes END,"
        "  regression_count = a.regression_count"
        "     + CASE WHEN a.resolved_at < EXCLUDED.last_occurrence THEN 1 ELSE 0 END,"
        "  last_regression_at = CASE WHEN a.resolved_at < EXCLUDED.last_occurrence"
        "     THEN EXCLUDED.last_occurrence ELSE a.last_regression_at END,"
        "  updated_at = now()"
        " RETURNING a.count",
        12, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) {
        *count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        adb__fmt(err, errlen, "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    free(stext);
    return ok;
}

/* The regression's alert, in the batch's transaction behind a savepoint (an
 * alert that cannot be raised does not cost the errors their rows). */
static void raise_regression(struct adb__errmon *m, PGconn *c, const item *it, const entry *en,
                             const char *resolved_at, long long count)
{
    char dedup[ADB_ERROR_KEY_MAX + 32], title[300], err[512], at[ADB_TS_TEXT_MAX];
    char *desc, *meta;
    const char *sample[1] = { NULL };
    adb__alert_outcome outc;

    snprintf(dedup, sizeof(dedup), "error-regression/%s", en->key);
    snprintf(title, sizeof(title), "error regression: %s in %s/%s", it->code, it->component,
             it->operation);
    copy(at, sizeof(at), en->ts, "");
    desc = adb__aprintf("The error %s (%s) of %s/%s was resolved at %s and occurred again at %s:"
                        " %s. Its aggregation %s is open again (GET /api/v1/errors/aggregations,"
                        " auditdb errors aggregations).", it->code, it->category, it->component,
                        it->operation, resolved_at, at, en->pattern, en->key);
    json_t *mj = json_pack("{s:s, s:i, s:I, s:s}", "aggregationKey", en->key,
                           "fingerprintVersion", ADB_ERROR_FINGERPRINT_VERSION, "count",
                           (json_int_t)count, "resolvedAt", resolved_at);
    meta = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
    json_decref(mj);
    if (!desc || !meta) {
        free(desc);
        free(meta);
        m->st.alert_failures++;
        return;
    }
    adb__alert_trigger t = {
        .org = ADB_PROCESS_ORG, .source = "auditdb-errors", .dedup_key = dedup,
        .severity = strcmp(it->severity, "LOW") == 0 ? "MEDIUM" : it->severity,
        .type = "SYSTEM", .title = title, .description = desc, .correlation_id = en->key,
        .metadata_json = meta, .sample_event_ids = sample, .nsamples = 0,
        .at_ms = it->at_us / 1000,
    };
    if (!ok_cmd(c, "SAVEPOINT regression")) {
        m->st.alert_failures++;
    } else if (adb__alert_raise(c, &t, &outc, NULL, err, sizeof(err)) != ADB_OK) {
        (void)ok_cmd(c, "ROLLBACK TO SAVEPOINT regression");
        m->st.alert_failures++;
        if (m->log)
            fprintf(m->log, "errors: the regression alert of %s was not raised: %s\n", en->key,
                    adb__oneline(err));
    } else {
        (void)ok_cmd(c, "RELEASE SAVEPOINT regression");
    }
    free(desc);
    free(meta);
}

/* Writes items[0..n) in one transaction. */
static bool write_batch(struct adb__errmon *m, const item *items, entry *en, size_t n,
                        long long *regressions, char *err, size_t errlen)
{
    PGconn *c = m->c;

    *regressions = 0;
    if (!ok_cmd(c, "BEGIN")) {
        adb__fmt(err, errlen, "%s", PQerrorMessage(c));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        en[i].done = false;
        if (!insert_log(c, &items[i], &en[i], err, errlen))
            goto fail;
    }
    for (size_t k = 0; k < n; k++) {
        bool regressed = false;
        char resolved_at[40] = "";
        long long count = 0;
        if (en[k].done)
            continue;
        if (!upsert_key(c, items, en, n, k, &regressed, resolved_at, sizeof(resolved_at), &count,
                        err, errlen))
            goto fail;
        if (regressed) {
            (*regressions)++;
            raise_regression(m, c, &items[k], &en[k], resolved_at, count);
        }
    }
    if (ok_cmd(c, "COMMIT"))
        return true;
    adb__fmt(err, errlen, "%s", PQerrorMessage(c));
    return false;
fail:
    (void)ok_cmd(c, "ROLLBACK");
    return false;
}

static bool connected(struct adb__errmon *m)
{
    if (m->c && PQstatus(m->c) == CONNECTION_OK)
        return true;
    if (m->c)
        PQfinish(m->c);
    m->c = PQconnectdb(m->conninfo);
    if (PQstatus(m->c) != CONNECTION_OK)
        return false;
    PQclear(PQexec(m->c, "SET application_name = 'auditdb-errors'"));
    PQclear(PQexec(m->c, "SET synchronous_commit = off")); /* errors are no acknowledged writes */
    return true;
}

static void *writer_main(void *arg)
{
    struct adb__errmon *m = arg;
    item *batch = malloc(sizeof(item) * BATCH_MAX);
    entry *en = malloc(sizeof(entry) * BATCH_MAX);
    char err[512];

    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&m->mu);
        while (m->count == 0 && !m->stop) {
            m->busy = false;
            pthread_cond_broadcast(&m->idle_cv);
            pthread_cond_wait(&m->cv, &m->mu);
        }
        if (m->count == 0 && m->stop) {
            m->busy = false;
            pthread_cond_broadcast(&m->idle_cv);
            pthread_mutex_unlock(&m->mu);
            break;
        }
        m->busy = true;
        while (batch && en && m->count > 0 && n < BATCH_MAX) {
            batch[n++] = m->ring[m->head];
            m->head = (m->head + 1) % ADB_ERRORS_QUEUE_MAX;
            m->count--;
        }
        if (!batch || !en) { /* no memory: nothing can be written */
            m->st.dropped += (long long)m->count;
            m->count = 0;
        }
        pthread_mutex_unlock(&m->mu);
        if (n == 0)
            continue;

        for (size_t i = 0; i < n; i++) {
            adb__error_normalize(batch[i].message, en[i].pattern, sizeof(en[i].pattern));
            adb__error_fingerprint(batch[i].category, batch[i].code, batch[i].component,
                                   batch[i].operation, en[i].pattern, en[i].key);
            adb__timestamp_format(batch[i].at_us, en[i].ts);
        }
        long long regressions = 0;
        bool ok = false;
        for (int attempt = 0; attempt < 2 && !ok; attempt++) {
            if (attempt > 0)
                adb__sleep_ms(500);
            ok = connected(m) && write_batch(m, batch, en, n, &regressions, err, sizeof(err));
            if (!ok && m->c && PQstatus(m->c) != CONNECTION_OK)
                snprintf(err, sizeof(err), "%s", PQerrorMessage(m->c));
        }
        pthread_mutex_lock(&m->mu);
        if (ok) {
            m->st.written += (long long)n;
            m->st.regressions += regressions;
        } else {
            m->st.dropped += (long long)n;
        }
        pthread_mutex_unlock(&m->mu);
        if (!ok && m->log) /* counts and the database's reason only: never the messages */
            fprintf(m->log, "errors: %zu error report(s) could not be written: %s\n", n,
                    adb__oneline(err));
    }
    free(batch);
    free(en);
    return NULL;
}

adb_status adb__errmon_start(adb *h, const char *conninfo, char *err, size_t errlen)
{
    struct adb__errmon *m;

    if (!h || !conninfo) {
        adb__fmt(err, errlen, "the error monitor needs a handle and a conninfo");
        return ADB_ERR_INVALID;
    }
    if (mon_of(h)) {
        adb__fmt(err, errlen, "the error monitor runs already");
        return ADB_ERR_INVALID;
    }
    if (!(m = calloc(1, sizeof(*m))) || !(m->ring = calloc(ADB_ERRORS_QUEUE_MAX, sizeof(item))) ||
        !(m->conninfo = adb__strdup(conninfo))) {
        if (m)
            free(m->ring);
        free(m);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    m->log = h->o.log;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_cond_init(&m->idle_cv, NULL);
    if (pthread_create(&m->thread, NULL, writer_main, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        pthread_cond_destroy(&m->idle_cv);
        free(m->conninfo);
        free(m->ring);
        free(m);
        adb__fmt(err, errlen, "could not start the error writer: %s", strerror(errno));
        return ADB_ERR_INTERNAL;
    }
    __atomic_store_n(&h->errmon, m, __ATOMIC_RELEASE);
    return ADB_OK;
}

void adb__errmon_stop(adb *h)
{
    struct adb__errmon *m = mon_of(h);

    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    __atomic_store_n(&h->errmon, NULL, __ATOMIC_RELEASE);
    if (m->c)
        PQfinish(m->c);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    pthread_cond_destroy(&m->idle_cv);
    free(m->conninfo);
    free(m->ring);
    free(m);
}

bool adb__errmon_flush(adb *h, int timeout_ms)
{
    struct adb__errmon *m = mon_of(h);
    struct timespec until;
    bool idle;

    if (!m)
        return true;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while ((m->count > 0 || m->busy) &&
           pthread_cond_timedwait(&m->idle_cv, &m->mu, &until) != ETIMEDOUT)
        ;
    idle = m->count == 0 && !m->busy;
    pthread_mutex_unlock(&m->mu);
    return idle;
}

void adb__errmon_stats_get(adb *h, adb__errmon_stats *out)
{
    struct adb__errmon *m = mon_of(h);

    memset(out, 0, sizeof(*out));
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    *out = m->st;
    pthread_mutex_unlock(&m->mu);
}
