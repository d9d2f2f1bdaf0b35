/*
 * archive.c - the archival run (docs/archive.md): live events whose policy
 * says they are due move into archive_storage, one archive per organization,
 * month, retention policy and classification (at most max_rows rows each).
 * Deleting the rows from audit_log (which locks them) and storing the
 * archive of exactly the rows deleted are one transaction: a crash or a
 * concurrent run can never leave an event both live and archived, or
 * archived twice. Which rows a chunk takes is found beforehand, for a whole
 * month at once (one scan of its partition); the DELETE checks each row
 * again. Events past their retention go the same way into stubs (positions
 * only). Also: the listing of archives.
 */
#include "lifecycle.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- rows into archives ------------------------------------------------- */

typedef struct built_list {
    adb__archive_built *a;
    size_t n, cap;
} built_list;

static void built_list_free(built_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        adb__archive_built_free(&l->a[i]);
    free(l->a);
    memset(l, 0, sizeof(*l));
}

/* Finishes b into the list; false with err. */
static bool close_builder(adb__archive_builder *b, built_list *l, char *err, size_t errlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        adb__archive_built *p = realloc(l->a, cap * sizeof(*p));
        if (!p) {
            adb__fmt(err, errlen, "out of memory");
            return false;
        }
        l->a = p;
        l->cap = cap;
    }
    if (!adb__archive_builder_finish(b, &l->a[l->n], err, errlen))
        return false;
    l->n++;
    return true;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The state of reading rows into archives. */
typedef struct reading {
    adb__lc *lc;
    bool stub;
    built_list *out;
    bool *disorder;
    adb__archive_builder *b;
    char last_org[256], *last_policy, *last_cls;
    long long last_seq;
} reading;

/* Adds one row (v: ADB__ROW_COLUMNS) to the archive being built, starting a
 * new one at a new group or when it is full. */
static adb_status add_row(reading *rd, const char *const v[ADB__ROW_NCOLS], char *err,
                          size_t errlen)
{
    const char *org = v[ADB_COL_ORGANIZATION_ID] ? v[ADB_COL_ORGANIZATION_ID] : "";
    bool same_group = rd->b && !strcmp(org, rd->last_org) &&
                      same_text(v[ADB_COL_RETENTION_POLICY], rd->last_policy) &&
                      same_text(v[ADB_COL_DATA_CLASSIFICATION], rd->last_cls);
    long long seq = v[ADB_COL_CHAIN_SEQ] ? strtoll(v[ADB_COL_CHAIN_SEQ], NULL, 10) : 0;

    if (rd->disorder && same_group && seq <= rd->last_seq) {
        *rd->disorder = true;
        adb__fmt(err, errlen, "event %s came out of chain order", v[ADB_COL_ID] ? v[ADB_COL_ID] : "?");
        return ADB_ERR_INTERNAL;
    }
    rd->last_seq = seq;
    if (rd->b && (!same_group || adb__archive_builder_rows(rd->b) >= rd->lc->max_rows)) {
        bool ok = close_builder(rd->b, rd->out, err, errlen);
        adb__archive_builder_free(rd->b);
        rd->b = NULL;
        if (!ok)
            return ADB_ERR_INTERNAL;
    }
    if (!rd->b) {
        free(rd->last_policy);
        free(rd->last_cls);
        adb__fmt(rd->last_org, sizeof(rd->last_org), "%s", org);
        rd->last_policy = adb__strdup(v[ADB_COL_RETENTION_POLICY]);
        rd->last_cls = adb__strdup(v[ADB_COL_DATA_CLASSIFICATION]);
        if (!(rd->b = adb__archive_builder_new(rd->stub))) {
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
    }
    return adb__archive_builder_add(rd->b, v, err, errlen) ? ADB_OK : ADB_ERR_INTERNAL;
}

static adb_status add_result(reading *rd, const PGresult *r, char *err, size_t errlen)
{
    const char *v[ADB__ROW_NCOLS];

    for (int i = 0; i < ADB__ROW_NCOLS; i++)
        v[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
    return add_row(rd, v, err, errlen);
}

/* A min-heap of single-row results by chain position: the reorder buffer. */
typedef struct held {
    long long seq;
    PGresult *r;
} held;

static void heap_push(held *h, size_t *n, held x)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2].seq > x.seq) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static held heap_pop(held *h, size_t *n)
{
    held top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1].seq < h[c].seq)
            c++;
        if (h[c].seq >= last.seq)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

