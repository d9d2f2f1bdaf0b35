/*
 * integrator.c - appends committed events to their organizations' trees
 * (integrator.h, docs/log.md "Integrator").
 *
 * Per organization the thread keeps the tree's right edge in memory: the
 * frontier (merkle.h) and, for each tile level and for the entry bundles,
 * the hashes of the rightmost partial tile. A round locks the head row,
 * reloads that edge from the tiles when the head moved under it (another
 * instance, a failed round), appends leaves in chain order, writes the tiles
 * that changed and the head, and commits. Positions the writer did not hand
 * over are read from audit_log, then from the archives (stream.h).
 */
#include "../alert/alert.h"
#include "integrator.h"
#include "merkle.h"
#include "tiles.h"

#include "../core/util.h"
#include "../monitor/errors.h"
#include "../integrity/row.h"
#include "../integrity/stream.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEVELS 8            /* tile levels 0..7 cover 2^64 leaves */
#define CHUNK 65536         /* leaves per transaction when reading back */
#define DELAY_BUCKET_MS 0.1 /* delay histogram resolution */
#define DELAY_BUCKETS 20001 /* up to 2 s, then one bucket for the rest */
#define ROUND_GAP_MS 50     /* offered events wait at most this long for the next round */

/* Failed rounds in a row of one organization before its alert row (docs/log.md,
 * "When the log fails"); AUDITDB_LOG_ALERT_AFTER changes it. */
#define ALERT_AFTER_DEFAULT 5

typedef struct pend {
    int64_t seq;
    double t_ms; /* when offered (acknowledged) */
    uint8_t entry[48];
} pend;

typedef struct org_state {
    char *org;
    struct org_state *next_ready;
    /* under in->mu */
    pend *p;
    size_t np, capp;
    bool ready;
    /* the integrator thread's */
    bool exists;  /* the head row is known to exist */
    bool loaded;  /* the edge below matches size */
    uint64_t size, backfill_to;
    adb__merkle_frontier f;
    uint8_t *h[LEVELS]; /* hashes of level 8L from index base[L] on */
    size_t len[LEVELS], cap[LEVELS];
    uint64_t base[LEVELS];
    bool dirty[LEVELS];
    uint8_t *e; /* entries from ebase on */
    size_t elen, ecap;
    uint64_t ebase;
    bool edirty;
    bool oom;
    unsigned streak; /* rounds failed in a row */
} org_state;

struct adb__integrator {
    adb__integrator_options o;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    org_state **tab;
    size_t tabcap, norgs;
    org_state *ready_head, *ready_tail;
    size_t pending;
    bool stopping, scan_now;
    unsigned long long sync_req, sync_done, offer_gen, offer_done;
    pthread_t th;
    /* figures */
    adb__integrator_stats s;
    unsigned long long *hist;
    unsigned alert_after;
};

/* ---- organizations -------------------------------------------------------------- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The state of org, created when new; NULL when out of memory. Under mu. */
static org_state *org_get(adb__integrator *in, const char *org)
{
    if (in->norgs * 2 >= in->tabcap) {
        size_t ncap = in->tabcap ? in->tabcap * 2 : 64;
        org_state **nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return NULL;
        for (size_t i = 0; i < in->tabcap; i++)
            if (in->tab[i]) {
                size_t j = fnv(in->tab[i]->org) & (ncap - 1);
                while (nt[j])
                    j = (j + 1) & (ncap - 1);
                nt[j] = in->tab[i];
            }
        free(in->tab);
        in->tab = nt;
        in->tabcap = ncap;
    }
    size_t j = fnv(org) & (in->tabcap - 1);
    while (in->tab[j]) {
        if (!strcmp(in->tab[j]->org, org))
            return in->tab[j];
        j = (j + 1) & (in->tabcap - 1);
    }
    org_state *st = calloc(1, sizeof(*st));
    if (!st || !(st->org = strdup(org))) {
        free(st);
        return NULL;
    }
    in->tab[j] = st;
    in->norgs++;
    return st;
}

static void org_free(org_state *st)
{
    free(st->org);
    free(st->p);
    for (int l = 0; l < LEVELS; l++)
        free(st->h[l]);
    free(st->e);
    free(st);
}

static void mark_ready(adb__integrator *in, org_state *st)
{
    if (st->ready)
        return;
    st->ready = true;
    st->next_ready = NULL;
    if (in->ready_tail)
        in->ready_tail->next_ready = st;
    else
        in->ready_head = st;
    in->ready_tail = st;
}

/* ---- offering ---------------------------------------------------------------------- */

