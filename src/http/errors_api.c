/*
 * errors_api.c - the service's own failures for the operator (docs/
 * monitoring.md, "Errors"): GET /api/v1/errors, GET /api/v1/errors/
 * aggregations, POST /api/v1/errors/aggregations/{key}/resolve. Resource
 * operator.errors: no organization's key reads them.
 */
#include "monitor_routes.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/errors_store.h"

#include <string.h>


bool adb_http_monitor_page(adb_http_request *req, long long max, long long *limit,
                           long long *offset, char since[40], char until[40],
                           enum MHD_Result *res)
{
    const char *v;
    char msg[120];
    const char *names[2] = { "startDate", "endDate" };
    char *outs[2] = { since, until };

    *limit = 50;
    *offset = 0;
    if ((v = adb_http_arg(req, "limit")) && !adb__parse_int(v, 1, max, limit)) {
        adb__fmt(msg, sizeof(msg), "limit is an integer from 1 to %lld", max);
        *res = adb_http_send_invalid(req, "limit", "INVALID_VALUE", msg);
        return false;
    }
    if ((v = adb_http_arg(req, "offset")) && !adb__parse_int(v, 0, 1000000, offset)) {
        *res = adb_http_send_invalid(req, "offset", "INVALID_VALUE",
                                     "offset is an integer from 0 to 1000000");
        return false;
    }
    for (int i = 0; i < 2; i++) {
        int64_t us;
        outs[i][0] = '\0';
        if (!(v = adb_http_arg(req, names[i])))
            continue;
        if (!adb__timestamp_parse(v, strlen(v), &us)) {
            adb__fmt(msg, sizeof(msg), "%s must be an RFC 3339 date-time with an offset",
                     names[i]);
            *res = adb_http_send_invalid(req, names[i], "INVALID_FORMAT", msg);
            return false;
        }
        adb__timestamp_format(us, outs[i]);
    }
    return true;
}

/* a text filter: at most max bytes; false after the 400 */
static bool text_arg(adb_http_request *req, const char *name, size_t max, const char **out,
                     enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    char msg[120];

    *out = v && *v ? v : NULL;
    if (*out && strlen(*out) > max) {
        adb__fmt(msg, sizeof(msg), "%s must have at most %zu characters", name, max);
        *res = adb_http_send_invalid(req, name, "EXCEEDS_MAX_LENGTH", msg);
        return false;
    }
    return true;
}

static bool filters(adb_http_request *req, adb__errors_query *q, enum MHD_Result *res)
{
    static const char *const sev[] = { "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };
    if (!text_arg(req, "category", 50, &q->category, res) ||
        !text_arg(req, "severity", 20, &q->severity, res) ||
        !text_arg(req, "component", 100, &q->component, res) ||
        !text_arg(req, "code", 20, &q->code, res) ||
        !text_arg(req, "operation", 100, &q->operation, res))
        return false;
    if (q->severity) {
        bool ok = false;
        for (size_t i = 0; sev[i]; i++)
            ok = ok || strcmp(q->severity, sev[i]) == 0;
        if (!ok) {
            *res = adb_http_send_invalid(req, "severity", "INVALID_VALUE",
                                         "severity is one of LOW, MEDIUM, HIGH, CRITICAL");
            return false;
        }
    }
    return true;
}

static enum MHD_Result answer(adb_http_request *req, adb_status st, json_t *out)
{
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* GET /api/v1/errors */
enum MHD_Result adb_http_errors_list(adb_http_request *req)
{
    adb__errors_query q = { 0 };
    enum MHD_Result res = MHD_NO;
    char since[40], until[40], err[256];
    adb_status st;
    json_t *out = NULL;

    if (!filters(req, &q, &res) ||
        !text_arg(req, "aggregationKey", 40, &q.aggregation_key, &res) ||
        !text_arg(req, "organizationId", 255, &q.org, &res) ||
        !adb_http_monitor_page(req, ADB_ERRORS_LIMIT_MAX, &q.limit, &q.offset, since, until,
                               &res))
        return res;
    q.since = since[0] ? since : NULL;
    q.until = until[0] ? until : NULL;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    if (!c)
        return adb_http_send_unavailable(req);
    st = adb__errors_list(c, &q, &out, err, sizeof(err));
    adb_pool_release(req->state->pool, c);
    return answer(req, st, out);
}

/* GET /api/v1/errors/aggregations */
enum MHD_Result adb_http_errors_aggregations(adb_http_request *req)
{
    adb__errors_query q = { 0 };
    enum MHD_Result res = MHD_NO;
    char since[40], until[40], err[256];
    const char *order = NULL;
    adb_status st;
    json_t *out = NULL;

    if (!filters(req, &q, &res) ||
        !adb_http_monitor_page(req, ADB_ERRORS_LIMIT_MAX, &q.limit, &q.offset, since, until,
                               &res))
        return res;
    q.status = adb_http_arg(req, "status");
    if (q.status && strcmp(q.status, "open") && strcmp(q.status, "resolved") &&
        strcmp(q.status, "all"))
        return adb_http_send_invalid(req, "status", "INVALID_VALUE",
                                     "status is one of open, resolved, all");
    if (q.status && !strcmp(q.status, "all"))
        q.status = NULL;
    q.sort = adb_http_arg(req, "sortBy");
    if (q.sort && strcmp(q.sort, "count") && strcmp(q.sort, "lastOccurrence") &&
        strcmp(q.sort, "firstOccurrence"))
        return adb_http_send_invalid(req, "sortBy", "INVALID_VALUE",
                                     "sortBy is one of count, lastOccurrence, firstOccurrence");
    order = adb_http_arg(req, "sortOrder");
    if (order && strcmp(order, "asc") && strcmp(order, "desc"))
        return adb_http_send_invalid(req, "sortOrder", "INVALID_VALUE",
                                     "sortOrder is asc or desc");
    q.ascending = order && !strcmp(order, "asc");
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    if (!c)
        return adb_http_send_unavailable(req);
    st = adb__error_aggregations_list(c, &q, &out, err, sizeof(err));
    adb_pool_release(req->state->pool, c);
    return answer(req, st, out);
}

/* POST /api/v1/errors/aggregations/{key}/resolve  body {"notes"?} */
enum MHD_Result adb_http_errors_resolve(adb_http_request *req)
{
    static const char *const known[] = { "notes", "resolution", NULL };
    enum MHD_Result res = MHD_NO;
    const char *key = req->param[0], *notes = NULL;
    char by[64], err[256];
    bool changed = false;
    adb_status st;
    json_t *body = NULL, *agg = NULL;

    if (req->body_len > 0) {
        if (!(body = adb_http_body_object(req, known, "the body is {\"notes\": \"...\"}", &res)))
            return res;
        if (!adb_http_member_str(req, body, "notes", NULL, 2000, &notes, &res) ||
            (!notes && !adb_http_member_str(req, body, "resolution", NULL, 2000, &notes, &res))) {
            json_decref(body);
            return res;
        }
    }
    adb__fmt(by, sizeof(by), "key:%s", req->who.key_id[0] ? req->who.key_id : "unknown");
    PGconn *c = key && strlen(key) < 40 ? adb_pool_acquire(req->state->pool, &st, NULL, 0) : NULL;
    if (key && strlen(key) < 40 && !c) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    st = c ? adb__error_aggregation_resolve(c, key, by, notes, &agg, &changed, err, sizeof(err))
           : ADB_ERR_NOT_FOUND;
    if (c)
        adb_pool_release(req->state->pool, c);
    json_decref(body);
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "no error aggregation has this key", NULL);
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:o, s:b}", "aggregation", agg, "changed", changed));
}