/* Reads the rows of sql (ADB__ROW_COLUMNS) in single-row mode into built
 * archives (out). With disorder (not NULL), a row of the same group as the
 * previous one but not after it in chain order sets *disorder and fails:
 * the caller then asks for the rows sorted; without, the builder refuses
 * such a row. reorder: the rows may come up to this many places early (the
 * most rows that come before a row and after it in chain order); that many
 * are held back in a reorder buffer and handed on in chain order. */
static adb_status stream_rows(adb__lc *lc, const char *sql, int nparams, const char *const *params,
                              bool stub, built_list *out, bool *disorder, size_t reorder,
                              char *err, size_t errlen)
{
    reading rd = { .lc = lc, .stub = stub, .out = out, .disorder = disorder };
    held *h = NULL;
    size_t nh = 0;
    PGresult *r;
    adb_status st = ADB_OK;

    if (reorder && !(h = calloc(reorder + 1, sizeof(*h)))) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    if (!PQsendQueryParams(lc->c, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(lc->c)) {
        adb__fmt(err, errlen, "could not read events: %s", PQerrorMessage(lc->c));
        adb__oneline(err);
        while ((r = PQgetResult(lc->c)) != NULL)
            PQclear(r);
        free(h);
        return ADB_ERR_DB_QUERY;
    }
    while ((r = PQgetResult(lc->c)) != NULL) {
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_SINGLE_TUPLE && st == ADB_OK && reorder) {
            const char *seq = PQgetisnull(r, 0, ADB_COL_CHAIN_SEQ) ? "0"
                                                                   : PQgetvalue(r, 0, ADB_COL_CHAIN_SEQ);
            heap_push(h, &nh, (held){ strtoll(seq, NULL, 10), r });
            r = NULL; /* held */
            if (nh > reorder) {
                held x = heap_pop(h, &nh);
                st = add_result(&rd, x.r, err, errlen);
                PQclear(x.r);
            }
        } else if (rs == PGRES_SINGLE_TUPLE && st == ADB_OK) {
            st = add_result(&rd, r, err, errlen);
        } else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && st == ADB_OK) {
            adb__fmt(err, errlen, "could not read events: %s", PQresultErrorMessage(r));
            adb__oneline(err);
            st = ADB_ERR_DB_QUERY;
        }
        PQclear(r);
    }
    while (nh > 0) {
        held x = heap_pop(h, &nh);
        if (st == ADB_OK)
            st = add_result(&rd, x.r, err, errlen);
        PQclear(x.r);
    }
    if (st == ADB_OK && rd.b && adb__archive_builder_rows(rd.b) > 0 &&
        !close_builder(rd.b, out, err, errlen))
        st = ADB_ERR_INTERNAL;
    adb__archive_builder_free(rd.b);
    free(rd.last_policy);
    free(rd.last_cls);
    free(h);
    return st;
}

/* The policy that applies to an archive's group, for its metadata. */
static adb_status store(adb__lc *lc, const adb__archive_built *a, char *err, size_t errlen)
{
    const char *p[] = { a->retention_policy, a->data_classification };
    PGresult *r = PQexecParams(lc->c, "SELECT policy_name, archive_after_days, retention_days"
                                      " FROM auditdb_retention_policy_for($1, $2)",
                               2, NULL, p, NULL, NULL, 0);
    adb__archive_meta_extra x = { .created_at = lc->now, .archive_after_days = -1,
                                  .retention_days = -1 };
    char id[64];
    adb_status st;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read the retention policy: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) == 1) {
        x.policy_name = PQgetvalue(r, 0, 0);
        x.archive_after_days = PQgetisnull(r, 0, 1) ? -1 : atoi(PQgetvalue(r, 0, 1));
        x.retention_days = PQgetisnull(r, 0, 2) ? -1 : atoi(PQgetvalue(r, 0, 2));
    }
    if (a->stub)
        x.deleted_at = lc->now;
    st = adb__archive_insert(lc->c, a, &x, id, err, errlen);
    if (st == ADB_OK && !a->stub) /* the subject index, in the archive's transaction */
        st = adb__archive_index_subjects(lc->c, adb__db_keys(lc->db), a, id, err, errlen);
    PQclear(r);
    return st;
}

