/*
 * stream.c - GET /api/v1/audit/events/stream: the caller's events, oldest
 * first, one JSON object a line (NDJSON; CSV on request), in constant
 * memory: each piece is one keyset page of STREAM_BATCH rows read as the
 * tenant when the client has taken the previous one (pull.c), so no
 * connection or transaction is held between pieces (docs/api.md, Stream).
 */
#include "http.h"
#include "event_filter.h"
#include "export_format.h"
#include "pull.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define STREAM_BATCH 250

typedef struct stream_src {
    adb *db;
    char org[256];
    adb_http_filter f;
    adb_http_fmt fmt;
    bool begun, have_last;
    int64_t last_us;
    char last_id[24];
    char upto[ADB_TS_TEXT_MAX]; /* no event later than this: endDate, or the stream's start */
} stream_src;

static void stream_free(void *ctx)
{
    stream_src *s = ctx;
    adb_http_filter_free(&s->f);
    free(s);
}

/* The next keyset page after the last row sent. */
static int stream_fill(void *ctx, adb__buf *out)
{
    stream_src *s = ctx;
    adb_http_sql q = { .n = 0 };
    char ts[ADB_TS_TEXT_MAX], lim[16];
    adb_status st;

    if (!s->begun) {
        adb_http_fmt_begin(&s->fmt, out);
        s->begun = true;
    }
    adb__buf_puts(&q.text, "SELECT " ADB_EXPORT_COLUMNS " FROM audit_log WHERE organization_id = $1");
    adb_http_sql_param(&q, s->org);
    adb_http_filter_where(&s->f, &q);
    adb__buf_printf(&q.text, " AND \"timestamp\" <= $%d::timestamptz", adb_http_sql_param(&q, s->upto));
    if (s->have_last) {
        adb__timestamp_format(s->last_us, ts);
        int a = adb_http_sql_param(&q, ts), b = adb_http_sql_param(&q, s->last_id);
        /* the time alone too: it lets PostgreSQL leave out older partitions */
        adb__buf_printf(&q.text, " AND \"timestamp\" >= $%d::timestamptz AND (\"timestamp\", id) >"
                        " ($%d::timestamptz, $%d::bigint)", a, a, b);
    }
    adb__fmt(lim, sizeof(lim), "%d", STREAM_BATCH);
    adb__buf_printf(&q.text, " ORDER BY \"timestamp\", id LIMIT $%d::int", adb_http_sql_param(&q, lim));
    PGresult *r = q.text.oom ? NULL
                             : adb_tenant_query(s->db, s->org, q.text.p, q.n, (const char *const *)q.param,
                                                ADB_PLAN_CUSTOM, NULL, 0, NULL, &st);
    adb_http_sql_free(&q);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++)
        adb_http_fmt_event(&s->fmt, r, i, out);
    if (rows > 0) {
        const char *t = PQgetvalue(r, rows - 1, ADB_EXPORT_COL_TS);
        s->have_last = adb__timestamp_parse(t, strlen(t), &s->last_us);
        adb__fmt(s->last_id, sizeof(s->last_id), "%s", PQgetvalue(r, rows - 1, ADB_EXPORT_COL_ID));
    }
    PQclear(r);
    if (rows < STREAM_BATCH || !s->have_last) {
        adb_http_fmt_end(&s->fmt, out);
        return 0;
    }
    return 1;
}

static const char *query_arg(void *ud, const char *name)
{
    return adb_http_arg(ud, name);
}

enum MHD_Result adb_http_filter_refused(adb_http_request *req, const adb_http_filter_error *e)
{
    if (e->forbidden) {
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "a filter named another organization");
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", e->message,
                                   json_pack("{s:s}", "field", e->field));
    }
    return adb_http_send_invalid(req, e->field, e->code, e->message);
}

enum MHD_Result adb_http_pull_refused(adb_http_request *req, int rc)
{
    if (rc == -2)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                                   "as many streams and downloads are open as this server serves "
                                   "at once: retry shortly", 1000);
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

enum MHD_Result adb_http_events_stream(adb_http_request *req)
{
    stream_src *s = calloc(1, sizeof(*s));
    adb_http_filter_error fe;
    const char *a;
    long long batch;

    if (!s)
        return MHD_NO;
    adb_http_filter_init(&s->f);
    s->db = req->state->db;
    adb__fmt(s->org, sizeof(s->org), "%s", req->who.organization_id);
    s->fmt.kind = ADB_FMT_NDJSON;
    s->fmt.metadata = true;
    s->fmt.headers = true;
    if (!adb_http_filter_from_query(&s->f, query_arg, req, req->who.organization_id, &fe)) {
        stream_free(s);
        return adb_http_filter_refused(req, &fe);
    }
    /* json: the client reads lines whatever it asked for, so JSON is NDJSON here */
    if ((a = adb_http_arg(req, "format")) && strcmp(a, "json") &&
        (!adb_http_fmt_parse(a, &s->fmt.kind) || s->fmt.kind == ADB_FMT_XML)) {
        stream_free(s);
        return adb_http_send_invalid(req, "format", "INVALID_VALUE", "format must be ndjson, json or csv");
    }
    if ((a = adb_http_arg(req, "batchSize")) && !adb__parse_int(a, 1, 10000, &batch)) {
        stream_free(s);
        return adb_http_send_invalid(req, "batchSize", "INVALID_VALUE", "batchSize must be an integer from 1 to 10000");
    }
    if ((a = adb_http_arg(req, "includeMetadata"))) {
        if (strcmp(a, "true") && strcmp(a, "false")) {
            stream_free(s);
            return adb_http_send_invalid(req, "includeMetadata", "INVALID_VALUE", "includeMetadata must be true or false");
        }
        s->fmt.metadata = !strcmp(a, "true");
    }
    adb__timestamp_format(s->f.has_end ? s->f.end_us : adb__now_us(), s->upto);
    adb_http_fmt_kind kind = s->fmt.kind;
    int rc = adb_http_send_pull(req, MHD_HTTP_OK, MHD_SIZE_UNKNOWN, adb_http_fmt_type(kind), NULL,
                                stream_fill, s, stream_free);
    return rc < 0 ? adb_http_pull_refused(req, rc) : MHD_YES;
}
