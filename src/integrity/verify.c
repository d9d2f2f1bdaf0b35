/*
 * verify.c - recompute and compare: hash, signature, chain link, sequence.
 *
 * Rows come in chain order from stream.c (live rows by COPY, merged with
 * the organization's archived rows and stubs), so a whole organization
 * verifies at the speed PostgreSQL hands rows over; each batch is
 * recomputed on two threads (row.c) and reported in order. See
 * docs/integrity.md for what each check proves, docs/archive.md for
 * archives.
 */
#include "integrity.h"
#include "row.h"
#include "commit.h"
#include "erasure_records.h"
#include "stream.h"
#include "verify_log.h"
#include "../log/tiles.h"
#include "../lifecycle/archive.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECORDED 10000

/* The state of one verification run. */
typedef struct run {
    adb *db;
    const adb_verify_options *o;
    adb_verify_summary *sum;
    /* the organization being walked */
    char org[256];
    bool have_prev;
    int64_t prev_seq, prev_id;
    char prev_eid[37];
    char prev_chain[65];
    bool event_broken;
    long long org_events, org_problems;
    int64_t first_seq;
    /* results to record */
    adb__buf rec;
    long long recorded;
    bool oom;
    bool single; /* adb_verify_event: one event and its predecessor */
    PGconn *rec_conn; /* reads erasure records (in the walk's snapshot), NULL: none */
    const char *event_id; /* the public id of the event being reported, NULL: none */
    /* the organizations walked (strdup'd), for vanished_orgs() */
    char **walked;
    size_t nwalked, capwalked;
    /* the verifiable log (verify_log.h), NULL: not checked */
    adb__vlog *vlog;
    /* when the organization's walk began (adb__now_ms), and the summary's
     * duration while finish_org records it (-1: none) */
    double org_t0, summary_ms;
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
static void record(run *r, int64_t id, const char *event_id, const char *status,
                   const char *kind, const char *message, const char *expected, const char *found,
                   long long events)
{
    char num[64];

    if (!r->o->record || r->recorded >= MAX_RECORDED)
        return;
    rec_put(r, r->recorded++ ? ",{" : "[{");
    snprintf(num, sizeof(num), "\"id\":%" PRId64 ",\"eid\":", id);
    rec_put(r, num);
    json_str(r, event_id ? event_id : "");
    rec_put(r, ",\"status\":");
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
    snprintf(num, sizeof(num), ",\"events\":%lld", events);
    rec_put(r, num);
    if (r->summary_ms >= 0) { /* the organization's walk: its duration (metrics' averageTime) */
        snprintf(num, sizeof(num), ",\"ms\":%.3f", r->summary_ms);
        rec_put(r, num);
    }
    rec_put(r, "}");
}

static void problem(run *r, int64_t id, int64_t seq, const char *kind, const char *expected,
                    const char *found, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* A problem whose expected value is keyed (HMAC under K_sig or the chain
 * key, or derived from one): that value is never shown, returned or
 * recorded. Whoever can read audit_integrity_log or an answer (a database
 * superuser, an API client) would otherwise be handed the value that makes
 * a forged row pass. The unkeyed content hash stays: anyone can compute it. */
static bool keyed(const char *kind)
{
    static const char *const kinds[] = { "signature_invalid", "chain_link_mismatch",
                                         "event_id_mismatch", "erasure_record_invalid", NULL };
    for (int i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i], kind))
            return true;
    return false;
}

static void problem(run *r, int64_t id, int64_t seq, const char *kind, const char *expected,
                    const char *found, const char *fmt, ...)
{
    adb_verify_problem p;
    va_list ap;

    if (keyed(kind))
        expected = NULL;
    memset(&p, 0, sizeof(p));
    p.id = id;
    if (id && r->event_id)
        adb__fmt(p.event_id, sizeof(p.event_id), "%s", r->event_id);
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
    record(r, id, p.event_id, "tampered", kind, p.message, expected, found, 0);
    if (r->o->on_problem)
        r->o->on_problem(r->o->ud, &p);
}