static adb_status rows_into_archives(adb__lc *lc, const char *sql, int nparams,
                                     const char *const *params, bool stub, long long *rows,
                                     int *archives, bool *disorder, size_t reorder, char *err,
                                     size_t errlen)
{
    built_list l = { 0 };
    adb_status st = stream_rows(lc, sql, nparams, params, stub, &l, disorder, reorder, err,
                                errlen);

    for (size_t i = 0; st == ADB_OK && i < l.n; i++) {
        if ((st = store(lc, &l.a[i], err, errlen)) == ADB_OK) {
            *rows += l.a[i].rows;
            (*archives)++;
        }
    }
    built_list_free(&l);
    return st;
}

adb_status adb__lc_rows_into_archives(adb__lc *lc, const char *sql, int nparams,
                                      const char *const *params, bool stub, long long *rows,
                                      int *archives, char *err, size_t errlen)
{
    return rows_into_archives(lc, sql, nparams, params, stub, rows, archives, NULL, 0, err,
                              errlen);
}

/* ---- due groups --------------------------------------------------------- */

/* Groups with events due, one row each: organization, month (text for the
 * job's name, then its bounds), retention policy, classification, whether
 * the group's oldest event is past its retention (expire) or past its
 * archive date (archive), and those two cutoffs (the clock less the
 * policy's retention_days or archive_after_days, computed once here rather
 * than for every row later). Months first: a month's groups are worked on
 * together (one candidate scan of its partition, its pages hot in the
 * cache). One scan of the months some policy may act on (older than the
 * shortest archive_after_days or retention_days). */
static const char groups_sql[] =
    "SELECT g.organization_id, to_char(g.month, 'YYYY-MM-DD'), g.month AT TIME ZONE 'UTC',"
    " (g.month + interval '1 month') AT TIME ZONE 'UTC', g.retention_policy,"
    " g.data_classification, coalesce(g.oldest < c.expire, false),"
    " coalesce(g.oldest < c.archive, false), c.expire, c.archive"
    " FROM (SELECT organization_id, date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC') AS month,"
    "       retention_policy, data_classification, min(\"timestamp\") AS oldest"
    "       FROM audit_log"
    "      WHERE \"timestamp\" < $1::timestamptz - make_interval(days => (SELECT"
    "            least(min(archive_after_days), min(retention_days))"
    "            FROM audit_retention_policy WHERE is_active = 'true'))"
    "      GROUP BY 1, 2, 3, 4) g"
    " CROSS JOIN LATERAL auditdb_retention_policy_for(g.retention_policy, g.data_classification) p"
    " CROSS JOIN LATERAL (SELECT $1::timestamptz - make_interval(days => p.retention_days) AS expire,"
    "       $1::timestamptz - make_interval(days => p.archive_after_days) AS archive) c"
    " WHERE g.oldest < c.expire OR g.oldest < c.archive"
    " ORDER BY 2, 1, 5, 6";

enum { G_ORG, G_MONTH, G_MONTH_START, G_MONTH_END, G_POLICY, G_CLS, G_EXPIRE, G_ARCHIVE,
       G_EXPIRE_CUTOFF, G_ARCHIVE_CUTOFF };

adb_status adb__lc_due_groups(adb__lc *lc, adb__lc_groups *out, char *err, size_t errlen)
{
    const char *p[] = { lc->now };

    out->r = PQexecParams(lc->c, groups_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(out->r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not find the events due for deletion or archival: %s",
                 PQresultErrorMessage(out->r));
        adb__oneline(err);
        PQclear(out->r);
        out->r = NULL;
        return ADB_ERR_DB_QUERY;
    }
    return ADB_OK;
}

void adb__lc_groups_free(adb__lc_groups *g)
{
    PQclear(g->r);
    g->r = NULL;
}

/* The events of one group (organization_id $1, retention_policy $5 and
 * data_classification $6) of one month (from $2 to $3, the bounds of its
 * partition) older than $4. */
#define GROUP_WHERE                                                                         \
    "organization_id = $1"                                                                  \
    " AND \"timestamp\" >= $2::timestamptz AND \"timestamp\" < $3::timestamptz"              \
    " AND \"timestamp\" < $4::timestamptz"                                                  \
    " AND retention_policy IS NOT DISTINCT FROM $5::varchar"                                \
    " AND data_classification IS NOT DISTINCT FROM $6::varchar"