void adb__integrator_offer(adb__integrator *in, const adb__tree_leaf *l, size_t n)
{
    double now = adb__now_ms();
    org_state *st = NULL;

    if (!in || n == 0)
        return;
    pthread_mutex_lock(&in->mu);
    for (size_t i = 0; i < n; i++) {
        if (in->pending >= in->o.queue_max) {
            in->s.dropped += (long long)(n - i);
            in->scan_now = true;
            break;
        }
        if (!st || strcmp(st->org, l[i].org) != 0)
            st = org_get(in, l[i].org);
        if (!st) {
            in->s.dropped++;
            in->scan_now = true;
            continue;
        }
        if (st->np == st->capp) {
            size_t nc = st->capp ? st->capp * 2 : 64;
            pend *np = realloc(st->p, nc * sizeof(*np));
            if (!np) {
                in->s.dropped++;
                in->scan_now = true;
                continue;
            }
            st->p = np;
            st->capp = nc;
        }
        pend *p = &st->p[st->np++];
        p->seq = l[i].seq;
        p->t_ms = now;
        memcpy(p->entry, l[i].entry, 48);
        in->pending++;
        mark_ready(in, st);
    }
    in->offer_gen++;
    pthread_cond_signal(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

/* ---- database helpers ------------------------------------------------------------ */

static bool pg_ok(PGconn *c, PGresult *r, ExecStatusType want, char *err, size_t errlen)
{
    if (r && PQresultStatus(r) == want)
        return true;
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c);
    adb__fmt(err, errlen, "%s", m);
    adb__oneline(err);
    return false;
}

static bool exec_cmd(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    bool ok = pg_ok(c, r, PGRES_COMMAND_OK, err, errlen);
    PQclear(r);
    return ok;
}

/* The entry of a stored row (live or archived): its public id (for rows
 * written before ids, the id derived from its link) and the content hash
 * its chain link covers, both recomputed as verification does. */
static bool row_entry(const adb__keys *k, const char *const v[ADB__ROW_NCOLS], uint8_t entry[48])
{
    adb__row_expect ex;

    if (adb__row_recompute(k, v, &ex) != 1)
        return false;
    const char *eid = v[ADB_COL_EVENT_ID] && *v[ADB_COL_EVENT_ID] ? v[ADB_COL_EVENT_ID] : ex.event_id;
    return adb__tree_entry_from_text(eid, ex.content, entry);
}

/* ---- the right edge ------------------------------------------------------------------ */

static bool buf_put(uint8_t **b, size_t *len, size_t *cap, const uint8_t *x, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n)
            nc *= 2;
        uint8_t *nb = realloc(*b, nc);
        if (!nb)
            return false;
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, x, n);
    *len += n;
    return true;
}

static void on_node(void *ctx, unsigned level, uint64_t index, const uint8_t h[32])
{
    org_state *st = ctx;
    (void)index;
    if (level % ADB_TILE_HEIGHT != 0 || level / ADB_TILE_HEIGHT >= LEVELS)
        return;
    unsigned L = level / ADB_TILE_HEIGHT;
    if (!buf_put(&st->h[L], &st->len[L], &st->cap[L], h, 32))
        st->oom = true;
    st->dirty[L] = true;
}

static void append_leaf(org_state *st, const uint8_t entry[48])
{
    uint8_t leaf[32];

    adb__merkle_leaf_hash(entry, 48, leaf);
    if (!buf_put(&st->e, &st->elen, &st->ecap, entry, 48))
        st->oom = true;
    st->edirty = true;
    adb__merkle_frontier_append(&st->f, leaf, on_node, st);
    st->size++;
}

/* Reads the right edge of the tree of size leaves from its tiles. */
static adb_status load_edge(PGconn *c, org_state *st, uint64_t size, char *err, size_t errlen)
{
    adb_status rs = ADB_OK;
    adb__tile_reader *r = adb__tile_reader_new(c, st->org);

    if (!r)
        return ADB_ERR_NOMEM;
    st->loaded = false;
    memset(&st->f, 0, sizeof(st->f));
    for (unsigned k = 0; k < 64 && rs == ADB_OK; k++)
        if ((size >> k) & 1)
            rs = adb__tile_reader_get(r, k, (size >> k) - 1, st->f.hash[k]);
    if (rs != ADB_OK)
        adb__fmt(err, errlen, "the tree's right edge: %s", adb__tile_reader_error(r));
    adb__tile_reader_done(r);
    if (rs != ADB_OK)
        return rs;
    st->f.size = size;
    for (unsigned L = 0; L < LEVELS; L++) {
        uint64_t n = L * ADB_TILE_HEIGHT < 64 ? size >> (L * ADB_TILE_HEIGHT) : 0;
        unsigned w = (unsigned)(n % ADB_TILE_WIDTH);
        st->len[L] = 0;
        st->dirty[L] = false;
        st->base[L] = n - w;
        if (w == 0)
            continue;
        uint8_t *t;
        size_t tl;
        if ((rs = adb__tree_tile(c, st->org, L, n / ADB_TILE_WIDTH, w, &t, &tl, err, errlen)) !=
            ADB_OK)
            return rs;
        bool ok = buf_put(&st->h[L], &st->len[L], &st->cap[L], t, tl);
        free(t);
        if (!ok)
            return ADB_ERR_NOMEM;
    }
    unsigned w = (unsigned)(size % ADB_TILE_WIDTH);
    st->elen = 0;
    st->edirty = false;
    st->ebase = size - w;
    if (w) {
        uint8_t *b;
        size_t bl;
        if ((rs = adb__tree_entry_bundle(c, st->org, size / ADB_TILE_WIDTH, w, &b, &bl, err,
                                         errlen)) != ADB_OK)
            return rs;
        for (unsigned i = 0; i < w; i++)
            if (!buf_put(&st->e, &st->elen, &st->ecap, b + (size_t)i * 50 + 2, 48)) {
                free(b);
                return ADB_ERR_NOMEM;
            }
        free(b);
    }
    st->size = size;
    st->oom = false;
    st->loaded = true;
    return ADB_OK;
}

