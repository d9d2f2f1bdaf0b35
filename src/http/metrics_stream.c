/*
 * metrics_stream.c - the metrics routes smart-logs' client reads as streams
 * (docs/monitoring.md "Streams"):
 *
 * - POST /api/v1/metrics/historical/stream: the organization's series (audit,
 *   performance, usage) by minute, hour or day over a range of up to
 *   MX_RANGE_MAX_DAYS, one JSON object a line (or CSV), written as the client
 *   reads it (pull.h): each piece is 1000 buckets of one kind, computed as the
 *   tenant in its own short transaction, so a year by the minute costs a
 *   bounded buffer, never the whole answer in memory.
 * - GET /api/v1/metrics/stream and /api/v1/metrics/sse: Server-Sent Events.
 *   One connection answers the current figures (one event per type asked,
 *   and the open alerts when asked) and a `retry` of the update interval,
 *   then ends; the EventSource reconnects after that interval, so updates
 *   arrive every interval while the server holds no thread, no connection
 *   and no timer per subscriber between them. A WebSocket handshake is
 *   refused with a 400 saying to use these.
 */
#include "metrics_api.h"
#include "pull.h"
#include "../alert/alert.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PIECE_BUCKETS 1000
#define LIVE_INTERVAL_DEFAULT_S 30
#define LIVE_ALERTS_MAX 10

static const char *const kinds_known[] = { "audit", "performance", "usage", NULL };

static const char *kind_named(const char *s)
{
    for (int i = 0; s && kinds_known[i]; i++)
        if (!strcmp(s, kinds_known[i]))
            return kinds_known[i];
    return NULL;
}

/* ---- POST /api/v1/metrics/historical/stream ------------------------------ */

typedef struct hist_src {
    adb *db;
    char org[256];
    const char *kinds[3];
    int nkinds, k;        /* the kinds asked, and the one being written */
    const char *unit;     /* minute, hour, day */
    int64_t unit_us;
    int64_t start_us, end_us, at_us; /* the range, and where the next piece starts */
    bool csv;
} hist_src;

static void hist_free(void *ctx)
{
    free(ctx);
}

static void csv_num(adb__buf *out, const json_t *v)
{
    if (json_is_integer(v))
        adb__buf_printf(out, "%lld", (long long)json_integer_value(v));
    else
        adb__buf_printf(out, "%.6g", json_number_value(v));
}

/* One piece: PIECE_BUCKETS buckets of the current kind (bucket-aligned in
 * UTC: minute, hour and day have fixed lengths), then the next kind. */
static int hist_fill(void *ctx, adb__buf *out)
{
    hist_src *s = ctx;

    if (s->csv && s->k == 0 && s->at_us == s->start_us)
        adb__buf_puts(out, "type,timestamp,metric,value\r\n");
    int64_t piece_end = (s->at_us / s->unit_us) * s->unit_us + PIECE_BUCKETS * s->unit_us;
    if (piece_end > s->end_us)
        piece_end = s->end_us;
    mx_range r = { .start_us = s->at_us, .end_us = piece_end };
    mx_iso_us(r.start_us, r.start);
    mx_iso_us(r.end_us, r.end);
    PGconn *c = mx_tenant_begin_as(s->db, s->org);
    if (!c)
        return -1;
    const char *kind = s->kinds[s->k];
    json_t *a = mx_tenant_series(c, s->org, kind, &r, s->unit);
    adb_tenant_end(s->db, c, a != NULL);
    if (!a)
        return -1;
    size_t i;
    json_t *pt;
    json_array_foreach(a, i, pt) {
        if (s->csv) {
            const char *ts = json_string_value(json_object_get(pt, "timestamp"));
            const char *name;
            json_t *v;
            json_object_foreach(pt, name, v) {
                if (!json_is_number(v))
                    continue;
                adb__buf_printf(out, "%s,%s,%s,", kind, ts ? ts : "", name); /* our own names */
                csv_num(out, v);
                adb__buf_puts(out, "\r\n");
            }
        } else {
            json_object_set_new(pt, "type", json_string(kind));
            char *line = json_dumps(pt, JSON_COMPACT);
            if (!line) {
                json_decref(a);
                return -1;
            }
            adb__buf_puts(out, line);
            adb__buf_puts(out, "\n");
            free(line);
        }
    }
    json_decref(a);
    if (out->oom)
        return -1;
    s->at_us = piece_end;
    if (s->at_us >= s->end_us) {
        if (++s->k >= s->nkinds)
            return 0;
        s->at_us = s->start_us;
    }
    return 1;
}

