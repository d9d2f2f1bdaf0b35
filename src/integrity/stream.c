/*
 * stream.c - live rows and archived rows merged into one walk per chain.
 *
 * The live rows come from one COPY ordered by organization and chain
 * position. So that an organization whose events are all archived is walked
 * too, the COPY also yields one marker row (id NULL, chain_seq -1) for each
 * organization with archives, first in its organization: from there until
 * the organization's last live row the archives (in first-position order)
 * are opened as the walk reaches their first position and their rows merged
 * by position. Archives of one organization overlap (one per month, policy
 * and classification), so several may be open at once; each holds one zstd
 * chunk and one line. Both connections read one exported snapshot, so an
 * archival committing meanwhile neither hides rows nor shows them twice.
 */
#include "stream.h"
#include "../core/util.h"
#include "../lifecycle/archive.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TS_FORMAT "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

/* An open archive of the organization being merged, at its next row. */
typedef struct open_archive {
    adb__archive_reader *r;
    char id[64];
    bool stub;
    int64_t first_seq;
    const char *v[ADB__ROW_NCOLS];   /* valid until the reader reads again */
    int64_t seq;
} open_archive;

struct adb__stream {
    PGconn *c, *ac;
    char from[40], to[40];           /* canonical UTC text; "" open */
    /* the live row read ahead */
    char *line;
    const char *lv[ADB__ROW_NCOLS];
    bool have_live, live_end, marker;
    /* the organization whose archives are merged */
    bool merging;
    char org[256];
    PGresult *arch;                  /* its archives: id, first_seq, stub */
    int arch_next;
    open_archive *open;
    size_t nopen, capopen;
    /* problems found, handed out before anything else */
    adb__sitem *pend;
    size_t npend, cappend;
    adb_status st;
    char err[ADB_ERRMSG_MAX];
};

static int fail(adb__stream *s, adb_status st, const char *what, const char *why)
{
    if (s->st == ADB_OK) {
        s->st = st;
        adb__fmt(s->err, sizeof(s->err), "%s: %s", what, why);
        adb__oneline(s->err);
    }
    return -1;
}

/* ---- items -------------------------------------------------------------- */

void adb__sitem_free(adb__sitem *it)
{
    if (it->pq)
        PQfreemem(it->mem);
    else
        free(it->mem);
    it->mem = NULL;
}

/* Copies strings into one block owned by the item: dst[i] = copy of src[i]. */
static bool own_strings(adb__sitem *it, const char **dst, const char *const *src, int n)
{
    size_t len[ADB__ROW_NCOLS + 3], total = 0;
    char *p;

    for (int i = 0; i < n; i++)
        total += (len[i] = src[i] ? strlen(src[i]) + 1 : 0);
    if (!(it->mem = p = malloc(total ? total : 1)))
        return false;
    for (int i = 0; i < n; i++) {
        dst[i] = src[i] ? memcpy(p, src[i], len[i]) : NULL;
        p += len[i];
    }
    return true;
}

/* Queues a problem of the archive being read (its first position). */
static int push_problem(adb__stream *s, const char *kind, int64_t seq, const char *message)
{
    adb__sitem *it;

    if (s->npend == s->cappend) {
        size_t cap = s->cappend ? 2 * s->cappend : 8;
        adb__sitem *p = realloc(s->pend, cap * sizeof(*p));
        if (!p)
            return fail(s, ADB_ERR_NOMEM, "verify", "out of memory");
        s->pend = p;
        s->cappend = cap;
    }
    it = &s->pend[s->npend];
    memset(it, 0, sizeof(*it));
    it->type = ADB__SI_PROBLEM;
    it->kind = kind;
    it->seq = seq;
    const char *src[2] = { s->org, message }, *dst[2];
    if (!own_strings(it, dst, src, 2))
        return fail(s, ADB_ERR_NOMEM, "verify", "out of memory");
    it->org = dst[0];
    it->message = dst[1];
    s->npend++;
    return 0;
}

/* ---- live rows ---------------------------------------------------------- */

/* Splits one COPY text line in place into v, unescaping each field. A field
 * that is exactly \N is NULL (an escaped backslash followed by N is text). */
static bool split_copy_line(char *line, const char *v[ADB__ROW_NCOLS])
{
    int col = 0;
    char *p = line;

    for (;;) {
        char *start = p, *out = p;
        bool is_null = p[0] == '\\' && p[1] == 'N' && (p[2] == '\t' || p[2] == '\0');
        if (col >= ADB__ROW_NCOLS)
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
        v[col++] = is_null ? NULL : start;
        if (end)
            break;
        *p++ = '\0';
    }
    return col == ADB__ROW_NCOLS;
}