/* Queues one tile or bundle row (pipeline mode: answers read by pipe_finish). */
static bool put_row(PGconn *c, const char *sql, const char *org, uint64_t level, uint64_t index,
                    unsigned width, const uint8_t *data, size_t len, int *sent)
{
    char l[24], i[24], w[8];
    snprintf(l, sizeof(l), "%" PRIu64, level);
    snprintf(i, sizeof(i), "%" PRIu64, index);
    snprintf(w, sizeof(w), "%u", width);
    const char *v[5] = { org, l, i, w, (const char *)data };
    int lens[5] = { 0, 0, 0, 0, (int)len };
    int fmts[5] = { 0, 0, 0, 0, 1 };
    if (PQsendQueryParams(c, sql, 5, NULL, v, lens, fmts, 0) != 1)
        return false;
    (*sent)++;
    return true;
}

/* Sends the sync and reads the answers of sent statements: true when all
 * succeeded. Leaves pipeline mode. */
static bool pipe_finish(PGconn *c, int sent, bool queued, char *err, size_t errlen)
{
    bool ok = queued;

    if (!queued)
        adb__fmt(err, errlen, "%s", PQerrorMessage(c));
    if (PQpipelineSync(c) != 1) {
        adb__fmt(err, errlen, "%s", PQerrorMessage(c));
        ok = false;
    }
    for (int i = 0; i < sent; i++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (ok)
                adb__fmt(err, errlen, "%s", PQerrorMessage(c));
            ok = false;
            break;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
            pg_ok(c, r, PGRES_COMMAND_OK, err, errlen);
            ok = false;
        }
        PQclear(r);
        while ((r = PQgetResult(c)) != NULL) /* the NULL ending each statement's answers */
            PQclear(r);
    }
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType t = PQresultStatus(r);
        PQclear(r);
        if (t == PGRES_PIPELINE_SYNC)
            break;
    }
    PQexitPipelineMode(c);
    adb__oneline(err);
    return ok;
}

/* Writes every tile and bundle that changed, the head, and COMMITs, in one
 * pipeline (one round trip); then drops what became full. */
static bool flush_edge(PGconn *c, org_state *st, const uint8_t root[32], char *err, size_t errlen)
{
    static const char tile_sql[] =
        "INSERT INTO audit_tree_tile (organization_id, level, index, width, hashes)"
        " VALUES ($1, $2::smallint, $3::bigint, $4::smallint, $5::bytea)"
        " ON CONFLICT (organization_id, level, index)"
        " DO UPDATE SET width = EXCLUDED.width, hashes = EXCLUDED.hashes";
    static const char bundle_sql[] =
        "INSERT INTO audit_tree_bundle (organization_id, index, width, entries)"
        " SELECT $1, $3::bigint, $4::smallint, $5::bytea WHERE $2::int = 0"
        " ON CONFLICT (organization_id, index)"
        " DO UPDATE SET width = EXCLUDED.width, entries = EXCLUDED.entries";
    int sent = 0;
    bool q = PQenterPipelineMode(c) == 1;

    if (!q) {
        adb__fmt(err, errlen, "%s", PQerrorMessage(c));
        adb__oneline(err);
        return false;
    }
    for (unsigned L = 0; L < LEVELS && q; L++) {
        if (!st->dirty[L])
            continue;
        size_t n = st->len[L] / 32;
        for (size_t k = 0; k * ADB_TILE_WIDTH < n && q; k++) {
            size_t w = n - k * ADB_TILE_WIDTH;
            if (w > ADB_TILE_WIDTH)
                w = ADB_TILE_WIDTH;
            q = put_row(c, tile_sql, st->org, L, st->base[L] / ADB_TILE_WIDTH + k, (unsigned)w,
                        st->h[L] + k * ADB_TILE_WIDTH * 32, w * 32, &sent);
        }
    }
    if (st->edirty) {
        size_t n = st->elen / 48;
        for (size_t k = 0; k * ADB_TILE_WIDTH < n && q; k++) {
            size_t w = n - k * ADB_TILE_WIDTH;
            if (w > ADB_TILE_WIDTH)
                w = ADB_TILE_WIDTH;
            q = put_row(c, bundle_sql, st->org, 0, st->ebase / ADB_TILE_WIDTH + k, (unsigned)w,
                        st->e + k * ADB_TILE_WIDTH * 48, w * 48, &sent);
        }
    }
    if (q) {
        char sz[24];
        snprintf(sz, sizeof(sz), "%" PRIu64, st->size);
        const char *hv[3] = { st->org, sz, (const char *)root };
        int lens[3] = { 0, 0, 32 }, fmts[3] = { 0, 0, 1 };
        q = PQsendQueryParams(c,
                              "UPDATE audit_tree SET size = $2::bigint, root = $3::bytea,"
                              " updated = now() WHERE organization_id = $1",
                              3, NULL, hv, lens, fmts, 0) == 1;
        if (q)
            sent++;
    }
    if (q) {
        q = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
        if (q)
            sent++;
    }
    if (!pipe_finish(c, sent, q, err, errlen))
        return false;
    /* keep only the partial tiles */
    for (unsigned L = 0; L < LEVELS; L++) {
        size_t n = st->len[L] / 32, full = n - n % ADB_TILE_WIDTH;
        st->dirty[L] = false;
        if (full == 0)
            continue;
        memmove(st->h[L], st->h[L] + full * 32, (n - full) * 32);
        st->len[L] = (n - full) * 32;
        st->base[L] += full;
    }
    size_t n = st->elen / 48, full = n - n % ADB_TILE_WIDTH;
    if (full) {
        memmove(st->e, st->e + full * 48, (n - full) * 48);
        st->elen = (n - full) * 48;
        st->ebase += full;
    }
    st->edirty = false;
    return true;
}