/* One chunk: the rows at the tuple ids $7 (candidates, below) that are
 * still of the group and due, deleted and returned. The DELETE locks each
 * row as it removes it. A candidate changed or removed by another
 * transaction since it was listed is skipped: READ COMMITTED re-checks the
 * row's new version, which is at another tuple id (and a tuple id reused
 * by a new row holds it only if that row is of the group and due as well).
 * So what comes back is exactly what this transaction deleted, and the
 * archive stored in the same transaction holds exactly that.
 *
 * The ids go through ARRAY(SELECT unnest(...)) so that the planner does not
 * see how many there are: it then reads them with a TID scan; seeing
 * thousands, it estimates that the organization's index is cheaper and
 * reads every page of the organization's rows in the month (bench: 44-54 ms
 * against 26 ms for 7,143 rows).
 *
 * A TID scan visits its tuple ids in ascending order, and the DELETE
 * returns the rows in that order. Rows reach a month's partition in about
 * chain order (concurrent writer batches leave a few out of place), and
 * the candidates tell by how much each chunk's tuple order differs
 * (reorder_needed). Up to REORDER_MAX rows, the rows are returned as they
 * are deleted (move_direct_sql) and a reorder buffer of that many puts them
 * into chain order on their way into the archive, so the archive is
 * written while the server deletes; should they come in another order
 * after all, the reader notices, and the chunk is done again from a
 * savepoint with the rows sorted by the server first (move_sorted_sql), as
 * is a chunk further out of order. That way keeps every deleted row twice
 * (the WITH query's result, then the sort) before the first is sent. */
#define MOVE_DELETE                                                                         \
    "DELETE FROM audit_log WHERE ctid = ANY (ARRAY(SELECT unnest($7::tid[])))"              \
    " AND " GROUP_WHERE
static const char move_direct_sql[] = MOVE_DELETE " RETURNING " ADB__ROW_COLUMNS;
static const char move_sorted_sql[] =
    "WITH d AS (" MOVE_DELETE " RETURNING *)"
    " SELECT " ADB__ROW_COLUMNS " FROM d ORDER BY chain_seq, id";

/* Candidates: the tuple ids of the due events of several groups of one
 * month, in one scan of its partition. The groups come as arrays
 * (organization, policy, classification, cutoff), numbered from 1 in array
 * order; $5 and $6 bound the month; rows by group and chain order, after
 * the key ($7, $8, $9) of the last one of the previous batch, at most $10. */
static const char candidates_sql[] =
    "SELECT g.n, a.ctid, a.chain_seq, a.id FROM audit_log a"
    " JOIN unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY"
    "      AS g(org, policy, cls, cutoff, n)"
    "   ON a.organization_id = g.org"
    "  AND (a.retention_policy IS NULL) = (g.policy IS NULL)"
    "  AND coalesce(a.retention_policy, '') = coalesce(g.policy, '')"
    "  AND (a.data_classification IS NULL) = (g.cls IS NULL)"
    "  AND coalesce(a.data_classification, '') = coalesce(g.cls, '')"
    " WHERE a.\"timestamp\" >= $5::timestamptz AND a.\"timestamp\" < $6::timestamptz"
    "   AND a.\"timestamp\" < g.cutoff"
    "   AND (g.n, a.chain_seq, a.id) > ($7::bigint, $8::bigint, $9::bigint)"
    " ORDER BY g.n, a.chain_seq, a.id LIMIT $10::int";

/* Candidates read per batch (8 bytes each, and 8 more while a chunk's
 * order is worked out). */
#define CANDIDATES_PER_BATCH 1000000

/* At most this many rows are held back to put a chunk into chain order
 * (the rows of a chunk with more out of place are sorted by the server). */
#define REORDER_MAX 10000

typedef struct group {
    const char *org, *month, *policy, *cls;
    const char *month_start, *month_end; /* timestamptz text */
    const char *cutoff;           /* events before it are due (timestamptz text) */
    bool archive;
    bool done;                    /* a chunk failed or waits for its retry: no more this round */
    char job[80];
    char *details;
} group;

/* A tuple id. */
typedef struct tid {
    uint32_t block;
    uint16_t offset;
} tid;

/* A chunk: at most max_rows tuple ids of one group, in chain order. */
typedef struct chunk {
    size_t group;
    tid *tids;
    size_t n, cap;
    size_t reorder;               /* rows to hold back (below); SIZE_MAX: sort on the server */
    long long rows;               /* out: events moved */
    int archives;                 /* out: archives or stubs stored */
    group *g;
} chunk;

typedef struct chunk_list {
    chunk *c;
    size_t n, cap;
} chunk_list;

static void chunks_clear(chunk_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->c[i].tids);
    l->n = 0;
}

static int tid_cmp(tid a, tid b)
{
    return a.block != b.block ? (a.block < b.block ? -1 : 1)
                              : (a.offset != b.offset ? (a.offset < b.offset ? -1 : 1) : 0);
}