/* Reads the next live row ahead: 0 (s->have_live or s->live_end), -1. */
static int read_live(adb__stream *s)
{
    for (;;) {
        int n = PQgetCopyData(s->c, &s->line, 0);
        if (n == -1) {
            s->live_end = true;
            return 0;
        }
        if (n < 0)
            return fail(s, ADB_ERR_DB_QUERY, "reading events failed", PQerrorMessage(s->c));
        if (s->line[n - 1] == '\n')
            s->line[n - 1] = '\0';
        if (split_copy_line(s->line, s->lv) && s->lv[ADB_COL_ORGANIZATION_ID]) {
            s->have_live = true;
            s->marker = s->lv[ADB_COL_ID] == NULL;
            return 0;
        }
        PQfreemem(s->line);
        s->line = NULL;
    }
}

static void take_live(adb__stream *s, adb__sitem *it)
{
    memcpy(it->v, s->lv, sizeof(it->v));
    it->type = ADB__SI_ROW;
    it->org = s->lv[ADB_COL_ORGANIZATION_ID];
    it->seq = s->lv[ADB_COL_CHAIN_SEQ] ? strtoll(s->lv[ADB_COL_CHAIN_SEQ], NULL, 10) : 0;
    it->mem = s->line;
    it->pq = true;
    s->line = NULL;
    s->have_live = false;
}

/* ---- archives ----------------------------------------------------------- */

static void close_open(adb__stream *s, size_t i)
{
    adb__archive_close(s->open[i].r);
    s->open[i] = s->open[--s->nopen];
}

/* Reads open archive i's next row; at its end reports what its checks
 * found and closes it. 0, -1 (out of memory). */
static int advance(adb__stream *s, size_t i)
{
    open_archive *a = &s->open[i];
    int rc = adb__archive_next(a->r, a->v);
    const char *const *msgs;
    size_t n;

    if (rc == 1) {
        a->seq = strtoll(a->v[ADB_COL_CHAIN_SEQ], NULL, 10); /* the reader checked it */
        return 0;
    }
    n = adb__archive_problems(a->r, &msgs);
    for (size_t k = 0; k < n; k++)
        if (push_problem(s, "archive_mismatch", a->first_seq, msgs[k]) < 0)
            return -1;
    if (rc < 0 && push_problem(s, "unreadable", a->first_seq, adb__archive_error(a->r)) < 0)
        return -1;
    close_open(s, i);
    return 0;
}

/* Opens the organization's next archive and reads its first row. */
static int open_next(adb__stream *s)
{
    const char *id = PQgetvalue(s->arch, s->arch_next, 0);
    int64_t first = strtoll(PQgetvalue(s->arch, s->arch_next, 1), NULL, 10);
    bool stub = PQgetvalue(s->arch, s->arch_next, 2)[0] == 't';
    adb_status st = ADB_OK;
    char err[ADB_ERRMSG_MAX];
    adb__archive_reader *r;

    s->arch_next++;
    r = adb__archive_open_ex(s->ac, id, true, &st, err, sizeof(err));
    if (!r) {
        if (st == ADB_ERR_INVALID || st == ADB_ERR_NOT_FOUND)
            return push_problem(s, "unreadable", first, err);
        return fail(s, st, "reading an archive failed", err);
    }
    if (s->nopen == s->capopen) {
        size_t cap = s->capopen ? 2 * s->capopen : 4;
        open_archive *p = realloc(s->open, cap * sizeof(*p));
        if (!p) {
            adb__archive_close(r);
            return fail(s, ADB_ERR_NOMEM, "verify", "out of memory");
        }
        s->open = p;
        s->capopen = cap;
    }
    open_archive *a = &s->open[s->nopen++];
    memset(a, 0, sizeof(*a));
    a->r = r;
    adb__fmt(a->id, sizeof(a->id), "%s", id);
    a->stub = stub;
    a->first_seq = first;
    return advance(s, s->nopen - 1);
}

/* Hands out open archive i's row (1), or skips it when its timestamp is
 * outside the walk's bounds (0); -1 out of memory. */
static int take_archived(adb__stream *s, size_t i, adb__sitem *it)
{
    open_archive *a = &s->open[i];
    const char *ts = a->v[ADB_COL_TIMESTAMP];
    const char *src[ADB__ROW_NCOLS + 2], *dst[ADB__ROW_NCOLS + 2];

    if (!a->stub && ts && ((s->from[0] && strcmp(ts, s->from) < 0) ||
                           (s->to[0] && strcmp(ts, s->to) > 0)))
        return advance(s, i) < 0 ? -1 : 0;
    memcpy(src, a->v, sizeof(a->v));
    src[ADB__ROW_NCOLS] = s->org;
    src[ADB__ROW_NCOLS + 1] = a->id;
    if (!own_strings(it, dst, src, ADB__ROW_NCOLS + 2))
        return fail(s, ADB_ERR_NOMEM, "verify", "out of memory");
    memcpy(it->v, dst, sizeof(it->v));
    it->type = ADB__SI_ROW;
    it->org = dst[ADB__ROW_NCOLS];
    it->archive = dst[ADB__ROW_NCOLS + 1];
    it->stub = a->stub;
    it->seq = a->seq;
    return advance(s, i) < 0 ? -1 : 1;
}