/* ---- reading back ------------------------------------------------------------------------- */

typedef struct range {
    uint64_t a;      /* first position (chain_seq) */
    size_t n;
    uint8_t *entries;
    bool *have;
    size_t missing;
} range;

static void range_put(range *g, int64_t seq, const uint8_t entry[48])
{
    if (seq < (int64_t)g->a || (uint64_t)seq >= g->a + g->n)
        return;
    size_t i = (size_t)((uint64_t)seq - g->a);
    if (g->have[i])
        return;
    memcpy(g->entries + i * 48, entry, 48);
    g->have[i] = true;
    g->missing--;
}

static bool read_live(adb__integrator *in, PGconn *c, const char *org, range *g, char *err,
                      size_t errlen)
{
    char a[24], b[24];
    snprintf(a, sizeof(a), "%" PRIu64, g->a);
    snprintf(b, sizeof(b), "%" PRIu64, g->a + g->n - 1);
    const char *v[3] = { org, a, b };
    PGresult *r = PQexecParams(c,
                               "SELECT " ADB__ROW_COLUMNS " FROM audit_log"
                               " WHERE organization_id = $1 AND chain_seq BETWEEN $2::bigint AND $3::bigint",
                               3, NULL, v, NULL, NULL, 0);
    if (!pg_ok(c, r, PGRES_TUPLES_OK, err, errlen)) {
        PQclear(r);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *row[ADB__ROW_NCOLS];
        uint8_t entry[48];
        for (int k = 0; k < ADB__ROW_NCOLS; k++)
            row[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
        if (row[ADB_COL_CHAIN_SEQ] && row_entry(in->o.keys, row, entry))
            range_put(g, strtoll(row[ADB_COL_CHAIN_SEQ], NULL, 10), entry);
    }
    PQclear(r);
    return true;
}

/* The organization's archived rows of g (one walk of its chain). */
static bool read_archived(adb__integrator *in, const char *org, range *g, char *err, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(in->o.pool, &st, err, errlen), *ac = NULL;
    if (!c)
        return false;
    if (!(ac = adb_pool_acquire(in->o.pool, &st, err, errlen))) {
        adb_pool_release(in->o.pool, c);
        return false;
    }
    adb__stream *s = adb__stream_open(c, ac, org, NULL, NULL, &st, err, errlen);
    bool ok = s != NULL;
    if (s) {
        adb__sitem it;
        int k;
        while ((k = adb__stream_next(s, &it)) == 1) {
            uint8_t entry[48];
            if (it.type == ADB__SI_ROW && !it.stub && it.archive &&
                (uint64_t)it.seq >= g->a && (uint64_t)it.seq < g->a + g->n &&
                row_entry(in->o.keys, it.v, entry))
                range_put(g, it.seq, entry);
            adb__sitem_free(&it);
            if (g->missing == 0)
                break;
        }
        ok = adb__stream_close(s, err, errlen) == ADB_OK || g->missing == 0;
    }
    adb_pool_release(in->o.pool, ac);
    adb_pool_release(in->o.pool, c);
    return ok;
}

/* Fills the positions of g not held: live rows, then archives, then (for a
 * position the tree's creation found committed and gone) the placeholder. */
static bool read_back(adb__integrator *in, PGconn *c, org_state *st, range *g, char *err,
                      size_t errlen)
{
    if (!read_live(in, c, st->org, g, err, errlen))
        return false;
    if (g->missing == 0)
        return true;
    char a[24], b[24];
    snprintf(a, sizeof(a), "%" PRIu64, g->a);
    snprintf(b, sizeof(b), "%" PRIu64, g->a + g->n - 1);
    const char *v[3] = { st->org, a, b };
    PGresult *r = PQexecParams(c, "SELECT 1 FROM archive_storage WHERE organization_id = $1 LIMIT 1",
                               1, NULL, v, NULL, NULL, 0);
    if (!pg_ok(c, r, PGRES_TUPLES_OK, err, errlen)) {
        PQclear(r);
        return false;
    }
    bool archives = PQntuples(r) > 0;
    PQclear(r);
    if (archives && !read_archived(in, st->org, g, err, errlen))
        return false;
    if (g->missing == 0 || g->a > st->backfill_to)
        return true;
    /* committed positions (audit_chain_position: ranges taken, never deleted) */
    r = PQexecParams(c,
                     "SELECT greatest(first_seq, $2::bigint), least(last_seq, $3::bigint)"
                     " FROM audit_chain_position WHERE organization_id = $1"
                     " AND last_seq >= $2::bigint AND first_seq <= $3::bigint",
                     3, NULL, v, NULL, NULL, 0);
    if (!pg_ok(c, r, PGRES_TUPLES_OK, err, errlen)) {
        PQclear(r);
        return false;
    }
    static const uint8_t zero[48];
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t lo = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        uint64_t hi = strtoull(PQgetvalue(r, i, 1), NULL, 10);
        if (hi > st->backfill_to)
            hi = st->backfill_to;
        for (uint64_t p = lo; p <= hi && p >= g->a; p++)
            if (!g->have[p - g->a]) {
                range_put(g, (int64_t)p, zero);
                pthread_mutex_lock(&in->mu);
                in->s.placeholders++;
                pthread_mutex_unlock(&in->mu);
            }
    }
    PQclear(r);
    return true;
}

