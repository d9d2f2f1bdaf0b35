/*
 * statistics.c - GET /api/v1/audit/events/statistics: the caller's events
 * in a time range counted by status, action, data classification and
 * (groupBy) time bucket, in one statement as the tenant. The range is
 * required and the statement reads at most max + 1 rows of it (max:
 * AUDITDB_STATS_MAX_EVENTS, 1,000,000 unless lowered)
 * (the (organization, time) index bounds the read to the range): a range
 * holding more is refused, never counted in part and never a scan of the
 * whole table (docs/api.md, Statistics).
 */
#include "http.h"
#include "event_filter.h"
#include "jw.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define STATS_MAX_BUCKETS 10000

static const char *query_arg(void *ud, const char *name)
{
    return adb_http_arg(ud, name);
}

enum MHD_Result adb_http_events_statistics(adb_http_request *req)
{
    static const struct { const char *name; long long us; } groups[] = {
        { "hour", 3600000000LL }, { "day", 86400000000LL }, { "week", 604800000000LL },
        { "month", 2419200000000LL }, /* 28 days: the most buckets a range can make */
    };
    adb_http_filter f;
    adb_http_filter_error fe;
    const char *group = adb_http_arg(req, "groupBy");
    char cap[24], msg[200];
    adb_status st;
    const int max_events = req->state->stats_max_events;

    if (group) {
        size_t i = 0;
        while (i < sizeof(groups) / sizeof(groups[0]) && strcmp(group, groups[i].name))
            i++;
        if (i == sizeof(groups) / sizeof(groups[0]))
            return adb_http_send_invalid(req, "groupBy", "INVALID_VALUE", "groupBy must be hour, day, week or month");
    }
    adb_http_filter_init(&f);
    if (!adb_http_filter_from_query(&f, query_arg, req, req->who.organization_id, &fe)) {
        adb_http_filter_free(&f);
        return adb_http_filter_refused(req, &fe);
    }
    if (!f.has_start || !f.has_end) {
        adb_http_filter_free(&f);
        return adb_http_send_invalid(req, f.has_start ? "endDate" : "startDate", "REQUIRED",
                       "statistics need a time range: startDate and endDate");
    }
    for (size_t i = 0; group && i < sizeof(groups) / sizeof(groups[0]); i++)
        if (!strcmp(group, groups[i].name) && (f.end_us - f.start_us) / groups[i].us >= STATS_MAX_BUCKETS) {
            adb_http_filter_free(&f);
            adb__fmt(msg, sizeof(msg), "the range makes more than %d %s buckets: choose a coarser "
                     "groupBy or a shorter range", STATS_MAX_BUCKETS, group);
            return adb_http_send_invalid(req, "groupBy", "INVALID_VALUE", msg);
        }