enum MHD_Result adb_http_metrics_historical_stream(adb_http_request *req)
{
    static const char *const members[] = { "metrics", "timeRange", "resolution", "format", NULL };
    enum MHD_Result res = MHD_NO;
    json_error_t je;
    mx_range rg;

    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON",
                                     "the body is {\"metrics\": [\"audit\"|\"performance\"|\"usage\"], "
                                     "\"timeRange\": {\"startDate\", \"endDate\"}, \"resolution\"?, \"format\"?}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool ok = false;
        for (int i = 0; members[i]; i++)
            ok = ok || !strcmp(k, members[i]);
        if (!ok) {
            char msg[128], field[80];
            adb__fmt(field, sizeof(field), "%.64s", k);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
            json_decref(body);
            return adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
        }
    }
    hist_src *s = calloc(1, sizeof(*s));
    if (!s) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    char field[32] = "metrics", msg[160] = "";
    json_t *m = json_object_get(body, "metrics");
    if (!json_is_array(m) || json_array_size(m) == 0 || json_array_size(m) > 3)
        adb__fmt(msg, sizeof(msg), "metrics is an array of 1 to 3 of audit, performance, usage");
    size_t i;
    json_array_foreach(msg[0] ? NULL : m, i, v) {
        const char *kind = kind_named(json_string_value(v));
        bool dup = false;
        for (int j = 0; kind && j < s->nkinds; j++)
            dup = dup || s->kinds[j] == kind;
        if (!kind || dup) {
            adb__fmt(field, sizeof(field), "metrics[%zu]", i);
            adb__fmt(msg, sizeof(msg), dup ? "named twice" : "a metrics type: audit, performance or usage");
            break;
        }
        s->kinds[s->nkinds++] = kind;
    }
    json_t *res_j = json_object_get(body, "resolution"), *fmt_j = json_object_get(body, "format");
    const char *unit = res_j ? json_string_value(res_j) : "hour";
    const char *format = fmt_j ? json_string_value(fmt_j) : "json";
    if (!msg[0]) {
        if (unit && !strcmp(unit, "minute"))
            s->unit = "minute", s->unit_us = 60 * 1000000LL;
        else if (unit && !strcmp(unit, "hour"))
            s->unit = "hour", s->unit_us = 3600 * 1000000LL;
        else if (unit && !strcmp(unit, "day"))
            s->unit = "day", s->unit_us = 86400 * 1000000LL;
        else
            adb__fmt(field, sizeof(field), "resolution"), adb__fmt(msg, sizeof(msg), "resolution is minute, hour or day");
    }
    if (!msg[0] && (!format || (strcmp(format, "json") && strcmp(format, "csv"))))
        adb__fmt(field, sizeof(field), "format"), adb__fmt(msg, sizeof(msg), "format is json (one object a line) or csv");
    if (msg[0]) {
        json_decref(body);
        free(s);
        return adb_http_send_invalid(req, field, "INVALID_VALUE", msg);
    }
    s->csv = !strcmp(format, "csv");
    bool ranged = mx_range_from_json(req, json_object_get(body, "timeRange"), "timeRange", 86400, &rg, &res);
    json_decref(body);
    if (!ranged) {
        free(s);
        return res;
    }
    for (int j = 0; j < s->nkinds; j++)
        if (!mx_kind_enabled(req, s->kinds[j], &res)) {
            free(s);
            return res;
        }
    s->db = req->state->db;
    adb__fmt(s->org, sizeof(s->org), "%s", req->who.organization_id);
    s->start_us = s->at_us = rg.start_us;
    s->end_us = rg.end_us;
    if (s->end_us <= s->start_us) { /* an empty range: the header (csv) and nothing else */
        bool empty_csv = s->csv;
        free(s);
        return empty_csv ? adb_http_send_text(req, MHD_HTTP_OK, adb__strdup("type,timestamp,metric,value\r\n"),
                                           strlen("type,timestamp,metric,value\r\n"), "text/csv; charset=utf-8")
                      : adb_http_send_text(req, MHD_HTTP_OK, adb__strdup(""), 0, "application/x-ndjson");
    }
    bool csv = s->csv;
    int rc = adb_http_send_pull(req, MHD_HTTP_OK, MHD_SIZE_UNKNOWN,
                                csv ? "text/csv; charset=utf-8" : "application/x-ndjson", NULL, hist_fill, s,
                                hist_free);
    if (rc == -1) /* the first piece failed: cut by the time limit (400 naming timeRange) or 503 */
        return mx_failed(req);
    return rc < 0 ? adb_http_pull_refused(req, rc) : MHD_YES;
}