/* ---- one organization --------------------------------------------------------------------- */

static int cmp_pend(const void *a, const void *b)
{
    int64_t x = ((const pend *)a)->seq, y = ((const pend *)b)->seq;
    return x < y ? -1 : x > y;
}

static void record_delay(adb__integrator *in, double ms)
{
    size_t b = ms <= 0 ? 0 : (size_t)(ms / DELAY_BUCKET_MS);
    if (b >= DELAY_BUCKETS)
        b = DELAY_BUCKETS - 1;
    in->hist[b]++;
    in->s.delay_count++;
    if (ms > in->s.delay_max_ms)
        in->s.delay_max_ms = ms;
}

static void note_failure(adb__integrator *in, org_state *st, const char *what, const char *why)
{
    pthread_mutex_lock(&in->mu);
    in->s.failures++;
    adb__fmt(in->s.last_error, sizeof(in->s.last_error), "organization %.60s: %s: %.150s",
             st->org, what, why);
    pthread_mutex_unlock(&in->mu);
}

/* The alert row of an organization whose tree failed to grow alert_after
 * times in a row (on c, outside any transaction). The reason is the
 * database's one-line message, never an event's content. */
static void raise_alert(adb__integrator *in, PGconn *c, org_state *st, const char *why)
{
    char desc[700], meta[160];
    adb__fmt(desc, sizeof(desc), "the organization's Merkle tree could not be extended %u times "
             "in a row: its events get no receipt and no new checkpoint until this is fixed "
             "(last error: %.400s)", st->streak, why);
    adb__fmt(meta, sizeof(meta), "{\"kind\": \"integration_failing\", \"failedRounds\": %u, "
             "\"treeSize\": %" PRIu64 "}", st->streak, st->size);
    adb__alert_trigger t = { .org = st->org, .source = "auditdb-integrator",
                             .dedup_key = "integrator/integration_failing", .severity = "HIGH",
                             .type = "SYSTEM", .title = "the verifiable log cannot integrate events",
                             .description = desc, .metadata_json = meta };
    char err[256];
    adb_status ast = adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err));
    pthread_mutex_lock(&in->mu);
    if (ast != ADB_OK)
        in->s.alerts_failed++;
    else
        in->s.alerts++;
    pthread_mutex_unlock(&in->mu);
}

/* Gives back items not integrated (a position before them not committed yet). */
static void put_back(adb__integrator *in, org_state *st, pend *p, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&in->mu);
    if (st->np + n > st->capp) {
        size_t nc = st->np + n;
        pend *np = realloc(st->p, nc * sizeof(*np));
        if (!np) {
            in->s.dropped += (long long)n;
            in->scan_now = true;
            pthread_mutex_unlock(&in->mu);
            return;
        }
        st->p = np;
        st->capp = nc;
    }
    memcpy(st->p + st->np, p, n * sizeof(*p));
    st->np += n;
    in->pending += n;
    pthread_mutex_unlock(&in->mu);
}