/* ---- one row ------------------------------------------------------------ */

/* One item of the walk and, for a row with content, what its recomputation
 * found (computed on any thread, reported in order by report()). */
typedef struct vitem {
    adb__sitem s;
    int64_t id;
    int rc;                     /* adb__row_recompute: 1, 0 unreadable, -1 out of memory */
    adb__row_expect want;
} vitem;

static void compute(const adb__keys *k, vitem *it)
{
    if (it->s.type != ADB__SI_ROW || it->s.stub)
        return;
    it->rc = adb__row_recompute(k, it->s.v, &it->want);
}

static void name_erasures(run *r, vitem *it, const adb__erasure_set *es, const char *original);

static bool v3_row(const char *const *v)
{
    return v[ADB_COL_HASH_ALGORITHM] && !strcmp(v[ADB_COL_HASH_ALGORITHM], ADB_HASH_ALG_C14N);
}

/* A v3 row whose commitment key is gone: recomputes it with the
 * commitments of the signed erasure records of the event (read in the
 * walk's snapshot); a record whose signature fails is a problem of its own.
 * false when out of memory. */
static bool erasures(run *r, vitem *it, const char *what)
{
    const char *const *v = it->s.v;
    const char *eid = v[ADB_COL_EVENT_ID], *org = v[ADB_COL_ORGANIZATION_ID];
    const adb__keys *k = adb__db_keys(r->db);
    adb__erasure_set es;

    if (!r->rec_conn || !eid || !org)
        return true;
    if (adb__erasure_set_load(r->rec_conn, &k->sig_hmac, org, eid, &es) < 0) {
        r->oom = true;
        return false;
    }
    if (es.n == 0)
        return true; /* none (or unreadable): the hash check says the rest */
    for (int i = 0; i < es.n; i++)
        if (!es.valid[i])
            problem(r, it->id, it->s.seq, "erasure_record_invalid", "",
                    adb__erasure_set_signature(&es, i),
                    "%s: the erasure record of field \"%.60s\" is not signed by this server (or "
                    "names another organization)", what, adb__erasure_set_record(&es, i).field);
    int rc = adb__row_recompute_erased(k, v, es.erased, es.nvalid, &it->want);
    /* a lawful erasure: each valid record named with its request */
    if (rc == 1 && r->o->on_erasure && v[ADB_COL_HASH] && !strcmp(it->want.hash, v[ADB_COL_HASH]))
        name_erasures(r, it, &es, NULL);
    adb__erasure_set_free(&es);
    if (rc < 0)
        r->oom = true;
    return rc >= 0;
}

/* An event stored before v3 whose content no longer gives its hash or link:
 * a lawful erasure left it so when a valid residual record vouches for what
 * it holds now (docs/integrity.md 8b); then hash, link and leaf are those of
 * the original content the record holds. false when out of memory. */
static bool residual(run *r, vitem *it, const char *what)
{
    const char *const *v = it->s.v;
    const char *eid = v[ADB_COL_EVENT_ID], *org = v[ADB_COL_ORGANIZATION_ID];
    const adb__keys *k = adb__db_keys(r->db);
    adb__erasure_set es;
    char original[65];

    if (!r->rec_conn || !eid || !org)
        return true;
    if (adb__erasure_set_load(r->rec_conn, &k->sig_hmac, org, eid, &es) < 0) {
        r->oom = true;
        return false;
    }
    for (int i = 0; i < es.n; i++)
        if (!es.valid[i])
            problem(r, it->id, it->s.seq, "erasure_record_invalid", "",
                    adb__erasure_set_signature(&es, i),
                    "%s: the erasure record of field \"%.60s\" is not signed by this server (or "
                    "names another organization)", what, adb__erasure_set_record(&es, i).field);
    if (es.n && adb__erasure_set_residual(&es, v[ADB_COL_HASH], it->want.content, original) > 0) {
        adb__row_expect_residual(k, v, original, &it->want);
        if (r->o->on_erasure)
            name_erasures(r, it, &es, original);
    }
    adb__erasure_set_free(&es);
    return true;
}

