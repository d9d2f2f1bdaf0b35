/*
 * verify.c - recompute and compare: hash, signature, chain link, sequence.
 *
 * Rows are streamed with COPY ... TO STDOUT in chain order, so a whole
 * organization verifies at the speed PostgreSQL hands rows over. Filter
 * values reach the COPY query through set_config() parameters, never pasted
 * into SQL. See docs/integrity.md for what each check proves.
 */
#include "integrity.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS 21
#define MAX_RECORDED 10000

/* The row layout of both the COPY and the single-event query. */
#define ROW_COLUMNS                                                                          \
    "id, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ttl," \
    " principal_id, organization_id, action, target_resource_type, target_resource_id,"      \
    " status, outcome_description, hash, hash_algorithm, signature, event_version,"          \
    " correlation_id, data_classification, retention_policy, details::text, chain_seq,"      \
    " prev_chain_hash, chain_hash"

enum { C_ID, C_TS, C_TTL, C_PRINCIPAL, C_ORG, C_ACTION, C_TTYPE, C_TID, C_STATUS, C_OUTCOME,
       C_HASH, C_HALG, C_SIG, C_VERSION, C_CORR, C_CLASS, C_RET, C_DETAILS, C_SEQ, C_PREV,
       C_CHAIN };

static const int field_col[ADB_F__COUNT] = {
    [ADB_F_ACTION] = C_ACTION,
    [ADB_F_STATUS] = C_STATUS,
    [ADB_F_PRINCIPAL_ID] = C_PRINCIPAL,
    [ADB_F_ORGANIZATION_ID] = C_ORG,
    [ADB_F_TARGET_RESOURCE_TYPE] = C_TTYPE,
    [ADB_F_TARGET_RESOURCE_ID] = C_TID,
    [ADB_F_OUTCOME_DESCRIPTION] = C_OUTCOME,
    [ADB_F_CORRELATION_ID] = C_CORR,
    [ADB_F_DATA_CLASSIFICATION] = C_CLASS,
    [ADB_F_RETENTION_POLICY] = C_RET,
    [ADB_F_EVENT_VERSION] = C_VERSION,
    [ADB_F_HASH_ALGORITHM] = C_HALG,
    [ADB_F_TTL] = C_TTL,
};

/* One row as strings (NULL for SQL NULL), pointing into a buffer. */
typedef struct row {
    const char *v[NCOLS];
} row;

/* The state of one verification run. */
typedef struct run {
    adb *db;
    const adb_verify_options *o;
    adb_verify_summary *sum;
    /* the organization being walked */
    char org[256];
    bool have_prev;
    int64_t prev_seq, prev_id;
    char prev_chain[65];
    bool event_broken;
    long long org_events, org_problems;
    int64_t first_seq;
    /* results to record */
    adb__buf rec;
    long long recorded;
    bool oom;
    bool single; /* adb_verify_event: one event and its predecessor */
} run;

/* ---- problems ----------------------------------------------------------- */

static void json_str(run *r, const char *s)
{
    adb__buf_json_string(&r->rec, s, strlen(s));
}

static void rec_put(run *r, const char *s)
{
    adb__buf_puts(&r->rec, s);
}

/* Queues one audit_integrity_log row as a JSON object of a JSON array. */
static void record(run *r, int64_t id, const char *status, const char *kind, const char *message,
                   const char *expected, const char *found, long long events)
{
    char num[64];

    if (!r->o->record || r->recorded >= MAX_RECORDED)
        return;
    rec_put(r, r->recorded++ ? ",{" : "[{");
    snprintf(num, sizeof(num), "\"id\":%" PRId64 ",\"status\":", id);
    rec_put(r, num);
    json_str(r, status);
    rec_put(r, ",\"org\":");
    json_str(r, r->org);
    rec_put(r, ",\"kind\":");
    json_str(r, kind);
    rec_put(r, ",\"message\":");
    json_str(r, message);
    rec_put(r, ",\"expected\":");
    json_str(r, expected ? expected : "");
    rec_put(r, ",\"found\":");
    json_str(r, found ? found : "");
    snprintf(num, sizeof(num), ",\"events\":%lld}", events);
    rec_put(r, num);
}