/* Brings org's tree to target leaves (at least), using items (sorted here)
 * and the database for the rest. One transaction per CHUNK leaves. */
static void integrate(adb__integrator *in, PGconn *c, org_state *st, pend *items, size_t nitems,
                      uint64_t target)
{
    char err[512];
    size_t used = 0;
    uint8_t root[32];
    bool failed = false;

    if (nitems) {
        qsort(items, nitems, sizeof(*items), cmp_pend);
        if ((uint64_t)items[nitems - 1].seq > target)
            target = (uint64_t)items[nitems - 1].seq;
    }
    for (;;) {
        const char *v[1] = { st->org };
        PGresult *r;
        range g = { 0 };
        bool grew = false;

        /* the tree is derived from committed events: a commit lost in a crash is
         * integrated again, identically, from them (docs/log.md) */
        if (!exec_cmd(c, "BEGIN; SET LOCAL synchronous_commit = off", err, sizeof(err)))
            goto fail;
        if (!st->exists) {
            r = PQexecParams(c,
                             "INSERT INTO audit_tree (organization_id, root, backfill_to)"
                             " SELECT $1::text, sha256(''::bytea), coalesce((SELECT last_seq"
                             " FROM audit_chain_head WHERE organization_id = $1::text), 0)"
                             " ON CONFLICT (organization_id) DO NOTHING",
                             1, NULL, v, NULL, NULL, 0);
            bool ok = pg_ok(c, r, PGRES_COMMAND_OK, err, sizeof(err));
            PQclear(r);
            if (!ok)
                goto fail;
        }
        r = PQexecParams(c,
                         "SELECT size, backfill_to FROM audit_tree"
                         " WHERE organization_id = $1 FOR UPDATE",
                         1, NULL, v, NULL, NULL, 0);
        if (!pg_ok(c, r, PGRES_TUPLES_OK, err, sizeof(err)) || PQntuples(r) != 1) {
            if (PQntuples(r) != 1)
                adb__fmt(err, sizeof(err), "the tree head row is missing");
            PQclear(r);
            goto fail;
        }
        uint64_t size = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        st->backfill_to = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        st->exists = true;
        if (!st->loaded || st->size != size) {
            adb_status ls = load_edge(c, st, size, err, sizeof(err));
            if (ls != ADB_OK)
                goto fail;
        }
        while (used < nitems && (uint64_t)items[used].seq <= size)
            used++; /* already in the tree (read back, or another instance) */
        if (size >= target) {
            exec_cmd(c, "COMMIT", err, sizeof(err));
            break;
        }
        /* positions size+1 .. end: from items, the rest read back */
        uint64_t end = target - size > CHUNK ? size + CHUNK : target;
        g.a = size + 1;
        g.n = (size_t)(end - size);
        g.missing = g.n;
        g.entries = malloc(g.n * 48);
        g.have = calloc(g.n, sizeof(bool));
        if (!g.entries || !g.have) {
            adb__fmt(err, sizeof(err), "out of memory");
            goto fail_g;
        }
        size_t from_mem = 0;
        for (size_t i = used; i < nitems && (uint64_t)items[i].seq <= end; i++)
            range_put(&g, items[i].seq, items[i].entry);
        from_mem = g.n - g.missing;
        if (g.missing && !read_back(in, c, st, &g, err, sizeof(err)))
            goto fail_g;
        size_t k = 0;
        while (k < g.n && g.have[k])
            append_leaf(st, g.entries + k * 48), k++;
        if (st->oom) {
            adb__fmt(err, sizeof(err), "out of memory");
            goto fail_g;
        }
        if (k > 0) {
            adb__merkle_frontier_root(&st->f, root);
            if (!flush_edge(c, st, root, err, sizeof(err)))
                goto fail_g;
        } else if (!exec_cmd(c, "COMMIT", err, sizeof(err))) {
            goto fail_g;
        }
        grew = k > 0;
        if (grew) {
            double now = adb__now_ms();
            pthread_mutex_lock(&in->mu);
            in->s.rounds++;
            in->s.leaves += (long long)k;
            size_t mem = 0;
            while (used < nitems && (uint64_t)items[used].seq <= st->size) {
                record_delay(in, now - items[used].t_ms);
                used++;
                mem++;
            }
            in->s.from_memory += (long long)(mem < k ? mem : k);
            in->s.read_back += (long long)(k > from_mem ? k - from_mem : 0);
            pthread_mutex_unlock(&in->mu);
            if (in->o.on_grown)
                in->o.on_grown(in->o.on_grown_ctx, st->org, st->size, root);
        }
        free(g.entries);
        free(g.have);
        if (k < g.n) { /* a position not committed yet (or gone): wait for it */
            if (!grew) { /* the scan (or the next offer) tries again */
                pthread_mutex_lock(&in->mu);
                adb__fmt(in->s.last_error, sizeof(in->s.last_error),
                         "organization %.60s: position %" PRIu64 " is not readable yet",
                         st->org, st->size + 1);
                pthread_mutex_unlock(&in->mu);
            }
            break;
        }
        pthread_mutex_lock(&in->mu);
        bool stopping = in->stopping;
        pthread_mutex_unlock(&in->mu);
        if (stopping && st->size < target)
            break; /* a long read-back ends at a chunk's end; the next start goes on */
        continue;
    fail_g:
        free(g.entries);
        free(g.have);
    fail:
        if (PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF)
            PQclear(PQexec(c, "ROLLBACK"));
        st->loaded = false;
        note_failure(in, st, "integration failed", err);
        adb__error_record(NULL, &(adb__error_report){ .category = "INTEGRITY_ERROR",
            .severity = "HIGH", .code = "TREE_ROUND", .component = "integrator",
            .operation = "integrate", .org = st->org,
            .message = "the organization's tree could not take its new events" });
        failed = true;
        st->streak++;
        pthread_mutex_lock(&in->mu);
        /* a first failure is retried by a scan at once; later ones wait for
         * the scan's interval rather than fail in a loop */
        if (st->streak == 1)
            in->scan_now = true;
        if (st->streak == in->alert_after)
            in->s.failing_orgs++;
        pthread_mutex_unlock(&in->mu);
        if (st->streak == in->alert_after && PQstatus(c) == CONNECTION_OK)
            raise_alert(in, c, st, err);
        used = nitems; /* the scan reads them back */
        break;
    }
    if (!failed && st->streak) {
        pthread_mutex_lock(&in->mu);
        if (st->streak >= in->alert_after)
            in->s.failing_orgs--;
        pthread_mutex_unlock(&in->mu);
        st->streak = 0;
    }
    put_back(in, st, items + used, nitems - used);
}