/* Names each record of es that the event verified with (on_erasure). */
static void name_erasures(run *r, vitem *it, const adb__erasure_set *es, const char *original)
{
    const char *const *v = it->s.v;
    const char *eid = v[ADB_COL_EVENT_ID], *org = v[ADB_COL_ORGANIZATION_ID];

    for (int i = 0; i < es->n; i++) {
        if (!adb__erasure_set_names(es, i, original))
            continue;
        adb__erasure_record rec = adb__erasure_set_record(es, i);
        adb_verify_erasure ve = {
            .organization_id = org, .event_id = eid, .field = rec.field,
            .request_id = rec.request_id, .legal_basis = rec.legal_basis,
            .reason = rec.reason, .erased_at = rec.erased_at, .archive = it->s.archive,
            .chain_seq = it->s.seq,
        };
        r->o->on_erasure(r->o->ud, &ve);
    }
}

/* Reports one computed item and checks its place in the chain (in order). */
static void report(run *r, vitem *it)
{
    const char *const *v = it->s.v;
    int64_t id = it->id, seq = it->s.seq;
    const char *hash = v[ADB_COL_HASH] ? v[ADB_COL_HASH] : "";
    const char *sig = v[ADB_COL_SIGNATURE] ? v[ADB_COL_SIGNATURE] : "";
    const char *prev = v[ADB_COL_PREV_CHAIN_HASH] ? v[ADB_COL_PREV_CHAIN_HASH] : "";
    const char *chain = v[ADB_COL_CHAIN_HASH] ? v[ADB_COL_CHAIN_HASH] : "";
    char what[160];

    const char *eid = v[ADB_COL_EVENT_ID] ? v[ADB_COL_EVENT_ID] : "";
    r->event_broken = false;
    r->event_id = NULL;
    if (it->s.type == ADB__SI_PROBLEM) {
        problem(r, 0, seq, it->s.kind, NULL, NULL, "%s", it->s.message);
        return;
    }
    if (!it->s.stub)
        r->event_id = eid;
    /* A time-bounded walk reads stubs whole (their positions carry no time):
     * a stub's position only continues the chain where the walk stands,
     * uncounted, and positions elsewhere are passed over. */
    bool bridge = it->s.stub && (r->o->from || r->o->to);
    if (bridge && (!r->have_prev || seq != r->prev_seq + 1))
        return;
    if (!bridge) {
        r->sum->events++;
        r->org_events++;
    }
    if (it->s.stub)
        adb__fmt(what, sizeof(what), "position %" PRId64 " (deleted, kept by stub %s)", seq,
                 it->s.archive);
    else if (it->s.archive)
        adb__fmt(what, sizeof(what), "event %s (id %" PRId64 ", seq %" PRId64 ", archive %s)",
                 eid, id, seq, it->s.archive);
    else
        adb__fmt(what, sizeof(what), "event %s (id %" PRId64 ", seq %" PRId64 ")", eid, id, seq);
    if (it->s.stub)
        goto links;
    if (it->rc < 0) {
        r->oom = true;
        return;
    }
    if (it->rc == 0) {
        problem(r, id, seq, "unreadable", NULL, NULL, "%s: %s", what, it->want.why);
        goto links;
    }
    if (it->want.key_erased && !erasures(r, it, what))
        return;
    if (!v3_row(v) && (strcmp(it->want.hash, hash) || strcmp(it->want.link, chain)) &&
        !residual(r, it, what))
        return;
    if (it->want.keyless)
        problem(r, id, seq, "commit_key_missing", NULL, it->want.keyless_field,
                "%s: %d personal-data value(s) kept without the key to check them (%s first): "
                "a key deleted by hand", what, it->want.keyless, it->want.keyless_field);
    /* an erasure keeps the remaining fields' keys and marks the erased ones
     * (null); without that map the key itself was deleted by hand */
    bool hash_ok = strcmp(it->want.hash, hash) == 0;
    bool by_hand = it->want.key_erased && !it->want.field_keys;
    if (it->want.unrecorded)
        problem(r, id, seq, "erased_without_record", NULL, it->want.unrecorded_field,
                "%s: %d field(s) erased without a signed erasure record (%s first)", what,
                it->want.unrecorded, it->want.unrecorded_field);
    else if (!hash_ok && by_hand)
        problem(r, id, seq, "erased_without_record", it->want.hash, hash,
                "%s: personal data erased without a signed erasure record (its commitment key "
                "is gone and its hash does not match what it stores)", what);
    else if (!hash_ok)
        problem(r, id, seq, "hash_mismatch", it->want.hash, hash,
                "%s: content changed: its hash does not match what it stores", what);
    if (hash_ok && it->want.recorded)
        r->sum->erased_events++;
    /* a sha256-c14n-v2 id is covered by the hash above; older events must
     * carry the id derived from their chain link */
    if (strcmp(it->want.event_id, eid) != 0)
        problem(r, id, seq, "event_id_mismatch", it->want.event_id, eid,
                "%s: its id is not the one derived from its chain link (ids swapped or "
                "changed)", what);
    if (strcmp(it->want.signature, sig) != 0)
        problem(r, id, seq, "signature_invalid", it->want.signature, sig,
                "%s: signature does not match its hash (hash rewritten, or event not written "
                "by this server)", what);
    if (strcmp(it->want.link, chain) != 0)
        problem(r, id, seq, "chain_link_mismatch", it->want.link, chain,
                "%s: chain link does not match the event's content, position or predecessor",
                what);
links:
    if (r->have_prev) {
        if (seq == r->prev_seq) {
            problem(r, id, seq, "duplicate_seq", NULL, NULL,
                    "%s repeats chain position %" PRId64 " of event %" PRId64 " (inserted event)",
                    what, seq, r->prev_id);
        } else if (seq > r->prev_seq + 1) {
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "events at chain positions %" PRId64 "..%" PRId64 " are missing before %s "
                    "(deleted)", r->prev_seq + 1, seq - 1, what);
        }
        if (seq != r->prev_seq && strcmp(prev, r->prev_chain) != 0)
            problem(r, id, seq, "chain_break", r->prev_chain, prev,
                    "%s does not link to the event before it (event %" PRId64 ", seq %" PRId64
                    ")", what, r->prev_id, r->prev_seq);
    } else {
        r->first_seq = seq;
        if (seq == 1 && strcmp(prev, adb__chain_genesis) != 0)
            problem(r, id, seq, "chain_break", adb__chain_genesis, prev,
                    "%s is its organization's first but does not start the chain", what);
        else if (seq > 1 && r->single)
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "the event before %s (position %" PRId64 ") is missing", what, seq - 1);
        else if (seq > 1 && !r->o->from && !r->o->to)
            problem(r, id, seq, "missing_events", NULL, NULL,
                    "the chain starts at position %" PRId64 ": events 1..%" PRId64 " are missing",
                    seq, seq - 1);
    }
    if (r->vlog && !bridge) {
        uint8_t entry[48];
        /* the id it must carry (a swapped id is reported above, not again here) */
        const char *e = it->want.event_id[0] ? it->want.event_id : eid;
        /* an event already reported takes the tree's leaf, so that one change is named
         * once and the log's roots still compare for the rest */
        bool have = !it->s.stub && it->rc == 1 && !r->event_broken &&
                    adb__tree_entry_from_text(e, it->want.content, entry);
        adb__vlog_leaf(r->vlog, seq, have ? entry : NULL);
    }
    r->event_id = NULL;
    r->have_prev = true;
    r->prev_seq = seq;
    r->prev_id = id;
    adb__fmt(r->prev_eid, sizeof(r->prev_eid), "%s", it->s.stub ? "" : eid);
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