/* ---- GET /api/v1/metrics/stream, /api/v1/metrics/sse ---------------------- */

/* One event: data is one line of JSON (json_dumps compact has no newline). */
static void sse_event(adb__buf *out, const char *id, const char *type, const char *ts, json_t *data)
{
    json_t *e = json_pack("{s:s, s:s, s:o}", "timestamp", ts, "type", type, "data", data);
    char *line = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!line) {
        out->oom = true;
        return;
    }
    adb__buf_printf(out, "id: %s\ndata: %s\n\n", id, line);
    free(line);
}

/* The types asked: metricsTypes (the subscription's) or metrics (the
 * enhanced stream's), comma-separated; false with field and msg. */
static bool live_types(const char *list, bool want[3], char *msg, size_t msglen)
{
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; kinds_known[i]; i++)
            if (strlen(kinds_known[i]) == n && !strncmp(p, kinds_known[i], n))
                found = i;
        if (found < 0) {
            if (n == 6 && !strncmp(p, "system", 6))
                adb__fmt(msg, msglen, "system figures are the operators' (GET /api/v1/metrics/system): "
                                      "stream audit, performance or usage");
            else
                adb__fmt(msg, msglen, "the types streamed are audit, performance and usage");
            return false;
        }
        want[found] = true;
        p += n + (p[n] == ',');
    }
    return true;
}

enum MHD_Result adb_http_metrics_live(adb_http_request *req)
{
    const char *up = adb_http_header(req, "Upgrade");
    if (up && !strcasecmp(up, "websocket"))
        return adb_http_send_invalid(req, "Upgrade", "WEBSOCKET_UNSUPPORTED",
                                     "WebSocket is not served: read this path as Server-Sent Events "
                                     "(Accept: text/event-stream), or poll GET /api/v1/metrics/{audit,performance}");
    bool want[3] = { false, false, false }, alerts = false;
    char msg[160];
    enum MHD_Result res = MHD_NO;
    const char *types = adb_http_arg(req, "metricsTypes"), *field = "metricsTypes";
    if (!types)
        types = adb_http_arg(req, "metrics"), field = "metrics";
    if (!types)
        types = "audit,performance", field = "metricsTypes";
    if (!live_types(types, want, msg, sizeof(msg)))
        return adb_http_send_invalid(req, field, "INVALID_VALUE", msg);
    /* the interval: updateInterval in seconds (the subscription), interval in ms (the enhanced stream) */
    long long interval_s = LIVE_INTERVAL_DEFAULT_S, ms;
    const char *a;
    if ((a = adb_http_arg(req, "updateInterval")) && !adb__parse_int(a, 1, 3600, &interval_s))
        return adb_http_send_invalid(req, "updateInterval", "INVALID_VALUE",
                                     "updateInterval is a number of seconds from 1 to 3600");
    if (!adb_http_arg(req, "updateInterval") && (a = adb_http_arg(req, "interval"))) {
        if (!adb__parse_int(a, 1000, 3600000, &ms))
            return adb_http_send_invalid(req, "interval", "INVALID_VALUE",
                                         "interval is a number of milliseconds from 1000 to 3600000");
        interval_s = ms / 1000;
    }
    if (!mx_bool_arg(req, "includeAlerts", false, &alerts, &res))
        return res;
    for (int i = 0; i < 3; i++)
        if (want[i] && !mx_kind_enabled(req, kinds_known[i], &res))
            return res;

