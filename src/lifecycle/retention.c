/*
 * retention.c - events past their policy's retention_days go (docs/archive.md):
 * an archive whose whole date range has expired is replaced by a stub that
 * keeps only its chain positions and links, and a monthly partition whose
 * events have all expired is dropped as a partition (its positions kept in
 * stubs in the same transaction), as is an emptied old one. Live events of
 * months that are not wholly expired become stubs group by group (archive.c).
 */
#include "lifecycle.h"
#include "../core/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- archives ----------------------------------------------------------- */

typedef struct expiring {
    const char *id;
    bool done;                    /* out: replaced (false: already gone or replaced) */
    long long rows;
} expiring;

/* Replaces one archive by its stub: one transaction (opened by run_job). */
static adb_status expire_one(adb__lc *lc, void *arg, char *err, size_t errlen)
{
    expiring *x = arg;
    const char *p[] = { x->id };
    PGresult *r = PQexecParams(lc->c, "SELECT metadata->>'createdAt' FROM archive_storage"
                                      " WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
                               1, NULL, p, NULL, NULL, 0);
    adb__archive_reader *rd = NULL;
    adb__archive_builder *b = NULL;
    adb__archive_built a = { 0 };
    char *meta = NULL, *created = NULL;
    adb_status st = ADB_OK;
    const char *v[ADB__ROW_NCOLS];
    int rc;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not lock archive %s: %s", x->id, PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) == 0) { /* restored or replaced meanwhile */
        PQclear(r);
        return ADB_OK;
    }
    created = adb__strdup(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!(rd = adb__archive_open(lc->c, x->id, err, errlen))) {
        st = ADB_ERR_INVALID;
        goto out;
    }
    if (!(b = adb__archive_builder_new(true))) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    while ((rc = adb__archive_next(rd, v)) == 1) {
        if (!adb__archive_builder_add(b, v, err, errlen)) {
            st = ADB_ERR_INTERNAL;
            goto out;
        }
    }
    if (rc < 0) {
        adb__fmt(err, errlen, "%s", adb__archive_error(rd));
        st = ADB_ERR_INVALID;
        goto out;
    }
    if (!adb__archive_builder_finish(b, &a, err, errlen)) {
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    const adb__archive_info *in = adb__archive_reader_info(rd);
    PGresult *pr;
    const char *pp[] = { a.retention_policy, a.data_classification };
    pr = PQexecParams(lc->c, "SELECT policy_name, archive_after_days, retention_days"
                             " FROM auditdb_retention_policy_for($1, $2)", 2, NULL, pp, NULL, NULL, 0);
    if (PQresultStatus(pr) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read the retention policy: %s", PQresultErrorMessage(pr));
        adb__oneline(err);
        PQclear(pr);
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    adb__archive_meta_extra mx = { .created_at = created ? created : lc->now,
                                   .deleted_at = lc->now, .archive_after_days = -1,
                                   .retention_days = -1,
                                   .replaced_original_sha = in->original_sha,
                                   .replaced_compressed_sha = in->compressed_sha,
                                   .replaced_size = in->original_size };
    if (PQntuples(pr) == 1) {
        mx.policy_name = PQgetvalue(pr, 0, 0);
        mx.archive_after_days = PQgetisnull(pr, 0, 1) ? -1 : atoi(PQgetvalue(pr, 0, 1));
        mx.retention_days = PQgetisnull(pr, 0, 2) ? -1 : atoi(PQgetvalue(pr, 0, 2));
    }
    meta = adb__archive_metadata_json(&a, &mx);
    PQclear(pr);
    if (!meta) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    const char *up[] = { x->id, meta, (const char *)a.payload, lc->now,
                         ADB__ARCHIVE_FORMAT " stub: chain positions of deleted events, zstd JSON "
                         "Lines in payload" };
    int lens[] = { 0, 0, (int)a.payload_len, 0, 0 };
    int fmts[] = { 0, 0, 1, 0, 0 };
    r = PQexecParams(lc->c, "UPDATE archive_storage SET metadata = $2::jsonb, payload = $3::bytea,"
                            " deleted_at = $4::timestamptz, data = $5 WHERE id = $1",
                     5, NULL, up, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not replace archive %s by its stub: %s", x->id,
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    } else {
        x->done = true;
        x->rows = a.rows;
    }
    PQclear(r);
out:
    free(created);
    free(meta);
    adb__archive_built_free(&a);
    adb__archive_builder_free(b);
    adb__archive_close(rd);
    return st;
}

adb_status adb__lc_expire_archives(adb__lc *lc, char *err, size_t errlen)
{
    const char *p[] = { lc->now };
    PGresult *r = PQexecParams(
        lc->c,
        "SELECT a.id, coalesce(a.organization_id, '') FROM archive_storage a"
        " CROSS JOIN LATERAL auditdb_retention_policy_for(a.metadata->>'retentionPolicy',"
        "   a.metadata->>'dataClassification') p"
        " WHERE a.deleted_at IS NULL AND a.payload IS NOT NULL"
        "   AND a.metadata->>'format' = '" ADB__ARCHIVE_FORMAT "'"
        "   AND (a.metadata->'dateRange'->>'end')::timestamptz"
        "       < $1::timestamptz - make_interval(days => p.retention_days)"
        " ORDER BY a.organization_id, a.first_seq",
        1, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not find the expired archives: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (int i = 0; i < PQntuples(r) && st == ADB_OK && !adb__lc_stopping(lc); i++) {
        expiring x = { PQgetvalue(r, i, 0), false, 0 };
        char job[300], details[400];
        int failures = lc->rep->failures;
        adb__fmt(job, sizeof(job), "expire-archive:%s", x.id);
        adb__fmt(details, sizeof(details), "{\"archiveId\":\"%s\"}", x.id); /* ids are ours: no escaping needed */
        st = adb__lc_run_job(lc, job, "expire-archive", PQgetvalue(r, i, 1), details, expire_one,
                             &x, err, errlen);
        if (x.done && lc->rep->failures == failures) {
            lc->rep->archives_expired++;
            lc->rep->archived_events_expired += x.rows;
        }
    }
    PQclear(r);
    return st;
}

/* ---- partitions --------------------------------------------------------- */

typedef struct dropping {
    const char *name;
    bool skip_locked;             /* another holds a conflicting lock: leave it this round */
    bool dropped;
    long long rows;
    int stubs;
} dropping;

/* Drops one partition if all its events expired, their positions kept in
 * stubs: one transaction (opened by run_job). */
static adb_status drop_one(adb__lc *lc, void *arg, char *err, size_t errlen)
{
    dropping *d = arg;
    char *q = PQescapeIdentifier(lc->c, d->name, strlen(d->name));
    char *sql = NULL;
    adb_status st = ADB_ERR_NOMEM;
    PGresult *r = NULL;
    const char *p[] = { lc->now };

    if (!q)
        goto out;
    /* writes to this month wait; reads go on until the drop itself */
    if (!(sql = adb__aprintf("LOCK TABLE %s IN SHARE MODE%s", q, d->skip_locked ? " NOWAIT" : "")))
        goto out;
    st = ADB_ERR_DB_QUERY;
    if (!adb__lc_exec(lc, "SET LOCAL lock_timeout = '5s'", err, errlen))
        goto out;
    if (d->skip_locked) {
        /* the usual holder is autovacuum, come to clean the rows archival
         * just deleted: waiting for it means deadlock_timeout (1 s) until
         * PostgreSQL cancels it; the next round drops the partition */
        if (!adb__lc_exec(lc, "SAVEPOINT lock", err, errlen))
            goto out;
        r = PQexec(lc->c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (!state || strcmp(state, "55P03") != 0) { /* lock_not_available */
                adb__fmt(err, errlen, "%s failed: %s", sql, PQresultErrorMessage(r));
                adb__oneline(err);
                goto out;
            }
            st = adb__lc_exec(lc, "ROLLBACK TO SAVEPOINT lock", err, errlen) ? ADB_OK
                                                                            : ADB_ERR_DB_QUERY;
            goto out;
        }
        PQclear(r);
        r = NULL;
    } else if (!adb__lc_exec(lc, sql, err, errlen)) {
        goto out;
    }
    free(sql);
    /* the groups some policy still keeps (or no policy covers) */
    sql = adb__aprintf("SELECT count(*) FILTER (WHERE p.retention_days IS NULL OR g.newest >="
                       " $1::timestamptz - make_interval(days => p.retention_days))"
                       " FROM (SELECT retention_policy, data_classification,"
                       "       max(\"timestamp\") AS newest FROM %s GROUP BY 1, 2) g"
                       " LEFT JOIN LATERAL auditdb_retention_policy_for(g.retention_policy,"
                       "   g.data_classification) p ON true", q);
    if (!sql) {
        st = ADB_ERR_NOMEM;
        goto out;
    }
    r = PQexecParams(lc->c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not check partition %s: %s", d->name, PQresultErrorMessage(r));
        adb__oneline(err);
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "0") != 0) { /* not wholly expired: nothing to do */
        st = ADB_OK;
        goto out;
    }
    free(sql);
    sql = adb__aprintf("SELECT " ADB__ROW_COLUMNS " FROM %s ORDER BY organization_id,"
                       " retention_policy, data_classification, chain_seq, id", q);
    if (!sql) {
        st = ADB_ERR_NOMEM;
        goto out;
    }
    if ((st = adb__lc_rows_into_archives(lc, sql, 0, NULL, true, &d->rows, &d->stubs, err,
                                         errlen)) != ADB_OK)
        goto out;
    free(sql);
    st = ADB_ERR_NOMEM;
    if (!(sql = adb__aprintf("ALTER TABLE audit_log DETACH PARTITION %s", q)))
        goto out;
    st = ADB_ERR_DB_QUERY;
    if (!adb__lc_exec(lc, sql, err, errlen))
        goto out;
    free(sql);
    st = ADB_ERR_NOMEM;
    if (!(sql = adb__aprintf("DROP TABLE %s", q)))
        goto out;
    st = ADB_ERR_DB_QUERY;
    if (!adb__lc_exec(lc, sql, err, errlen))
        goto out;
    d->dropped = true;
    st = ADB_OK;
out:
    if (st == ADB_ERR_NOMEM)
        adb__fmt(err, errlen, "out of memory");
    PQclear(r);
    free(sql);
    PQfreemem(q);
    return st;
}

adb_status adb__lc_drop_expired_partitions(adb__lc *lc, bool skip_locked, char *err,
                                           size_t errlen)
{
    const char *p[] = { lc->now };
    /* months that ended before the earliest moment any policy acts */
    PGresult *r = PQexecParams(
        lc->c,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " CROSS JOIN LATERAL (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid),"
        "   'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper_bound) b"
        " WHERE i.inhparent = 'audit_log'::regclass"
        "   AND b.upper_bound <= $1::timestamptz - make_interval(days => (SELECT"
        "       min(least(coalesce(archive_after_days, retention_days), retention_days))"
        "       FROM audit_retention_policy WHERE is_active = 'true'))"
        " ORDER BY b.upper_bound",
        1, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not list the partitions: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (int i = 0; i < PQntuples(r) && st == ADB_OK && !adb__lc_stopping(lc); i++) {
        dropping d = { PQgetvalue(r, i, 0), skip_locked, false, 0, 0 };
        char job[100], details[160];
        int failures = lc->rep->failures;
        adb__fmt(job, sizeof(job), "drop-partition:%s", d.name);
        adb__fmt(details, sizeof(details), "{\"partition\":\"%s\"}", d.name); /* audit_log_YYYY_MM */
        st = adb__lc_run_job(lc, job, "drop-partition", NULL, details, drop_one, &d, err, errlen);
        if (d.dropped && lc->rep->failures == failures) {
            lc->rep->partitions_dropped++;
            lc->rep->events_expired += d.rows;
            lc->rep->stubs_created += d.stubs;
        }
    }
    PQclear(r);
    return st;
}