/* Compares the end of an organization's chain (position r->prev_seq) with
 * its chain head and with the last position ever taken there
 * (audit_chain_position, migration 0013), read in the walk's snapshot. */
static void check_head(run *r, PGconn *head_conn)
{
    const char *params[] = { r->org };
    PGresult *res = PQexecParams(head_conn,
                                 "SELECT h.last_seq, h.last_chain_hash,"
                                 " coalesce((SELECT max(last_seq) FROM audit_chain_position"
                                 "   WHERE organization_id = $1), 0)"
                                 " FROM (SELECT 1) one LEFT JOIN audit_chain_head h"
                                 " ON h.organization_id = $1", 1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return;
    }
    int64_t taken = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    int64_t last = PQgetisnull(res, 0, 0) ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    const char *head_hash = PQgetvalue(res, 0, 1);

    if (last < 0)
        problem(r, 0, r->prev_seq, "missing_head", NULL, r->prev_chain,
                "the organization has events up to position %" PRId64 " but no chain head "
                "(its audit_chain_head row was deleted)", r->prev_seq);
    else if (last < r->prev_seq)
        problem(r, 0, last, "head_behind", r->prev_chain, head_hash,
                "the chain head says the last event is at position %" PRId64 " but events are "
                "stored up to %" PRId64 " (the head was moved back)", last, r->prev_seq);
    else if (last < taken)
        problem(r, 0, last, "head_behind", NULL, head_hash,
                "the chain head says the last event is at position %" PRId64 " but positions up "
                "to %" PRId64 " were taken (the head was moved back)", last, taken);
    else if (last > r->prev_seq)
        problem(r, 0, last, "missing_tail", head_hash, r->prev_chain,
                "the chain head says the last event is at position %" PRId64 " but the last "
                "stored one is at %" PRId64 ": events %" PRId64 "..%" PRId64 " are missing",
                last, r->prev_seq, r->prev_seq + 1, last);
    else if (strcmp(head_hash, r->prev_chain) != 0) {
        r->event_id = r->prev_eid;
        problem(r, r->prev_id, last, "missing_tail", head_hash, r->prev_chain,
                "the last event's chain link differs from the chain head's");
        r->event_id = NULL;
    }
    /* the head moved back or gone: the positions still say where the chain ended */
    if ((last < 0 || last < taken) && taken > r->prev_seq)
        problem(r, 0, taken, "missing_tail", NULL, NULL,
                "positions up to %" PRId64 " were taken but the last stored event is at %" PRId64
                ": events %" PRId64 "..%" PRId64 " are missing", taken, r->prev_seq,
                r->prev_seq + 1, taken);
    PQclear(res);
}