static void problem(run *r, int64_t id, int64_t seq, const char *kind, const char *expected,
                    const char *found, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void problem(run *r, int64_t id, int64_t seq, const char *kind, const char *expected,
                    const char *found, const char *fmt, ...)
{
    adb_verify_problem p;
    va_list ap;

    memset(&p, 0, sizeof(p));
    p.id = id;
    p.chain_seq = seq;
    p.kind = kind;
    adb__fmt(p.organization_id, sizeof(p.organization_id), "%s", r->org);
    va_start(ap, fmt);
    vsnprintf(p.message, sizeof(p.message), fmt, ap);
    va_end(ap);
    adb__fmt(p.expected, sizeof(p.expected), "%s", expected ? expected : "");
    adb__fmt(p.found, sizeof(p.found), "%s", found ? found : "");
    r->sum->problems++;
    r->org_problems++;
    if (!r->event_broken && id) {
        r->event_broken = true;
        r->sum->broken_events++;
    }
    record(r, id, "tampered", kind, p.message, expected, found, 0);
    if (r->o->on_problem)
        r->o->on_problem(r->o->ud, &p);
}

/* ---- one row ------------------------------------------------------------ */

/* What one row's recomputation found; filled by compute() on any thread,
 * reported in order by report(). */
typedef struct vitem {
    char *line;                 /* the COPY line the row points into (owned) */
    row w;
    int64_t id, seq;
    bool readable, oom;
    char why[160];              /* when not readable */
    char want_hash[65], want_sig[65], want_link[65];
} vitem;

/* Builds the event the row stores; false with it->why when it cannot. */
static bool row_event(vitem *it, adb__event *ev)
{
    const row *w = &it->w;

    memset(ev, 0, sizeof(*ev));
    for (int f = 0; f < ADB_F__COUNT; f++)
        ev->f[f] = (char *)w->v[field_col[f]];
    if (!w->v[C_TS] || !adb__timestamp_parse(w->v[C_TS], strlen(w->v[C_TS]), &ev->ts_us)) {
        adb__fmt(it->why, sizeof(it->why), "no readable timestamp");
        return false;
    }
    adb__timestamp_format(ev->ts_us, ev->ts_text);
    if (w->v[C_DETAILS]) {
        adb_json_error je;
        adb_json_doc *doc = adb__json_parse(w->v[C_DETAILS], strlen(w->v[C_DETAILS]), NULL, &je);
        size_t cap = 0;
        if (!doc) {
            adb__fmt(it->why, sizeof(it->why), "details unreadable: %s", je.message);
            return false;
        }
        bool ok = adb__json_write_canonical(adb__json_root(doc), &ev->details, &ev->details_len, &cap);
        adb__json_free(doc);
        if (!ok) {
            it->oom = true;
            return false;
        }
    }
    return true;
}

/* Recomputes hash, signature and chain link of one row (no shared state). */
static void compute(const adb__keys *k, vitem *it)
{
    const row *w = &it->w;
    adb__event ev;
    char content[65];
    size_t len;
    char *canon;

    it->id = w->v[C_ID] ? strtoll(w->v[C_ID], NULL, 10) : 0;
    it->seq = w->v[C_SEQ] ? strtoll(w->v[C_SEQ], NULL, 10) : 0;
    it->readable = row_event(it, &ev);
    if (!it->readable) {
        free(ev.details);
        return;
    }
    if (!(canon = adb__canonical(&ev, &len))) {
        it->oom = true;
        it->readable = false;
        free(ev.details);
        return;
    }
    adb__sha256_hex(canon, len, content);
    free(canon);
    if (ev.f[ADB_F_HASH_ALGORITHM] && !strcmp(ev.f[ADB_F_HASH_ALGORITHM], ADB_HASH_ALG_LEGACY)) {
        if (!(canon = adb__legacy_canonical(&ev, &len))) {
            it->oom = true;
            it->readable = false;
            free(ev.details);
            return;
        }
        adb__sha256_hex(canon, len, it->want_hash);
        free(canon);
    } else {
        memcpy(it->want_hash, content, 65);
    }
    free(ev.details);
    adb__signature(k, w->v[C_HASH] ? w->v[C_HASH] : "", it->want_sig);
    adb__chain_link(k, w->v[C_ORG] ? w->v[C_ORG] : "", it->seq, w->v[C_PREV] ? w->v[C_PREV] : "",
                    content, it->want_link);
}

/* Reports one computed row and checks its place in the chain (in order). */
static void report(run *r, vitem *it)
{
    const row *w = &it->w;
    int64_t id = it->id, seq = it->seq;
    const char *hash = w->v[C_HASH] ? w->v[C_HASH] : "";
    const char *sig = w->v[C_SIG] ? w->v[C_SIG] : "";
    const char *prev = w->v[C_PREV] ? w->v[C_PREV] : "";
    const char *chain = w->v[C_CHAIN] ? w->v[C_CHAIN] : "";

    r->sum->events++;
    r->org_events++;
    r->event_broken = false;
    if (it->oom) {
        r->oom = true;
        return;
    }
    if (!it->readable) {
        problem(r, id, seq, "unreadable", NULL, NULL, "event %" PRId64 ": %s", id, it->why);
        goto links;
    }
    if (strcmp(it->want_hash, hash) != 0)
        problem(r, id, seq, "hash_mismatch", it->want_hash, hash,
                "event %" PRId64 " (seq %" PRId64 "): content changed: its hash does not match "
                "what it stores", id, seq);
    if (strcmp(it->want_sig, sig) != 0)
        problem(r, id, seq, "signature_invalid", it->want_sig, sig,
                "event %" PRId64 " (seq %" PRId64 "): signature does not match its hash (hash "
                "rewritten, or event not written by this server)", id, seq);
    if (strcmp(it->want_link, chain) != 0)
        problem(r, id, seq, "chain_link_mismatch", it->want_link, chain,
                "event %" PRId64 " (seq %" PRId64 "): chain link does not match the event's content, "
                "position or predecessor", id, seq);
links:
    if (r->have_prev) {
        if (seq == r->prev_seq) {
            problem(r, id, seq, "duplicate_seq", NULL, NULL,
                    "event %" PRId64 " repeats chain position %" PRId64 " of event %" PRId64
                    " (inserted event)", id, seq, r->prev_id);
        } else if (seq > r->prev_seq + 1) {
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "events at chain positions %" PRId64 "..%" PRId64 " are missing before event %"
                    PRId64 " (deleted)", r->prev_seq + 1, seq - 1, id);
        }
        if (seq != r->prev_seq && strcmp(prev, r->prev_chain) != 0)
            problem(r, id, seq, "chain_break", r->prev_chain, prev,
                    "event %" PRId64 " (seq %" PRId64 ") does not link to the event before it "
                    "(event %" PRId64 ", seq %" PRId64 ")", id, seq, r->prev_id, r->prev_seq);
    } else {
        r->first_seq = seq;
        if (seq == 1 && strcmp(prev, adb__chain_genesis) != 0)
            problem(r, id, seq, "chain_break", adb__chain_genesis, prev,
                    "event %" PRId64 " is its organization's first but does not start the chain", id);
        else if (seq > 1 && r->single)
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "the event before event %" PRId64 " (position %" PRId64 ") is missing", id,
                    seq - 1);
        else if (seq > 1 && !r->o->from && !r->o->to)
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "the chain starts at position %" PRId64 ": events 1..%" PRId64 " are missing",
                    seq, seq - 1);
    }
    r->have_prev = true;
    r->prev_seq = seq;
    r->prev_id = id;
    adb__fmt(r->prev_chain, sizeof(r->prev_chain), "%s", chain);
}