/* The organization's archives, in first-position order, those whose dates
 * meet the walk's bounds (stubs included). */
static int start_merge(adb__stream *s, const char *org)
{
    const char *p[] = { org, s->from, s->to };

    adb__fmt(s->org, sizeof(s->org), "%s", org);
    PQclear(s->arch);
    s->arch = PQexecParams(s->ac,
                           "SELECT id, first_seq, deleted_at IS NOT NULL FROM archive_storage"
                           " WHERE organization_id = $1 AND payload IS NOT NULL"
                           "   AND ($2 = '' OR coalesce(metadata->'dateRange'->>'end', $2)"
                           "        COLLATE \"C\" >= $2)"
                           "   AND ($3 = '' OR coalesce(metadata->'dateRange'->>'start', $3)"
                           "        COLLATE \"C\" <= $3)"
                           " ORDER BY first_seq",
                           3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(s->arch) != PGRES_TUPLES_OK)
        return fail(s, ADB_ERR_DB_QUERY, "could not list archives", PQerrorMessage(s->ac));
    s->arch_next = 0;
    s->merging = true;
    return 0;
}

static void end_merge(adb__stream *s)
{
    while (s->nopen)
        close_open(s, s->nopen - 1);
    PQclear(s->arch);
    s->arch = NULL;
    s->merging = false;
}

/* ---- the walk ----------------------------------------------------------- */

int adb__stream_next(adb__stream *s, adb__sitem *it)
{
    memset(it, 0, sizeof(*it));
    for (;;) {
        if (s->st != ADB_OK)
            return -1;
        if (s->npend) {
            *it = s->pend[0];
            memmove(s->pend, s->pend + 1, --s->npend * sizeof(*s->pend));
            return 1;
        }
        if (!s->have_live && !s->live_end && read_live(s) < 0)
            return -1;
        if (!s->merging) {
            if (!s->have_live)
                return 0;
            if (!s->marker) {
                take_live(s, it);
                return 1;
            }
            if (start_merge(s, s->lv[ADB_COL_ORGANIZATION_ID]) < 0)
                return -1;
            PQfreemem(s->line);
            s->line = NULL;
            s->have_live = false;
            continue;
        }
        /* merging: the lowest position among the live row and the open archives */
        bool live = s->have_live && !s->marker && !strcmp(s->lv[ADB_COL_ORGANIZATION_ID], s->org);
        int64_t best = live && s->lv[ADB_COL_CHAIN_SEQ] ? strtoll(s->lv[ADB_COL_CHAIN_SEQ], NULL, 10)
                                                        : INT64_MAX;
        size_t bi = SIZE_MAX; /* a tie goes to the live row */
        for (size_t i = 0; i < s->nopen; i++)
            if (s->open[i].seq < best) {
                best = s->open[i].seq;
                bi = i;
            }
        if (bi != SIZE_MAX)
            live = false;
        if (s->arch_next < PQntuples(s->arch) &&
            strtoll(PQgetvalue(s->arch, s->arch_next, 1), NULL, 10) <= best) {
            if (open_next(s) < 0)
                return -1;
            continue;
        }
        if (live) {
            take_live(s, it);
            return 1;
        }
        if (bi == SIZE_MAX) {
            end_merge(s);
            continue;
        }
        int rc = take_archived(s, bi, it);
        if (rc != 0)
            return rc;
    }
}

/* ---- opening and closing ------------------------------------------------ */

static bool exec_ok(PGconn *c, const char *sql, int n, const char *const *p, PGresult **keep)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType t = PQresultStatus(r);
    bool ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;

    if (keep && ok)
        *keep = r;
    else
        PQclear(r);
    return ok;
}