/* Ends an organization: its head, and its summary record. */
static void finish_org(run *r, PGconn *head_conn)
{
    if (!r->have_prev && r->org_events == 0)
        return;
    if (!r->o->to && head_conn)
        check_head(r, head_conn);
    if (r->vlog && head_conn)
        adb__vlog_end(r->vlog, r->have_prev ? r->prev_seq : 0);
    char msg[160];
    adb__fmt(msg, sizeof(msg), "%lld events verified, %lld problems", r->org_events, r->org_problems);
    r->summary_ms = r->org_t0 > 0 ? adb__now_ms() - r->org_t0 : -1;
    record(r, r->prev_id, NULL, r->org_problems ? "tampered" : "success", "summary", msg, NULL,
           NULL, r->org_events);
    r->summary_ms = -1;
}

static void start_org(run *r, PGconn *head_conn, const char *org)
{
    finish_org(r, head_conn);
    adb__fmt(r->org, sizeof(r->org), "%s", org);
    r->have_prev = false;
    r->org_events = 0;
    r->org_problems = 0;
    r->org_t0 = adb__now_ms();
    r->sum->organizations++;
    if (r->vlog && head_conn)
        adb__vlog_begin(r->vlog, head_conn, org);
    if (r->nwalked == r->capwalked) {
        size_t cap = r->capwalked ? r->capwalked * 2 : 64;
        char **w = realloc(r->walked, cap * sizeof(*w));
        if (!w) {
            r->oom = true;
            return;
        }
        r->walked = w;
        r->capwalked = cap;
    }
    if (!(r->walked[r->nwalked] = strdup(org)))
        r->oom = true;
    else
        r->nwalked++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Organizations the walk never met (no live row, no archive: the stream
 * yields a marker for every organization with archives) that have a chain
 * head past 0 or positions taken: every event deleted, head or not. Read in
 * the walk's snapshot on c, which touches no table the COPY of the walk
 * holds (a lock queued between the two, say a new partition's, would hold
 * both until it timed out). A failed query is left to the walk's own checks. */
static void vanished_orgs(run *r, PGconn *c)
{
    const char *params[] = { r->o->organization_id ? r->o->organization_id : "" };
    PGresult *res = PQexecParams(c,
        "SELECT o, max(seq), bool_or(head) FROM ("
        "  SELECT organization_id o, max(last_seq) seq, false head FROM audit_chain_position"
        "   WHERE $1 = '' OR organization_id = $1 GROUP BY organization_id"
        "  UNION ALL SELECT organization_id, last_seq, true FROM audit_chain_head"
        "   WHERE last_seq > 0 AND ($1 = '' OR organization_id = $1)) x"
        " GROUP BY o ORDER BY o COLLATE \"C\"", 1, NULL, params, NULL, NULL, 0);

    size_t nwalked = r->nwalked; /* start_org() below appends */
    if (nwalked)
        qsort(r->walked, nwalked, sizeof(*r->walked), cmp_name);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        const char *org = PQgetvalue(res, i, 0);
        if (nwalked && bsearch(&org, r->walked, nwalked, sizeof(*r->walked), cmp_name))
            continue;
        int64_t last = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        r->have_prev = false; /* the walk's last organization is finished already */
        r->org_events = 0;
        start_org(r, NULL, org);
        problem(r, 0, last, "missing_events", NULL, NULL,
                "positions 1..%" PRId64 " were taken but no event of the organization is stored%s",
                last, strcmp(PQgetvalue(res, i, 2), "t") ? " and its chain head is gone" : "");
        char msg[160];
        adb__fmt(msg, sizeof(msg), "0 events verified, %lld problems", r->org_problems);
        record(r, 0, NULL, "tampered", "summary", msg, NULL, NULL, 0);
    }
    PQclear(res);
}