/* ---- the thread ---------------------------------------------------------------------------- */

/* Every organization whose chain head is ahead of its tree. */
static void scan(adb__integrator *in, PGconn *c)
{
    char err[512];
    PGresult *r = PQexec(c, "SELECT h.organization_id, h.last_seq FROM audit_chain_head h"
                            " LEFT JOIN audit_tree t ON t.organization_id = h.organization_id"
                            " WHERE h.last_seq > coalesce(t.size, 0)"
                            " ORDER BY h.organization_id");
    if (!pg_ok(c, r, PGRES_TUPLES_OK, err, sizeof(err))) {
        PQclear(r);
        pthread_mutex_lock(&in->mu);
        in->s.failures++;
        adb__fmt(in->s.last_error, sizeof(in->s.last_error), "scan: %.200s", err);
        pthread_mutex_unlock(&in->mu);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        pend *items = NULL;
        size_t n = 0;
        pthread_mutex_lock(&in->mu);
        org_state *st = org_get(in, PQgetvalue(r, i, 0));
        if (st && !st->ready) { /* a ready one is the memory path's */
            items = st->p;
            n = st->np;
            in->pending -= n;
            st->p = NULL;
            st->np = st->capp = 0;
        }
        bool skip = !st || st->ready;
        pthread_mutex_unlock(&in->mu);
        if (skip)
            continue;
        integrate(in, c, st, items, n, strtoull(PQgetvalue(r, i, 1), NULL, 10));
        free(items);
    }
    PQclear(r);
}