/* A bound in the text of the rows' timestamps ("" when open). */
static int canonical_time(adb__stream *s, const char *t, char out[40])
{
    const char *p[] = { t };
    PGresult *r = NULL;

    out[0] = '\0';
    if (!t || !*t)
        return 0;
    if (!exec_ok(s->ac, "SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', " TS_FORMAT ")", 1, p,
                 &r))
        return fail(s, ADB_ERR_INVALID, "invalid time bound", PQerrorMessage(s->ac));
    adb__fmt(out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

adb__stream *adb__stream_open(PGconn *c, PGconn *ac, const char *organization_id,
                              const char *from, const char *to, adb_status *st, char *err,
                              size_t errlen)
{
    adb__stream *s = calloc(1, sizeof(*s));
    PGresult *r = NULL;
    char snap[64];

    if (!s) {
        *st = ADB_ERR_NOMEM;
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    s->c = c;
    s->ac = ac;
    if (!exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL) ||
        !exec_ok(c, "SELECT pg_export_snapshot()", 0, NULL, &r)) {
        fail(s, ADB_ERR_DB_QUERY, "could not start verification", PQerrorMessage(c));
        goto bad;
    }
    adb__fmt(snap, sizeof(snap), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strspn(snap, "0123456789ABCDEFabcdef-") != strlen(snap)) {
        fail(s, ADB_ERR_DB_QUERY, "could not start verification", "unexpected snapshot name");
        goto bad;
    }
    char set[128];
    adb__fmt(set, sizeof(set), "SET TRANSACTION SNAPSHOT '%s'", snap);
    if (!exec_ok(ac, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL) ||
        !exec_ok(ac, set, 0, NULL, NULL)) {
        fail(s, ADB_ERR_DB_QUERY, "could not start verification", PQerrorMessage(ac));
        goto bad;
    }
    if (canonical_time(s, from, s->from) < 0 || canonical_time(s, to, s->to) < 0)
        goto bad;
    const char *p[] = { organization_id ? organization_id : "", from ? from : "", to ? to : "" };
    if (!exec_ok(c, "SELECT set_config('auditdb.verify_org', $1, true),"
                    " set_config('auditdb.verify_from', $2, true),"
                    " set_config('auditdb.verify_to', $3, true)", 3, p, NULL)) {
        fail(s, ADB_ERR_DB_QUERY, "could not set the verify filter", PQerrorMessage(c));
        goto bad;
    }
    r = PQexec(c, "COPY (SELECT " ADB__ROW_COLUMNS " FROM audit_log"
                  " WHERE (current_setting('auditdb.verify_org') = ''"
                  "        OR organization_id = current_setting('auditdb.verify_org'))"
                  "   AND \"timestamp\" >= coalesce(nullif(current_setting('auditdb.verify_from'),"
                  "        ''), '-infinity')::timestamptz"
                  "   AND \"timestamp\" <= coalesce(nullif(current_setting('auditdb.verify_to'),"
                  "        ''), 'infinity')::timestamptz"
                  " UNION ALL"
                  " SELECT NULL, NULL, NULL, NULL, organization_id, NULL, NULL, NULL, NULL, NULL,"
                  "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, NULL, NULL, NULL, NULL, NULL"
                  " FROM (SELECT DISTINCT organization_id FROM archive_storage"
                  "  WHERE payload IS NOT NULL AND (current_setting('auditdb.verify_org') = ''"
                  "        OR organization_id = current_setting('auditdb.verify_org'))) a"
                  " ORDER BY organization_id, chain_seq, id) TO STDOUT");
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        fail(s, ADB_ERR_DB_QUERY, "could not read events", PQerrorMessage(c));
        PQclear(r);
        goto bad;
    }
    PQclear(r);
    *st = ADB_OK;
    return s;
bad:
    *st = s->st;
    adb__fmt(err, errlen, "%s", s->err);
    PQclear(PQexec(c, "ROLLBACK"));
    PQclear(PQexec(ac, "ROLLBACK"));
    free(s);
    return NULL;
}

adb_status adb__stream_close(adb__stream *s, char *err, size_t errlen)
{
    PGresult *r;
    adb_status st;

    if (!s->live_end && s->st == ADB_OK) /* stopped early: end the COPY */
        fail(s, ADB_ERR_DB_QUERY, "verification", "stopped before the end");
    if (!s->live_end) {
        PGcancel *cancel = PQgetCancel(s->c);
        char buf[256], *line;
        if (cancel) {
            PQcancel(cancel, buf, sizeof(buf));
            PQfreeCancel(cancel);
        }
        while (PQgetCopyData(s->c, &line, 0) > 0)
            PQfreemem(line);
    }
    while ((r = PQgetResult(s->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && s->st == ADB_OK)
            fail(s, ADB_ERR_DB_QUERY, "reading events failed", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQclear(PQexec(s->c, s->st == ADB_OK ? "COMMIT" : "ROLLBACK"));
    PQclear(PQexec(s->ac, s->st == ADB_OK ? "COMMIT" : "ROLLBACK"));
    end_merge(s);
    for (size_t i = 0; i < s->npend; i++)
        adb__sitem_free(&s->pend[i]);
    free(s->pend);
    free(s->open);
    if (s->line)
        PQfreemem(s->line);
    st = s->st;
    if (st != ADB_OK)
        adb__fmt(err, errlen, "%s", s->err);
    free(s);
    return st;
}