/* A problem the log check found (verify_log.h). */
static void log_problem(void *ctx, int64_t seq, const char *kind, const char *expected,
                        const char *found, const char *message)
{
    problem(ctx, 0, seq, kind, expected, found, "%s", message);
}

/* An organization only the log remembers (verify_log.h). */
static void log_vanished(void *ctx, const char *org)
{
    run *r = ctx;
    r->have_prev = false;
    r->org_events = 0;
    start_org(r, NULL, org);
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
                       "  'organizationId', x->'org', 'events', x->'events',"
                       "  'eventId', nullif(x->>'eid', ''))"
                       "  || CASE WHEN x ? 'ms' THEN jsonb_build_object('durationMs', x->'ms') ELSE '{}' END,"
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
    adb__stream *s = NULL;
    run r;
    double t0 = adb__now_ms();
    vitem *items = NULL;
    int rc = 1;

    memset(sum, 0, sizeof(*sum));
    memset(&r, 0, sizeof(r));
    r.summary_ms = -1;
    r.db = db;
    r.o = o;
    r.sum = sum;
    if (!(c = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen)) ||
        !(hc = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen)))
        goto out;
    if (!(items = calloc(VERIFY_BATCH, sizeof(*items)))) {
        adb__fmt(errbuf, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    /* the tree and checkpoints are checked on walks of whole chains */
    if (!o->from && !o->to && !o->no_log_checks &&
        !(r.vlog = adb__vlog_new(o->checkpoint_dir, o->log_vkey, (int64_t)time(NULL),
                                 log_problem, &r, errbuf, errlen))) {
        st = ADB_ERR_INVALID;
        goto out;
    }
    /* hc reads archives, chain heads and erasure records in the walk's snapshot */
    if (!(s = adb__stream_open(c, hc, o->organization_id, o->from, o->to, &st, errbuf, errlen)))
        goto out;
    r.rec_conn = hc;
    while (rc > 0 && !r.oom) {
        size_t k = 0;
        while (k < VERIFY_BATCH && (rc = adb__stream_next(s, &items[k].s)) > 0) {
            const char *idtext = items[k].s.v[ADB_COL_ID];
            items[k].id = idtext ? strtoll(idtext, NULL, 10) : 0;
            items[k].rc = 0;
            k++;
        }
        compute_all(adb__db_keys(db), items, k);
        for (size_t i = 0; i < k; i++) {
            if (sum->organizations == 0 || strcmp(items[i].s.org, r.org) != 0)
                start_org(&r, hc, items[i].s.org);
            report(&r, &items[i]);
            if (o->on_progress && items[i].s.type == ADB__SI_ROW && sum->events % 10000 == 0)
                o->on_progress(o->ud, sum->events);
        }
        if (rc == 0 && !r.oom)
            finish_org(&r, hc);
        for (size_t i = 0; i < k; i++)
            adb__sitem_free(&items[i].s);
    }
    if (rc == 0 && !r.oom && !o->from && !o->to)
        vanished_orgs(&r, hc);
    if (rc == 0 && !r.oom && r.vlog) {
        if (r.nwalked)
            qsort(r.walked, r.nwalked, sizeof(*r.walked), cmp_name);
        size_t n = r.nwalked; /* log_vanished() appends */
        adb__vlog_vanished(r.vlog, hc, o->organization_id, r.walked, n, log_vanished, &r);
    }
    st = adb__stream_close(s, errbuf, errlen);
    if (st == ADB_OK && r.oom) {
        adb__fmt(errbuf, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
    }
    if (st == ADB_OK)
        st = write_records(&r, hc, errbuf, errlen);
out:
    adb__vlog_free(r.vlog);
    free(items);
    sum->seconds = (adb__now_ms() - t0) / 1000.0;
    if (o->on_progress && st == ADB_OK)
        o->on_progress(o->ud, sum->events);
    adb__buf_free(&r.rec);
    for (size_t i = 0; i < r.nwalked; i++)
        free(r.walked[i]);
    free(r.walked);
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

/* The chain link of an organization's position seq when an archive holds
 * it (the archive read whole, so its own checks count): 1 found (chain
 * filled), 0 not archived, -1 an archive holding it fails its checks (why
 * filled), -2 a database error (why filled). */
static int archived_link(PGconn *c, const char *org, int64_t seq, char chain[65], char *why,
                         size_t whylen)
{
    char seqtext[24];
    const char *p[] = { org, seqtext };
    PGresult *res;
    int found = 0;

    adb__fmt(seqtext, sizeof(seqtext), "%" PRId64, seq);
    res = PQexecParams(c, "SELECT id FROM archive_storage WHERE organization_id = $1"
                          " AND payload IS NOT NULL AND first_seq <= $2::bigint"
                          " AND (metadata->'chain'->>'lastSeq')::bigint >= $2::bigint"
                          " ORDER BY first_seq DESC",
                       2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        adb__fmt(why, whylen, "could not look for archives: %s", PQerrorMessage(c));
        adb__oneline(why);
        PQclear(res);
        return -2;
    }
    for (int i = 0; i < PQntuples(res) && found == 0; i++) {
        adb_status st = ADB_OK;
        adb__archive_reader *ar = adb__archive_open_ex(c, PQgetvalue(res, i, 0), false, &st, why,
                                                       whylen);
        const char *v[ADB__ROW_NCOLS];
        int rc;
        bool here = false;

        if (!ar) {
            found = st == ADB_ERR_INVALID ? -1 : -2;
            break;
        }
        while ((rc = adb__archive_next(ar, v)) == 1)
            if (strtoll(v[ADB_COL_CHAIN_SEQ], NULL, 10) == seq) {
                adb__fmt(chain, 65, "%s", v[ADB_COL_CHAIN_HASH] ? v[ADB_COL_CHAIN_HASH] : "");
                here = true;
            }
        if (rc < 0) {
            adb__fmt(why, whylen, "%s", adb__archive_error(ar));
            found = -1;
        } else if (here) {
            found = 1;
        }
        adb__archive_close(ar);
    }
    PQclear(res);
    return found;
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
    vitem it;

    *nproblems = 0;
    if (!c)
        return st;
    adb__fmt(idtext, sizeof(idtext), "%" PRId64, id);
    const char *params[] = { idtext, organization_id ? organization_id : "" };
    res = PQexecParams(c,
                       "SELECT " ADB__ROW_COLUMNS " FROM audit_log WHERE id = $1::bigint"
                       " AND ($2 = '' OR organization_id = $2)"
                       " UNION ALL (SELECT " ADB__ROW_COLUMNS " FROM audit_log p"
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
    r.summary_ms = -1;
    memset(&sum, 0, sizeof(sum));
    r.db = db;
    r.o = &o;
    r.sum = &sum;
    r.single = true;
    r.rec_conn = c;
    memset(&it, 0, sizeof(it));
    for (int k = 0; k < ADB__ROW_NCOLS; k++)
        it.s.v[k] = PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k);
    it.s.type = ADB__SI_ROW;
    it.s.seq = it.s.v[ADB_COL_CHAIN_SEQ] ? strtoll(it.s.v[ADB_COL_CHAIN_SEQ], NULL, 10) : 0;
    it.id = id;
    adb__fmt(r.org, sizeof(r.org), "%s",
             it.s.v[ADB_COL_ORGANIZATION_ID] ? it.s.v[ADB_COL_ORGANIZATION_ID] : "");
    if (PQntuples(res) > 1) { /* the predecessor: its chain link is what ours must follow */
        r.have_prev = true;
        r.prev_seq = strtoll(PQgetvalue(res, 1, ADB_COL_CHAIN_SEQ), NULL, 10);
        r.prev_id = strtoll(PQgetvalue(res, 1, ADB_COL_ID), NULL, 10);
        adb__fmt(r.prev_chain, sizeof(r.prev_chain), "%s", PQgetvalue(res, 1, ADB_COL_CHAIN_HASH));
    } else if (it.s.seq > 1) { /* archived, or kept by a stub? */
        char why[ADB_ERRMSG_MAX];
        int found = archived_link(c, r.org, it.s.seq - 1, r.prev_chain, why, sizeof(why));
        if (found == -2) {
            adb__fmt(errbuf, errlen, "%s", why);
            PQclear(res);
            adb_pool_release(adb__pool(db), c);
            return ADB_ERR_DB_QUERY;
        }
        if (found == -1) { /* its link cannot be trusted: say so, and not more */
            problem(&r, id, it.s.seq, "archive_mismatch", NULL, NULL,
                    "the event before event %" PRId64 " is archived in an archive that fails its "
                    "checks: %s", id, why);
            adb__fmt(r.prev_chain, sizeof(r.prev_chain), "%s",
                     it.s.v[ADB_COL_PREV_CHAIN_HASH] ? it.s.v[ADB_COL_PREV_CHAIN_HASH] : "");
        }
        if (found != 0) {
            r.have_prev = true;
            r.prev_seq = it.s.seq - 1;
        }
    }
    compute(adb__db_keys(db), &it);
    report(&r, &it);
    PQclear(res);
    adb_pool_release(adb__pool(db), c);
    *nproblems = col.n;
    return r.oom ? ADB_ERR_NOMEM : ADB_OK;
}