/* A TID scan returns its rows in tuple id order. How far is that from
 * chain order (the chunk's order)? The most rows that come before a row in
 * tuple id order and after it in chain order: a reorder buffer that holds
 * back that many puts the rows into chain order as they come. 0 when the
 * orders agree; SIZE_MAX when more than REORDER_MAX (or out of memory).
 * Rows written by concurrent batches are a little out of place (the bench:
 * at most 90 of 7,129). */
static size_t reorder_needed(const chunk *k)
{
    size_t n = k->n, worst = 0, *by_tid = NULL, *fen = NULL;
    bool sorted = true;

    for (size_t i = 1; i < n && sorted; i++)
        sorted = tid_cmp(k->tids[i - 1], k->tids[i]) < 0;
    if (sorted)
        return 0;
    /* chain ranks in tuple id order (a stable merge sort by tuple id), then
     * for each the number of earlier ranks above it (a Fenwick tree) */
    by_tid = malloc(n * sizeof(*by_tid) * 2);
    fen = calloc(n + 1, sizeof(*fen));
    if (!by_tid || !fen) {
        free(by_tid);
        free(fen);
        return SIZE_MAX;
    }
    size_t *tmp = by_tid + n;
    for (size_t i = 0; i < n; i++)
        by_tid[i] = i;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = tid_cmp(k->tids[by_tid[j]], k->tids[by_tid[i]]) < 0 ? by_tid[j++]
                                                                               : by_tid[i++];
            while (i < mid)
                tmp[o++] = by_tid[i++];
            while (j < hi)
                tmp[o++] = by_tid[j++];
        }
        memcpy(by_tid, tmp, n * sizeof(*by_tid));
    }
    for (size_t i = 0; i < n && worst <= REORDER_MAX; i++) {
        size_t rank = by_tid[i], below = 0;
        for (size_t x = rank + 1; x > 0; x -= x & -x)
            below += fen[x];
        size_t above = i - below; /* earlier in tuple id order, later in chain order */
        if (above > worst)
            worst = above;
        for (size_t x = rank + 1; x <= n; x += x & -x)
            fen[x]++;
    }
    free(by_tid);
    free(fen);
    return worst <= REORDER_MAX ? worst : SIZE_MAX;
}

/* Appends t to an array literal as "(block,offset)" (after a comma). */
static void put_tid(adb__buf *b, bool comma, tid t)
{
    char s[32], *e = s + sizeof(s), *p = e;
    unsigned long v = t.offset;

    *--p = '"';
    *--p = ')';
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    *--p = ',';
    v = t.block;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    *--p = '(';
    *--p = '"';
    if (comma)
        *--p = ',';
    adb__buf_put(b, p, (size_t)(e - p));
}

