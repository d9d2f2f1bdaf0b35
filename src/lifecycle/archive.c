/*
 * archive.c - the archival run (docs/archive.md): live events whose policy
 * says they are due move into archive_storage, one archive per organization,
 * month, retention policy and classification (at most max_rows rows each).
 * Selecting and locking the rows, deleting them from audit_log and storing
 * the archive are one transaction: a crash or a concurrent run can never
 * leave an event both live and archived, or archived twice. Events past
 * their retention go the same way into stubs (positions only). Also: the
 * listing of archives.
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

/* Reads the rows of sql in single-row mode into built archives. */
static adb_status stream_rows(adb__lc *lc, const char *sql, int nparams, const char *const *params,
                              bool stub, built_list *out, char *err, size_t errlen)
{
    adb__archive_builder *b = NULL;
    PGresult *r;
    adb_status st = ADB_OK;
    char last_org[256] = "", *last_policy = NULL, *last_cls = NULL;

    if (!PQsendQueryParams(lc->c, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(lc->c)) {
        adb__fmt(err, errlen, "could not read events: %s", PQerrorMessage(lc->c));
        adb__oneline(err);
        while ((r = PQgetResult(lc->c)) != NULL)
            PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    while ((r = PQgetResult(lc->c)) != NULL) {
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_SINGLE_TUPLE && st == ADB_OK) {
            const char *v[ADB__ROW_NCOLS];
            for (int i = 0; i < ADB__ROW_NCOLS; i++)
                v[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
            const char *org = v[ADB_COL_ORGANIZATION_ID] ? v[ADB_COL_ORGANIZATION_ID] : "";
            /* a new archive at a new group or when this one is full */
            if (b && (strcmp(org, last_org) || !same_text(v[ADB_COL_RETENTION_POLICY], last_policy) ||
                      !same_text(v[ADB_COL_DATA_CLASSIFICATION], last_cls) ||
                      adb__archive_builder_rows(b) >= lc->max_rows)) {
                if (!close_builder(b, out, err, errlen))
                    st = ADB_ERR_INTERNAL;
                adb__archive_builder_free(b);
                b = NULL;
            }
            if (st == ADB_OK && !b) {
                free(last_policy);
                free(last_cls);
                adb__fmt(last_org, sizeof(last_org), "%s", org);
                last_policy = adb__strdup(v[ADB_COL_RETENTION_POLICY]);
                last_cls = adb__strdup(v[ADB_COL_DATA_CLASSIFICATION]);
                if (!(b = adb__archive_builder_new(stub))) {
                    adb__fmt(err, errlen, "out of memory");
                    st = ADB_ERR_NOMEM;
                }
            }
            if (st == ADB_OK && !adb__archive_builder_add(b, v, err, errlen))
                st = ADB_ERR_INTERNAL;
        } else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && st == ADB_OK) {
            adb__fmt(err, errlen, "could not read events: %s", PQresultErrorMessage(r));
            adb__oneline(err);
            st = ADB_ERR_DB_QUERY;
        }
        PQclear(r);
    }
    if (st == ADB_OK && b && adb__archive_builder_rows(b) > 0 && !close_builder(b, out, err, errlen))
        st = ADB_ERR_INTERNAL;
    adb__archive_builder_free(b);
    free(last_policy);
    free(last_cls);
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
    PQclear(r);
    return st;
}

adb_status adb__lc_rows_into_archives(adb__lc *lc, const char *sql, int nparams,
                                      const char *const *params, bool stub, long long *rows,
                                      int *archives, char *err, size_t errlen)
{
    built_list l = { 0 };
    adb_status st = stream_rows(lc, sql, nparams, params, stub, &l, err, errlen);

    for (size_t i = 0; st == ADB_OK && i < l.n; i++) {
        if ((st = store(lc, &l.a[i], err, errlen)) == ADB_OK) {
            *rows += l.a[i].rows;
            (*archives)++;
        }
    }
    built_list_free(&l);
    return st;
}

/* ---- due groups --------------------------------------------------------- */

typedef struct group {
    const char *org, *month, *policy, *cls;
    const char *days;             /* the policy's archive_after_days or retention_days */
    bool archive;
    long long rows;               /* out: of the last chunk */
    int archives;
} group;

/* The rows of one group older than its cutoff, at most max_rows of them,
 * locked, deleted and returned in chain order. */
static const char move_sql[] =
    "WITH s AS (SELECT id, \"timestamp\" FROM audit_log"
    "  WHERE organization_id = $1"
    "    AND \"timestamp\" >= ($2::timestamp AT TIME ZONE 'UTC')"
    "    AND \"timestamp\" < (($2::timestamp + interval '1 month') AT TIME ZONE 'UTC')"
    "    AND \"timestamp\" < $5::timestamptz - make_interval(days => $6::int)"
    "    AND retention_policy IS NOT DISTINCT FROM $3::varchar"
    "    AND data_classification IS NOT DISTINCT FROM $4::varchar"
    "  ORDER BY chain_seq, id LIMIT $7::int FOR UPDATE),"
    " d AS (DELETE FROM audit_log a USING s WHERE a.id = s.id AND a.\"timestamp\" = s.\"timestamp\""
    "    AND a.\"timestamp\" >= ($2::timestamp AT TIME ZONE 'UTC')" /* prunes to the month */
    "    AND a.\"timestamp\" < (($2::timestamp + interval '1 month') AT TIME ZONE 'UTC')"
    "  RETURNING a.*)"
    " SELECT " ADB__ROW_COLUMNS " FROM d ORDER BY chain_seq, id";

/* One chunk of a group: one transaction (opened by adb__lc_run_job). */
static adb_status move_chunk(adb__lc *lc, void *arg, char *err, size_t errlen)
{
    group *g = arg;
    char limit[16];

    adb__fmt(limit, sizeof(limit), "%d", lc->max_rows);
    const char *p[] = { g->org, g->month, g->policy, g->cls, lc->now, g->days, limit };
    g->rows = 0;
    g->archives = 0;
    return adb__lc_rows_into_archives(lc, move_sql, 7, p, !g->archive, &g->rows, &g->archives,
                                      err, errlen);
}

/* The job name of a group: its action and a digest of its key (the key
 * itself may be longer than the column). */
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

adb_status adb__lc_move_due(adb__lc *lc, bool archive, char *err, size_t errlen)
{
    const char *days = archive ? "p.archive_after_days" : "p.retention_days";
    const char *action = archive ? "archive" : "expire";
    char *sql = adb__aprintf(
        "SELECT g.organization_id, to_char(g.month, 'YYYY-MM-DD'), g.retention_policy,"
        " g.data_classification, %s"
        " FROM (SELECT organization_id, date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC') AS month,"
        "       retention_policy, data_classification, min(\"timestamp\") AS oldest"
        "       FROM audit_log"
        "      WHERE \"timestamp\" < $1::timestamptz - make_interval(days => (SELECT min(%s)"
        "            FROM audit_retention_policy WHERE is_active = 'true'))"
        "      GROUP BY 1, 2, 3, 4) g"
        " CROSS JOIN LATERAL auditdb_retention_policy_for(g.retention_policy, g.data_classification) p"
        " WHERE %s IS NOT NULL AND g.oldest < $1::timestamptz - make_interval(days => %s)"
        " ORDER BY 1, 2, 3, 4",
        days, archive ? "archive_after_days" : "retention_days", days, days);
    const char *p[] = { lc->now };
    PGresult *r;
    adb_status st = ADB_OK;

    if (!sql) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    r = PQexecParams(lc->c, sql, 1, NULL, p, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not find the events due for %s: %s",
                 archive ? "archival" : "deletion", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (int i = 0; i < PQntuples(r) && st == ADB_OK && !adb__lc_stopping(lc); i++) {
        group g = { PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                    PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
                    PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                    archive, 0, 0 };
        char job[80], *details = NULL;
        group_job(&g, action, job, &details);
        if (!details) {
            adb__fmt(err, errlen, "out of memory");
            st = ADB_ERR_NOMEM;
            break;
        }
        /* chunk after chunk until the group has nothing due; a failed chunk
         * ends the group for this round */
        int failures = lc->rep->failures, deferred = lc->rep->deferred;
        for (;;) {
            st = adb__lc_run_job(lc, job, action, g.org, details, move_chunk, &g, err, errlen);
            if (st != ADB_OK || lc->rep->failures != failures || lc->rep->deferred != deferred)
                break;
            if (archive) {
                lc->rep->events_archived += g.rows;
                lc->rep->archives_created += g.archives;
            } else {
                lc->rep->events_expired += g.rows;
                lc->rep->stubs_created += g.archives;
            }
            if (g.rows < lc->max_rows || adb__lc_stopping(lc))
                break;
        }
        free(details);
    }
    PQclear(r);
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