/* ---- computing a batch on several threads ------------------------------ */

#define VERIFY_BATCH 1024
#define VERIFY_THREADS 2

typedef struct batch {
    const adb__keys *keys;
    vitem *items;
    size_t n;
    size_t next; /* atomic: the next item to compute */
} batch;

static void *compute_worker(void *arg)
{
    batch *b = arg;
    size_t i;

    while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n)
        compute(b->keys, &b->items[i]);
    return NULL;
}

/* Computes items[0..n) on VERIFY_THREADS threads (this one included). */
static void compute_all(const adb__keys *k, vitem *items, size_t n)
{
    batch b = { k, items, n, 0 };
    pthread_t th[VERIFY_THREADS - 1];
    int started = 0;

    for (int i = 0; i < VERIFY_THREADS - 1 && n > 64; i++)
        if (pthread_create(&th[started], NULL, compute_worker, &b) == 0)
            started++;
    compute_worker(&b);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* ---- organizations ------------------------------------------------------ */

/* Compares the end of an organization's chain with its chain head. */
static void finish_org(run *r, PGconn *head_conn)
{
    if (!r->have_prev && r->org_events == 0)
        return;
    if (!r->o->to && head_conn) {
        const char *params[] = { r->org };
        PGresult *res = PQexecParams(head_conn,
                                     "SELECT last_seq, last_chain_hash FROM audit_chain_head"
                                     " WHERE organization_id = $1", 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            int64_t last = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            if (last > r->prev_seq)
                problem(r, 0, last, "missing_tail", PQgetvalue(res, 0, 1), r->prev_chain,
                        "the chain head says the last event is at position %" PRId64 " but the "
                        "last stored one is at %" PRId64 ": events %" PRId64 "..%" PRId64 " are "
                        "missing", last, r->prev_seq, r->prev_seq + 1, last);
            else if (last == r->prev_seq && strcmp(PQgetvalue(res, 0, 1), r->prev_chain) != 0)
                problem(r, r->prev_id, last, "missing_tail", PQgetvalue(res, 0, 1), r->prev_chain,
                        "the last event's chain link differs from the chain head's");
        }
        PQclear(res);
    }
    char msg[160];
    adb__fmt(msg, sizeof(msg), "%lld events verified, %lld problems", r->org_events, r->org_problems);
    record(r, r->prev_id, r->org_problems ? "tampered" : "success", "summary", msg, NULL, NULL,
           r->org_events);
}

static void start_org(run *r, PGconn *head_conn, const char *org)
{
    finish_org(r, head_conn);
    adb__fmt(r->org, sizeof(r->org), "%s", org);
    r->have_prev = false;
    r->org_events = 0;
    r->org_problems = 0;
    r->sum->organizations++;
}

/* ---- COPY text format --------------------------------------------------- */

/* Splits one COPY text line in place into w, unescaping each field. A field
 * that is exactly \N is NULL (an escaped backslash followed by N is text). */
static bool split_copy_line(char *line, row *w)
{
    int col = 0;
    char *p = line;

    for (;;) {
        char *start = p, *out = p;
        bool is_null = p[0] == '\\' && p[1] == 'N' && (p[2] == '\t' || p[2] == '\0');
        if (col >= NCOLS)
            return false;
        if (is_null)
            p += 2;
        while (!is_null && *p && *p != '\t') {
            if (*p == '\\' && p[1]) {
                p++;
                switch (*p) {
                case 'n': *out++ = '\n'; break;
                case 'r': *out++ = '\r'; break;
                case 't': *out++ = '\t'; break;
                case 'b': *out++ = '\b'; break;
                case 'f': *out++ = '\f'; break;
                case 'v': *out++ = '\v'; break;
                default: *out++ = *p; break;
                }
                p++;
                continue;
            }
            *out++ = *p++;
        }
        bool end = *p == '\0';
        if (!is_null)
            *out = '\0';
        w->v[col++] = is_null ? NULL : start;
        if (end)
            break;
        *p++ = '\0';
    }
    return col == NCOLS;
}

static adb_status set_filter(PGconn *c, const char *name, const char *value, char *errbuf,
                             size_t errlen)
{
    const char *params[] = { name, value ? value : "" };
    PGresult *res = PQexecParams(c, "SELECT set_config($1, $2, false)", 2, NULL, params, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not set the verify filter: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(res);
    return st;
}

static adb_status write_records(run *r, PGconn *c, char *errbuf, size_t errlen)
{
    const char *params[2];
    PGresult *res;
    adb_status st = ADB_OK;

    if (!r->o->record || r->recorded == 0)
        return ADB_OK;
    rec_put(r, "]");
    if (r->oom || r->rec.oom)
        return ADB_ERR_NOMEM;
    params[0] = r->rec.p;
    params[1] = r->o->verified_by ? r->o->verified_by : "auditdb verify";
    res = PQexecParams(c,
                       "INSERT INTO audit_integrity_log (audit_log_id, verification_status,"
                       " verification_details, verified_by, hash_verified, expected_hash)"
                       " SELECT (x->>'id')::bigint, x->>'status',"
                       " jsonb_build_object('kind', x->'kind', 'message', x->'message',"
                       "  'organizationId', x->'org', 'events', x->'events'),"
                       " $2, nullif(x->>'found', ''), nullif(x->>'expected', '')"
                       " FROM jsonb_array_elements($1::jsonb) x",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        adb__fmt(errbuf, errlen, "could not record results in audit_integrity_log: %s",
                 PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(res);
    return st;
}

adb_status adb_verify(adb *db, const adb_verify_options *o, adb_verify_summary *sum, char *errbuf,
                      size_t errlen)
{
    adb_status st = ADB_OK;
    PGconn *c = NULL, *hc = NULL;
    PGresult *res;
    run r;
    double t0 = adb__now_ms();
    char *line = NULL;
    vitem *items = NULL;
    int n = 0;

    memset(sum, 0, sizeof(*sum));
    memset(&r, 0, sizeof(r));
    r.db = db;
    r.o = o;
    r.sum = sum;
    if (!(c = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen)) ||
        !(hc = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen)))
        goto out;
    if ((st = set_filter(c, "auditdb.verify_org", o->organization_id, errbuf, errlen)) ||
        (st = set_filter(c, "auditdb.verify_from", o->from, errbuf, errlen)) ||
        (st = set_filter(c, "auditdb.verify_to", o->to, errbuf, errlen)))
        goto out;
    res = PQexec(c, "COPY (SELECT " ROW_COLUMNS " FROM audit_log"
                    " WHERE (current_setting('auditdb.verify_org') = ''"
                    "        OR organization_id = current_setting('auditdb.verify_org'))"
                    "   AND \"timestamp\" >= coalesce(nullif(current_setting('auditdb.verify_from'),"
                    "        ''), '-infinity')::timestamptz"
                    "   AND \"timestamp\" <= coalesce(nullif(current_setting('auditdb.verify_to'),"
                    "        ''), 'infinity')::timestamptz"
                    " ORDER BY organization_id, chain_seq, id) TO STDOUT");
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        adb__fmt(errbuf, errlen, "could not read events: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        PQclear(res);
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    PQclear(res);
    items = calloc(VERIFY_BATCH, sizeof(*items));
    if (!items) {
        r.oom = true;
        n = -1;
    }
    while (items && !r.oom) {
        size_t k = 0;
        while (k < VERIFY_BATCH && (n = PQgetCopyData(c, &line, 0)) > 0) {
            if (line[n - 1] == '\n')
                line[n - 1] = '\0';
            memset(&items[k], 0, sizeof(items[k]));
            items[k].line = line;
            if (split_copy_line(line, &items[k].w))
                k++;
            else
                PQfreemem(line);
            line = NULL;
        }
        compute_all(adb__db_keys(db), items, k);
        for (size_t i = 0; i < k; i++) {
            const char *org = items[i].w.v[C_ORG] ? items[i].w.v[C_ORG] : "";
            if (sum->organizations == 0 || strcmp(org, r.org) != 0)
                start_org(&r, hc, org);
            report(&r, &items[i]);
            if (o->on_progress && sum->events % 10000 == 0)
                o->on_progress(o->ud, sum->events);
        }
        for (size_t i = 0; i < k; i++)
            PQfreemem(items[i].line);
        if (k < VERIFY_BATCH)
            break;
    }
    free(items);
    if (n == -2) {
        adb__fmt(errbuf, errlen, "reading events failed: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    }
    while ((res = PQgetResult(c)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == ADB_OK) {
            adb__fmt(errbuf, errlen, "reading events failed: %s", PQresultErrorMessage(res));
            adb__oneline(errbuf);
            st = ADB_ERR_DB_QUERY;
        }
        PQclear(res);
    }
    if (st == ADB_OK && r.oom) {
        adb__fmt(errbuf, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
    }
    if (st == ADB_OK) {
        finish_org(&r, hc);
        st = write_records(&r, hc, errbuf, errlen);
    }
out:
    sum->seconds = (adb__now_ms() - t0) / 1000.0;
    if (o->on_progress && st == ADB_OK)
        o->on_progress(o->ud, sum->events);
    adb__buf_free(&r.rec);
    if (c)
        adb_pool_release(adb__pool(db), c);
    if (hc)
        adb_pool_release(adb__pool(db), hc);
    return st;
}

/* ---- one event ---------------------------------------------------------- */

typedef struct collect {
    adb_verify_problem *out;
    int max, n;
} collect;

static void collect_problem(void *ud, const adb_verify_problem *p)
{
    collect *c = ud;
    if (c->n < c->max)
        c->out[c->n] = *p;
    c->n++;
}

adb_status adb_verify_event(adb *db, int64_t id, const char *organization_id,
                            adb_verify_problem *problems, int max, int *nproblems, char *errbuf,
                            size_t errlen)
{
    adb_status st = ADB_OK;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen);
    PGresult *res;
    char idtext[32];
    collect col = { problems, max, 0 };
    adb_verify_options o = { .on_problem = collect_problem, .ud = &col };
    adb_verify_summary sum;
    run r;

    *nproblems = 0;
    if (!c)
        return st;
    adb__fmt(idtext, sizeof(idtext), "%" PRId64, id);
    const char *params[] = { idtext, organization_id ? organization_id : "" };
    res = PQexecParams(c,
                       "SELECT " ROW_COLUMNS " FROM audit_log WHERE id = $1::bigint"
                       " AND ($2 = '' OR organization_id = $2)"
                       " UNION ALL (SELECT " ROW_COLUMNS " FROM audit_log p"
                       "  WHERE (p.organization_id, p.chain_seq) IN (SELECT organization_id,"
                       "   chain_seq - 1 FROM audit_log WHERE id = $1::bigint"
                       "   AND ($2 = '' OR organization_id = $2)) LIMIT 1)",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not read event %s: %s", idtext, PQerrorMessage(c));
        adb__oneline(errbuf);
        PQclear(res);
        adb_pool_release(adb__pool(db), c);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        adb_pool_release(adb__pool(db), c);
        adb__fmt(errbuf, errlen, "no event %s", idtext);
        return ADB_ERR_NOT_FOUND;
    }
    memset(&r, 0, sizeof(r));
    memset(&sum, 0, sizeof(sum));
    r.db = db;
    r.o = &o;
    r.sum = &sum;
    r.single = true;
    vitem it;
    memset(&it, 0, sizeof(it));
    for (int k = 0; k < NCOLS; k++)
        it.w.v[k] = PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k);
    adb__fmt(r.org, sizeof(r.org), "%s", it.w.v[C_ORG] ? it.w.v[C_ORG] : "");
    if (PQntuples(res) > 1) { /* the predecessor: its chain link is what ours must follow */
        r.have_prev = true;
        r.prev_seq = strtoll(PQgetvalue(res, 1, C_SEQ), NULL, 10);
        r.prev_id = strtoll(PQgetvalue(res, 1, C_ID), NULL, 10);
        adb__fmt(r.prev_chain, sizeof(r.prev_chain), "%s", PQgetvalue(res, 1, C_CHAIN));
    }
    compute(adb__db_keys(db), &it);
    report(&r, &it);
    PQclear(res);
    adb_pool_release(adb__pool(db), c);
    *nproblems = col.n;
    return r.oom ? ADB_ERR_NOMEM : ADB_OK;
}