/* One chunk: one transaction (opened by adb__lc_run_job). */
static adb_status move_chunk(adb__lc *lc, void *arg, char *err, size_t errlen)
{
    chunk *k = arg;
    group *g = k->g;
    adb__buf tids = { 0 };
    bool disorder = false;
    adb_status st;

    k->rows = 0;
    k->archives = 0;
    adb__buf_put(&tids, "{", 1);
    for (size_t i = 0; i < k->n; i++)
        put_tid(&tids, i > 0, k->tids[i]);
    adb__buf_put(&tids, "}", 1);
    if (tids.oom) {
        adb__buf_free(&tids);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    const char *p[] = { g->org, g->month_start, g->month_end, g->cutoff, g->policy, g->cls, tids.p };
    if (k->reorder != SIZE_MAX) {
        if (!adb__lc_exec(lc, "SAVEPOINT chunk", err, errlen)) {
            adb__buf_free(&tids);
            return ADB_ERR_DB_QUERY;
        }
        st = rows_into_archives(lc, move_direct_sql, 7, p, !g->archive, &k->rows, &k->archives,
                                &disorder, k->reorder, err, errlen);
        if (!disorder) {
            adb__buf_free(&tids);
            return st;
        }
        /* nothing was stored: the rows failed before */
        k->rows = 0;
        k->archives = 0;
        if (!adb__lc_exec(lc, "ROLLBACK TO SAVEPOINT chunk", err, errlen)) {
            adb__buf_free(&tids);
            return ADB_ERR_DB_QUERY;
        }
    }
    st = rows_into_archives(lc, move_sorted_sql, 7, p, !g->archive, &k->rows, &k->archives, NULL,
                            0, err, errlen);
    adb__buf_free(&tids);
    return st;
}

/* A tuple id's text "(block,offset)"; false when it is not one. */
static bool parse_tid(const char *s, tid *t)
{
    char *e;
    unsigned long block, offset;

    if (*s != '(')
        return false;
    block = strtoul(s + 1, &e, 10);
    if (*e != ',' || block > UINT32_MAX)
        return false;
    offset = strtoul(e + 1, &e, 10);
    if (*e != ')' || offset > UINT16_MAX)
        return false;
    t->block = (uint32_t)block;
    t->offset = (uint16_t)offset;
    return true;
}

/* The job name of a group: its action and a digest of its key (the key
 * itself may be longer than the column); details: the group as JSON
 * (malloc()ed, NULL when out of memory). */
static void group_job(const group *g, const char *action, char job[80], char **details)
{
    adb__buf k = { 0 };
    char digest[65];

    adb__buf_printf(&k, "%s\n%s\n%s\n%s", g->org, g->month, g->policy ? g->policy : "\\N",
                    g->cls ? g->cls : "\\N");
    adb__sha256_hex(k.p ? k.p : "", k.len, digest);
    adb__fmt(job, 80, "%s:%.40s", action, digest);
    k.len = 0;
    adb__buf_puts(&k, "{\"organizationId\":");
    adb__buf_json_string(&k, g->org, strlen(g->org));
    adb__buf_printf(&k, ",\"month\":\"%.7s\",\"retentionPolicy\":", g->month);
    if (g->policy)
        adb__buf_json_string(&k, g->policy, strlen(g->policy));
    else
        adb__buf_puts(&k, "null");
    adb__buf_puts(&k, ",\"dataClassification\":");
    if (g->cls)
        adb__buf_json_string(&k, g->cls, strlen(g->cls));
    else
        adb__buf_puts(&k, "null");
    adb__buf_puts(&k, "}");
    *details = adb__buf_take(&k, NULL);
}

/* Appends s (NULL: SQL NULL) to the array literal a. */
static void array_add(adb__buf *a, const char *s)
{
    if (a->len > 1)
        adb__buf_put(a, ",", 1);
    if (s)
        adb__buf_array_elem(a, s, strlen(s));
    else
        adb__buf_puts(a, "NULL");
}

/* Reads one batch of candidates of the groups g[0..n) (one month) into
 * chunks of at most lc->max_rows tuple ids each; key: the last candidate
 * read (in: of the previous batch; out: of this one); *more: the batch was
 * full. */
static adb_status read_candidates(adb__lc *lc, group *g, size_t n, long long key[3],
                                  chunk_list *out, bool *more, char *err, size_t errlen)
{
    adb__buf orgs = { 0 }, policies = { 0 }, classes = { 0 }, cutoffs = { 0 };
    char k[3][24], limit[24];
    long long batch = CANDIDATES_PER_BATCH > lc->max_rows ? CANDIDATES_PER_BATCH : lc->max_rows;
    long long read = 0;
    adb_status st = ADB_OK;
    PGresult *r;

    *more = false;
    adb__buf_put(&orgs, "{", 1);
    adb__buf_put(&policies, "{", 1);
    adb__buf_put(&classes, "{", 1);
    adb__buf_put(&cutoffs, "{", 1);
    for (size_t i = 0; i < n; i++) {
        array_add(&orgs, g[i].org);
        array_add(&policies, g[i].policy);
        array_add(&classes, g[i].cls);
        array_add(&cutoffs, g[i].cutoff);
    }
    adb__buf_put(&orgs, "}", 1);
    adb__buf_put(&policies, "}", 1);
    adb__buf_put(&classes, "}", 1);
    adb__buf_put(&cutoffs, "}", 1);
    for (int i = 0; i < 3; i++)
        adb__fmt(k[i], sizeof(k[i]), "%lld", key[i]);
    adb__fmt(limit, sizeof(limit), "%lld", batch);
    if (orgs.oom || policies.oom || classes.oom || cutoffs.oom) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    const char *p[] = { orgs.p, policies.p, classes.p, cutoffs.p, g[0].month_start,
                        g[0].month_end, k[0], k[1], k[2], limit };
    if (!PQsendQueryParams(lc->c, candidates_sql, 10, NULL, p, NULL, NULL, 0) ||
        !PQsetSingleRowMode(lc->c)) {
        adb__fmt(err, errlen, "could not list the due events: %s", PQerrorMessage(lc->c));
        adb__oneline(err);
        while ((r = PQgetResult(lc->c)) != NULL)
            PQclear(r);
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    while ((r = PQgetResult(lc->c)) != NULL) {
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_SINGLE_TUPLE && st == ADB_OK) {
            long long gi = strtoll(PQgetvalue(r, 0, 0), NULL, 10) - 1;
            chunk *c = out->n ? &out->c[out->n - 1] : NULL;
            tid t;
            if (gi < 0 || (size_t)gi >= n || !parse_tid(PQgetvalue(r, 0, 1), &t)) {
                adb__fmt(err, errlen, "the list of due events is not as expected (%s, %s)",
                         PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
                st = ADB_ERR_INTERNAL;
            } else if (!c || c->group != (size_t)gi || c->n >= (size_t)lc->max_rows) {
                if (out->n == out->cap) {
                    size_t cap = out->cap ? out->cap * 2 : 16;
                    chunk *np = realloc(out->c, cap * sizeof(*np));
                    if (!np) {
                        adb__fmt(err, errlen, "out of memory");
                        st = ADB_ERR_NOMEM;
                    } else {
                        out->c = np;
                        out->cap = cap;
                    }
                }
                if (st == ADB_OK) {
                    c = &out->c[out->n++];
                    memset(c, 0, sizeof(*c));
                    c->group = (size_t)gi;
                }
            }
            if (st == ADB_OK && c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 1024;
                tid *np = realloc(c->tids, cap * sizeof(*np));
                if (!np) {
                    adb__fmt(err, errlen, "out of memory");
                    st = ADB_ERR_NOMEM;
                } else {
                    c->tids = np;
                    c->cap = cap;
                }
            }
            if (st == ADB_OK) {
                c->tids[c->n++] = t;
                key[0] = gi + 1;
                key[1] = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
                key[2] = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
                read++;
            }
        } else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && st == ADB_OK) {
            adb__fmt(err, errlen, "could not list the due events: %s", PQresultErrorMessage(r));
            adb__oneline(err);
            st = ADB_ERR_DB_QUERY;
        }
        PQclear(r);
    }
    for (size_t i = 0; st == ADB_OK && i < out->n; i++)
        out->c[i].reorder = reorder_needed(&out->c[i]);
    *more = st == ADB_OK && read == batch;
out:
    adb__buf_free(&orgs);
    adb__buf_free(&policies);
    adb__buf_free(&classes);
    adb__buf_free(&cutoffs);
    return st;
}

/* Moves the due events of the groups g[0..n) (one month): candidates in
 * batches, then chunk after chunk, each its own job (transaction); a
 * failed chunk ends its group for this round. */
static adb_status move_month(adb__lc *lc, group *g, size_t n, const char *action, char *err,
                             size_t errlen)
{
    chunk_list l = { 0 };
    long long key[3] = { 0, 0, 0 };
    bool more = true;
    adb_status st = ADB_OK;

    while (st == ADB_OK && more && !adb__lc_stopping(lc)) {
        chunks_clear(&l);
        if ((st = read_candidates(lc, g, n, key, &l, &more, err, errlen)) != ADB_OK)
            break;
        for (size_t i = 0; i < l.n && st == ADB_OK && !adb__lc_stopping(lc); i++) {
            chunk *k = &l.c[i];
            group *kg = &g[k->group];
            if (kg->done)
                continue;
            k->g = kg;
            int failures = lc->rep->failures, deferred = lc->rep->deferred;
            st = adb__lc_run_job(lc, kg->job, action, kg->org, kg->details, move_chunk, k, err,
                                 errlen);
            if (st != ADB_OK || lc->rep->failures != failures || lc->rep->deferred != deferred) {
                kg->done = true;
                continue;
            }
            if (kg->archive) {
                lc->rep->events_archived += k->rows;
                lc->rep->archives_created += k->archives;
            } else {
                lc->rep->events_expired += k->rows;
                lc->rep->stubs_created += k->archives;
            }
        }
    }
    chunks_clear(&l);
    free(l.c);
    return st;
}

adb_status adb__lc_move_due(adb__lc *lc, const adb__lc_groups *due, bool archive, char *err,
                            size_t errlen)
{
    const char *action = archive ? "archive" : "expire";
    PGresult *r = due->r;
    int rows = r ? PQntuples(r) : 0;
    group *g = calloc((size_t)rows + 1, sizeof(*g));
    size_t n = 0;
    adb_status st = ADB_OK;

    if (!g) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        if (strcmp(PQgetvalue(r, i, archive ? G_ARCHIVE : G_EXPIRE), "t") != 0)
            continue;
        group *x = &g[n];
        x->org = PQgetvalue(r, i, G_ORG);
        x->month = PQgetvalue(r, i, G_MONTH);
        x->policy = PQgetisnull(r, i, G_POLICY) ? NULL : PQgetvalue(r, i, G_POLICY);
        x->cls = PQgetisnull(r, i, G_CLS) ? NULL : PQgetvalue(r, i, G_CLS);
        x->month_start = PQgetvalue(r, i, G_MONTH_START);
        x->month_end = PQgetvalue(r, i, G_MONTH_END);
        x->cutoff = PQgetvalue(r, i, archive ? G_ARCHIVE_CUTOFF : G_EXPIRE_CUTOFF);
        x->archive = archive;
        group_job(x, action, x->job, &x->details);
        n++;
        if (!x->details) {
            adb__fmt(err, errlen, "out of memory");
            st = ADB_ERR_NOMEM;
            break;
        }
    }
    /* month after month (the groups come ordered by month) */
    for (size_t i = 0; st == ADB_OK && i < n && !adb__lc_stopping(lc);) {
        size_t j = i + 1;
        while (j < n && !strcmp(g[j].month, g[i].month))
            j++;
        st = move_month(lc, g + i, j - i, action, err, errlen);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        free(g[i].details);
    free(g);
    return st;
}

/* ---- listing ------------------------------------------------------------ */

void adb__archive_entries_free(adb__archive_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        free(e[i].metadata);
    free(e);
}

static adb_status list_query(adb *db, const char *where, const char *value,
                             adb__archive_entry **out, size_t *n, char *err, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, err, errlen);
    char *sql;
    PGresult *r;

    *out = NULL;
    *n = 0;
    if (!c)
        return st;
    sql = adb__aprintf("SELECT id, coalesce(organization_id, ''), to_char(created_at AT TIME ZONE"
                       " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), metadata::text,"
                       " retrieved_count, deleted_at IS NOT NULL FROM archive_storage %s"
                       " ORDER BY organization_id, first_seq, id", where);
    const char *p[] = { value };
    r = sql ? PQexecParams(c, sql, value ? 1 : 0, NULL, value ? p : NULL, NULL, NULL, 0) : NULL;
    free(sql);
    adb_pool_release(adb__pool(db), c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not list archives: %s",
                 r ? PQresultErrorMessage(r) : "out of memory");
        adb__oneline(err);
        PQclear(r);
        return r ? ADB_ERR_DB_QUERY : ADB_ERR_NOMEM;
    }
    *out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
    if (!*out) {
        PQclear(r);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        adb__archive_entry *e = &(*out)[i];
        adb__fmt(e->id, sizeof(e->id), "%s", PQgetvalue(r, i, 0));
        adb__fmt(e->organization_id, sizeof(e->organization_id), "%s", PQgetvalue(r, i, 1));
        adb__fmt(e->created_at, sizeof(e->created_at), "%s", PQgetvalue(r, i, 2));
        e->metadata = adb__strdup(PQgetvalue(r, i, 3));
        e->retrieved_count = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        e->deleted = !strcmp(PQgetvalue(r, i, 5), "t");
        if (!e->metadata) {
            adb__archive_entries_free(*out, (size_t)i);
            *out = NULL;
            PQclear(r);
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
    }
    *n = (size_t)PQntuples(r);
    PQclear(r);
    return ADB_OK;
}

adb_status adb__archive_list(adb *db, const char *organization_id, adb__archive_entry **out,
                             size_t *n, char *err, size_t errlen)
{
    return list_query(db, organization_id ? "WHERE organization_id = $1" : "", organization_id,
                      out, n, err, errlen);
}

adb_status adb__archive_get(adb *db, const char *id, adb__archive_entry *out, char *err,
                            size_t errlen)
{
    adb__archive_entry *e = NULL;
    size_t n = 0;
    adb_status st = list_query(db, "WHERE id = $1", id, &e, &n, err, errlen);

    memset(out, 0, sizeof(*out));
    if (st == ADB_OK && n == 0) {
        adb__fmt(err, errlen, "no archive %s", id);
        st = ADB_ERR_NOT_FOUND;
    }
    if (st == ADB_OK) {
        *out = e[0];
        e[0].metadata = NULL;
    }
    adb__archive_entries_free(e, n);
    return st;
}