    /* the figures of the last interval, up to now */
    mx_range rg;
    rg.end_us = adb__now_us();
    rg.start_us = rg.end_us - interval_s * 1000000LL;
    mx_iso_us(rg.start_us, rg.start);
    mx_iso_us(rg.end_us, rg.end);
    const char *org = req->who.organization_id;
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return mx_failed(req);
    json_t *data[3] = { NULL, NULL, NULL };
    bool ok = true;
    if (want[0])
        ok = (data[0] = mx_audit_figures(c, org, &rg, true)) != NULL;
    if (ok && want[1])
        ok = (data[1] = mx_request_figures(c, org, &rg)) != NULL;
    if (ok && want[2]) /* usage over the interval: its requests' figures, by the usage series' columns */
        ok = (data[2] = mx_tenant_series(c, org, "usage", &rg, "millennium")) != NULL;
    PGresult *ar = NULL;
    if (ok && alerts) {
        const char *p[] = { org };
        ar = mx_exec(c, "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE a.organization_id = $1"
                        " AND a.status IN ('active', 'acknowledged') ORDER BY a.updated_at DESC, a.id LIMIT 10",
                     1, p);
        ok = ar != NULL;
    }
    adb_tenant_end(req->state->db, c, ok);
    if (!ok) {
        for (int i = 0; i < 3; i++)
            json_decref(data[i]);
        PQclear(ar);
        return mx_failed(req);
    }
    char ts[48], id[64];
    mx_iso_us(rg.end_us, ts);
    adb__buf b = { 0 };
    adb__buf_printf(&b, "retry: %lld\n\n", interval_s * 1000);
    for (int i = 0; i < 3; i++) {
        if (!want[i])
            continue;
        json_t *d = data[i];
        if (i == 2) { /* one bucket over the interval, or none: the usage figures of the interval */
            json_t *pt = json_array_get(d, 0);
            json_t *u = pt ? json_deep_copy(pt) : json_pack("{s:i, s:i, s:i}", "requests", 0, "dataTransferred", 0,
                                                            "uniqueUsers", 0);
            json_decref(d);
            d = u;
            json_object_del(d, "timestamp");
        }
        json_object_set_new(d, "timeRange", json_pack("{s:s, s:s}", "startDate", rg.start, "endDate", rg.end));
        adb__fmt(id, sizeof(id), "%s/%s", ts, kinds_known[i]);
        sse_event(&b, id, kinds_known[i], ts, d);
    }
    for (int i = 0; ar && i < PQntuples(ar); i++) {
        adb__fmt(id, sizeof(id), "%s/alert/%d", ts, i);
        sse_event(&b, id, "alert", ts, adb__alert_row_json(ar, i));
    }
    PQclear(ar);
    if (b.oom) {
        adb__buf_free(&b);
        return adb_http_send_unavailable(req);
    }
    return adb_http_send_text(req, MHD_HTTP_OK, b.p, b.len, "text/event-stream; charset=utf-8");
}