    adb_http_sql q = { .n = 0 };
    int pg = group ? adb_http_sql_param(&q, group) : 0;
    adb__buf_puts(&q.text, "SELECT CASE WHEN grouping(status) = 0 THEN 's' WHEN grouping(action) = 0"
                           " THEN 'a' WHEN grouping(data_classification) = 0 THEN 'c'"
                           " WHEN grouping(target_resource_type) = 0 THEN 'r'");
    if (group)
        adb__buf_puts(&q.text, " WHEN grouping(b) = 0 THEN 't'");
    adb__buf_puts(&q.text, " ELSE 'n' END, CASE WHEN grouping(status) = 0 THEN status"
                           " WHEN grouping(action) = 0 THEN action"
                           " WHEN grouping(data_classification) = 0 THEN data_classification"
                           " WHEN grouping(target_resource_type) = 0 THEN target_resource_type");
    if (group)
        adb__buf_puts(&q.text, " WHEN grouping(b) = 0 THEN to_char(b, 'YYYY-MM-DD\"T\"HH24:MI:SS\".000Z\"')");
    adb__buf_printf(&q.text, " END, count(*) FROM (SELECT status, action, data_classification, target_resource_type%s"
                    " FROM audit_log WHERE organization_id = $%d",
                    group ? ", date_trunc($1, \"timestamp\" AT TIME ZONE 'UTC') AS b" : "",
                    adb_http_sql_param(&q, req->who.organization_id));
    adb_http_filter_where(&f, &q);
    adb__fmt(cap, sizeof(cap), "%d", max_events + 1);
    adb__buf_printf(&q.text, " LIMIT $%d::int) s GROUP BY GROUPING SETS ((status), (action),"
                    " (data_classification), (target_resource_type),%s ()) ORDER BY 1, 2", adb_http_sql_param(&q, cap),
                    group ? " (b)," : "");
    (void)pg;
    PGresult *r = q.text.oom ? NULL
                             : adb_tenant_query(req->state->db, req->who.organization_id, q.text.p,
                                                q.n, (const char *const *)q.param, ADB_PLAN_CUSTOM,
                                                NULL, 0, NULL, &st);
    adb_http_sql_free(&q);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        adb_http_filter_free(&f);
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "the database is unavailable: retry later", 1000);
    }
    long long total = 0;
    for (int i = 0; i < PQntuples(r); i++)
        if (PQgetvalue(r, i, 0)[0] == 'n')
            total = strtoll(PQgetvalue(r, i, 2), NULL, 10);
    if (total > max_events) {
        PQclear(r);
        adb_http_filter_free(&f);
        adb__fmt(msg, sizeof(msg), "the range holds more than %d events: count a shorter range "
                 "(or several) or narrow the filters", max_events);
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "RANGE_TOO_LARGE", msg,
                                   json_pack("{s:[{s:s, s:s, s:s}], s:i}", "errors", "code",
                                             "RANGE_TOO_LARGE", "field", "startDate", "message",
                                             msg, "maxEvents", max_events));
    }
    /* every status and classification the client knows is present, counted or 0 */
    static const char *const statuses[] = { "attempt", "success", "failure" };
    static const char *const classes[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI" };
    static const struct { char kind; const char *member; const char *const *keys; size_t nkeys; } maps[] = {
        { 's', "eventsByStatus", statuses, 3 }, { 'a', "eventsByAction", NULL, 0 },
        { 'c', "eventsByDataClassification", classes, 4 },
        { 'r', "eventsByResourceType", NULL, 0 }, /* events without one are not in it */
    };
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_kint(&w, "totalEvents", total);
    for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
        jw_key(&w, maps[m].member);
        jw_obj(&w);
        for (size_t k = 0; k < maps[m].nkeys; k++) { /* the known ones first, 0 unless counted */
            long long n = 0;
            for (int i = 0; i < PQntuples(r); i++)
                if (PQgetvalue(r, i, 0)[0] == maps[m].kind && !strcmp(PQgetvalue(r, i, 1), maps[m].keys[k]))
                    n = strtoll(PQgetvalue(r, i, 2), NULL, 10);
            jw_kint(&w, maps[m].keys[k], n);
        }
        for (int i = 0; i < PQntuples(r); i++) {
            if (PQgetvalue(r, i, 0)[0] != maps[m].kind || PQgetisnull(r, i, 1))
                continue;
            bool known = false;
            for (size_t k = 0; k < maps[m].nkeys; k++)
                known = known || !strcmp(PQgetvalue(r, i, 1), maps[m].keys[k]);
            if (!known)
                jw_kint(&w, PQgetvalue(r, i, 1), strtoll(PQgetvalue(r, i, 2), NULL, 10));
        }
        jw_end_obj(&w);
    }
    if (group) {
        jw_key(&w, "timeline");
        jw_arr(&w);
        for (int i = 0; i < PQntuples(r); i++) {
            if (PQgetvalue(r, i, 0)[0] != 't')
                continue;
            jw_obj(&w);
            jw_kstr(&w, "timestamp", PQgetvalue(r, i, 1));
            jw_kint(&w, "count", strtoll(PQgetvalue(r, i, 2), NULL, 10));
            jw_end_obj(&w);
        }
        jw_end_arr(&w);
        jw_kstr(&w, "groupBy", group);
    }
    jw_end_obj(&w);
    PQclear(r);
    adb_http_filter_free(&f);
    size_t len;
    char *text = jw_take(&w, &len);
    return adb_http_send_text(req, MHD_HTTP_OK, text, len, "application/json");
}
