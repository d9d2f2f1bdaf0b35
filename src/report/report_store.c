/*
 * report_store.c - compliance_reports rows as the tenant: begin 'running',
 * complete, fail, cancel (report_store.h).
 */
#include "report_store.h"
#include "../core/util.h"

#include <stdio.h>
#include <string.h>

adb_status adb__report_store_begin(adb *h, const adb__report_request *rq, const char *id,
                                   const char *start, const char *end, char *err, size_t errlen)
{
    adb_status st = ADB_OK;
    PGconn *c = adb_tenant_begin(h, rq->org, &st, err, errlen);
    if (!c)
        return st;
    const json_t *cj = rq->criteria ? rq->criteria : json_object_get(rq->custom, "criteria");
    char *crit = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
    const char *p[] = { id, rq->org, rq->type, rq->format, crit ? crit : "{}", start, end,
                        rq->scheduled_report_id, rq->generated_by, rq->execution_id };
    PGresult *r = PQexecParams(c,
                               "INSERT INTO compliance_reports (id, organization_id, report_type,"
                               " status, format, criteria, period_start, period_end,"
                               " scheduled_report_id, generated_by, execution_id)"
                               " VALUES ($1, $2, $3, 'running', $4, $5::jsonb, $6::timestamptz,"
                               " $7::timestamptz, $8, $9, $10)",
                               10, NULL, p, NULL, NULL, 0);
    free(crit);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        if (state && !strcmp(state, "23503")) {
            bool org = con && strstr(con, "organization_id");
            adb__fmt(err, errlen, "%s", org ? "the organization does not exist"
                                            : "the scheduled report does not exist");
            st = ADB_ERR_NOT_FOUND;
        } else {
            adb__fmt(err, errlen, "could not record the report: %s (SQLSTATE %s)",
                     PQstatus(c) == CONNECTION_OK ? "the insert failed" : "the database is unavailable",
                     state ? state : "none");
            st = ADB_ERR_DB_QUERY;
        }
    }
    PQclear(r);
    adb_tenant_end(h, c, ok);
    return ok ? ADB_OK : st;
}

adb_status adb__report_store_complete(PGconn *c, const char *id, const json_t *doc,
                                      const adb__report_result *res, long long tree_size,
                                      const char *tree_root_b64, const char *note, char *err,
                                      size_t errlen)
{
    char *data = json_dumps(doc, JSON_COMPACT);
    char recs[24], size[24];
    if (!data) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    snprintf(recs, sizeof(recs), "%lld", res->records > 2147483647 ? 2147483647 : res->records);
    snprintf(size, sizeof(size), "%lld", tree_size);
    const char *p[] = { id, data, (const char *)res->artifact, res->sha256_hex, recs,
                        res->content_type, res->filename, size, tree_root_b64, note };
    int len[10] = { 0 }, fmt[10] = { 0 };
    len[2] = (int)res->artifact_len;
    fmt[2] = 1;
    PGresult *r = PQexecParams(c,
                               "UPDATE compliance_reports SET status = 'completed',"
                               " report_data = $2::jsonb, summary = $2::jsonb, artifact = $3,"
                               " report_hash = $4, content_hash = $4, record_count = $5::int,"
                               " content_type = $6, filename = $7, tree_size = $8::bigint,"
                               " tree_root = $9, signed_note = $10, completed_at = now(),"
                               " progress = 100, progress_step = 'completed',"
                               " progress_at = clock_timestamp()"
                               " WHERE id = $1 AND status = 'running'",
                               10, NULL, p, len, fmt, 0);
    free(data);
    adb_status st = ADB_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not store the report: the database is unavailable");
        st = ADB_ERR_DB_QUERY;
    } else if (strcmp(PQcmdTuples(r), "1")) {
        adb__fmt(err, errlen, "the report was cancelled");
        st = ADB_ERR_BUSY;
    }
    PQclear(r);
    return st;
}

void adb__report_store_fail(adb *h, const char *org, const char *id, bool cancelled,
                            const char *why)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return;
    const char *p[] = { id, cancelled ? "cancelled" : "failed", why };
    PGresult *r = PQexecParams(c,
                               "UPDATE compliance_reports SET status = $2, error = $3,"
                               " completed_at = now() WHERE id = $1 AND status = 'running'",
                               3, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    adb_tenant_end(h, c, ok);
}

adb_status adb__report_cancel(adb *h, const char *org, const char *id, char status_out[16],
                              char *err, size_t errlen)
{
    adb_status st = ADB_OK;
    PGconn *c = adb_tenant_begin(h, org, &st, err, errlen);
    if (!c)
        return st;
    const char *p[] = { id };
    /* the row as it was, and whether this call cancelled it */
    PGresult *r = PQexecParams(c,
                               "WITH old AS (SELECT id, status FROM compliance_reports"
                               " WHERE id = $1 FOR UPDATE),"
                               " upd AS (UPDATE compliance_reports c SET status = 'cancelled',"
                               " error = 'cancelled', completed_at = now() FROM old"
                               " WHERE c.id = old.id AND old.status IN ('running', 'pending')"
                               " RETURNING c.id)"
                               " SELECT old.status, (SELECT count(*) FROM upd) FROM old",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not cancel the report: the database is unavailable");
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) == 0) {
        adb__fmt(err, errlen, "no report %s", id);
        st = ADB_ERR_NOT_FOUND;
    } else {
        adb__fmt(status_out, 16, "%s", PQgetvalue(r, 0, 0));
        if (strcmp(PQgetvalue(r, 0, 1), "1")) {
            adb__fmt(err, errlen, "the report has already ended (%s)", PQgetvalue(r, 0, 0));
            st = ADB_ERR_BUSY;
        }
    }
    PQclear(r);
    adb_tenant_end(h, c, st == ADB_OK);
    return st;
}

bool adb__report_is_cancelled(adb *h, const char *org, const char *id)
{
    adb_status st;
    const char *p[] = { id };
    PGresult *r = adb_tenant_query(h, org,
                                   "SELECT status FROM compliance_reports WHERE id = $1", 1, p,
                                   ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    bool c = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
             !strcmp(PQgetvalue(r, 0, 0), "cancelled");
    PQclear(r);
    return c;
}