static void *integrator_main(void *arg)
{
    adb__integrator *in = arg;
    double next_scan = 0, next_round = 0;
    int interval = in->o.interval_ms;

    pthread_mutex_lock(&in->mu);
    for (;;) {
        double now = adb__now_ms();
        bool scan_due = in->scan_now || now >= next_scan || in->sync_req > in->sync_done;
        /* offered events wait for the next round (at most ROUND_GAP_MS after the last one
         * began): one round for the batches of that time rather than one for each, so
         * fewer round trips and fewer rewrites of the partial tiles (docs/log.md) */
        bool round_due = in->ready_head && (now >= next_round || in->stopping);
        if (!round_due && !scan_due) {
            if (in->stopping)
                break;
            double wait = (in->ready_head && next_round < next_scan ? next_round : next_scan) - now;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long ns = ts.tv_nsec + (long long)(wait * 1e6);
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&in->cv, &in->mu, &ts);
            continue;
        }
        /* the organizations with offered events, and their events */
        next_round = now + ROUND_GAP_MS;
        org_state *list = in->ready_head;
        in->ready_head = in->ready_tail = NULL;
        unsigned long long gen = in->offer_gen, req = in->sync_req;
        in->scan_now = false;
        pthread_mutex_unlock(&in->mu);

        adb_status ps;
        char err[256];
        PGconn *c = adb_pool_acquire(in->o.pool, &ps, err, sizeof(err));
        while (list) {
            org_state *st = list;
            pthread_mutex_lock(&in->mu);
            list = st->next_ready;
            st->ready = false;
            pend *items = st->p;
            size_t n = st->np;
            in->pending -= n;
            st->p = NULL;
            st->np = st->capp = 0;
            pthread_mutex_unlock(&in->mu);
            if (c)
                integrate(in, c, st, items, n, 0);
            free(items);
        }
        if (c && scan_due) {
            scan(in, c);
            next_scan = adb__now_ms() + interval;
        }
        if (c)
            adb_pool_release(in->o.pool, c);
        pthread_mutex_lock(&in->mu);
        if (!c) {
            in->s.failures++;
            adb__fmt(in->s.last_error, sizeof(in->s.last_error), "no connection: %.200s", err);
            next_scan = adb__now_ms() + interval;
            in->scan_now = true;
        }
        in->offer_done = gen;
        if (scan_due && c)
            in->sync_done = req;
        pthread_cond_broadcast(&in->done_cv);
        if (!c) { /* wait a little before trying again */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (!in->stopping)
                pthread_cond_timedwait(&in->cv, &in->mu, &ts);
            else
                break;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return NULL;
}

adb__integrator *adb__integrator_start(const adb__integrator_options *o, char *err, size_t errlen)
{
    adb__integrator *in = calloc(1, sizeof(*in));

    if (!in || !(in->hist = calloc(DELAY_BUCKETS, sizeof(*in->hist)))) {
        free(in);
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    in->o = *o;
    if (!in->o.queue_max)
        in->o.queue_max = 262144;
    if (in->o.interval_ms <= 0)
        in->o.interval_ms = 1000;
    in->alert_after = in->o.alert_after > 0 ? (unsigned)in->o.alert_after : ALERT_AFTER_DEFAULT;
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    pthread_cond_init(&in->done_cv, NULL);
    if (pthread_create(&in->th, NULL, integrator_main, in) != 0) {
        adb__fmt(err, errlen, "could not start the tree integrator: %s", strerror(errno));
        pthread_cond_destroy(&in->cv);
        pthread_cond_destroy(&in->done_cv);
        pthread_mutex_destroy(&in->mu);
        free(in->hist);
        free(in);
        return NULL;
    }
    return in;
}

bool adb__integrator_sync(adb__integrator *in, int timeout_ms)
{
    struct timespec ts;
    bool ok;

    if (!in)
        return false;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = ts.tv_nsec + (long long)timeout_ms * 1000000LL;
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&in->mu);
    unsigned long long req = ++in->sync_req, gen = in->offer_gen;
    pthread_cond_signal(&in->cv);
    while ((in->sync_done < req || in->offer_done < gen) && !in->stopping)
        if (pthread_cond_timedwait(&in->done_cv, &in->mu, &ts) != 0)
            break;
    ok = in->sync_done >= req && in->offer_done >= gen;
    pthread_mutex_unlock(&in->mu);
    return ok;
}

static double percentile(const adb__integrator *in, double q)
{
    unsigned long long total = 0, want, seen = 0;
    for (size_t b = 0; b < DELAY_BUCKETS; b++)
        total += in->hist[b];
    if (!total)
        return 0;
    want = (unsigned long long)(q * (double)total + 0.5);
    if (want < 1)
        want = 1;
    for (size_t b = 0; b < DELAY_BUCKETS; b++) {
        seen += in->hist[b];
        if (seen >= want)
            return (double)(b + 1) * DELAY_BUCKET_MS;
    }
    return in->s.delay_max_ms;
}

void adb__integrator_stats_get(adb__integrator *in, adb__integrator_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    *out = in->s;
    out->delay_p50_ms = percentile(in, 0.50);
    out->delay_p99_ms = percentile(in, 0.99);
    pthread_mutex_unlock(&in->mu);
}

void adb__integrator_stats_reset_delay(adb__integrator *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    memset(in->hist, 0, DELAY_BUCKETS * sizeof(*in->hist));
    in->s.delay_count = 0;
    in->s.delay_max_ms = 0;
    pthread_mutex_unlock(&in->mu);
}

void adb__integrator_stop(adb__integrator *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    in->stopping = true;
    pthread_cond_broadcast(&in->cv);
    pthread_cond_broadcast(&in->done_cv);
    pthread_mutex_unlock(&in->mu);
    pthread_join(in->th, NULL);
    for (size_t i = 0; i < in->tabcap; i++)
        if (in->tab[i])
            org_free(in->tab[i]);
    free(in->tab);
    free(in->hist);
    pthread_cond_destroy(&in->cv);
    pthread_cond_destroy(&in->done_cv);
    pthread_mutex_destroy(&in->mu);
    free(in);
}
