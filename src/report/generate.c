/*
 * generate.c - one report from request to stored artifact (report.h): the
 * request checked, the row inserted 'running', the document built by the
 * type's builder (report_*.c) in one tenant transaction with the checkpoint
 * it read (provenance.c), rendered, hashed, signed with the log key and
 * stored as completed in that transaction. docs/reports.md.
 */
#include <stdlib.h>
#include <string.h>

#include "provenance.h"
#include "report_store.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../event/event_id.h"
#include "../log/note.h"

typedef struct type_info {
    const char *type, *slug, *title;
    adb_status (*build)(adb__report_ctx *x);
} type_info;

static const type_info types[] = {
    { "HIPAA_AUDIT_TRAIL", "hipaa-audit-trail", "HIPAA audit trail", adb__report_hipaa },
    { "GDPR_PROCESSING_ACTIVITIES", "gdpr-processing-activities", "GDPR processing activities",
      adb__report_gdpr },
    { "INTEGRITY_VERIFICATION", "integrity-verification", "Integrity verification",
      adb__report_integrity },
    { "GENERAL_COMPLIANCE", "general-compliance", "General compliance", adb__report_general },
    { "CUSTOM_REPORT", "custom-report", "Custom report", adb__report_custom },
};

static const char *const formats[] = { "json", "csv", "xml", "pdf", "xlsx" };

bool adb__report_stop(const adb__report_ctx *x)
{
    if (x->rq->should_stop && x->rq->should_stop(x->rq->ud))
        return true;
    /* a cancel through the API marks the row: seen at the next step, on the
     * report's own connection (READ COMMITTED: the cancel's commit is visible) */
    if (!x->report_id || !x->c)
        return false;
    const char *p[] = { x->report_id };
    PGresult *r = PQexecParams(x->c, "SELECT status FROM compliance_reports WHERE id = $1", 1,
                               NULL, p, NULL, NULL, 0);
    bool stop = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                !strcmp(PQgetvalue(r, 0, 0), "cancelled");
    PQclear(r);
    return stop;
}

bool adb__report_step(adb__report_ctx *x, int pct, const char *step)
{
    if (x->report_id) {
        char p[12];
        adb_status st;
        adb__fmt(p, sizeof(p), "%d", pct < 0 ? 0 : pct > 100 ? 100 : pct);
        const char *params[] = { x->report_id, p, step };
        PGresult *r = adb_tenant_query(x->h, x->rq->org,
                                       "UPDATE compliance_reports SET progress ="
                                       " GREATEST(progress, $2::int), progress_step = $3,"
                                       " progress_at = clock_timestamp()"
                                       " WHERE id = $1 AND status = 'running'",
                                       3, params, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
        PQclear(r); /* progress is information: a failed write does not fail the report */
    }
#ifdef ADB_TEST_BUILD
    /* tests watch the progress move and cancel a report mid-way */
    const char *delay = getenv("AUDITDB_REPORT_TEST_STEP_MS");
    long long ms;
    if (delay && adb__parse_int(delay, 1, 600000, &ms)) {
        double until = adb__now_ms() + (double)ms;
        while (adb__now_ms() < until && !adb__report_stop(x))
            adb__sleep_ms(20);
    }
#endif
    return adb__report_stop(x);
}

const char *adb__report_status_of(double score, long long events, long long violations)
{
    if (events <= 0)
        return "unknown";
    if (violations == 0 && score >= 100.0)
        return "compliant";
    return score >= 80.0 ? "partial" : "non_compliant";
}

static adb_status check_request(const adb__report_request *rq, const type_info **ti, char *field,
                                size_t fieldlen, char *err, size_t errlen)
{
    *ti = NULL;
    if (!rq->org || !*rq->org) {
        adb__fmt(field, fieldlen, "organizationId");
        adb__fmt(err, errlen, "the organization is required");
        return ADB_ERR_INVALID;
    }
    for (size_t i = 0; rq->type && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].type, rq->type))
            *ti = &types[i];
    if (!*ti) {
        adb__fmt(field, fieldlen, "type");
        adb__fmt(err, errlen, "type must be one of HIPAA_AUDIT_TRAIL, GDPR_PROCESSING_ACTIVITIES,"
                 " INTEGRITY_VERIFICATION, GENERAL_COMPLIANCE, CUSTOM_REPORT");
        return ADB_ERR_INVALID;
    }
    bool fok = false;
    for (size_t i = 0; rq->format && i < sizeof(formats) / sizeof(formats[0]); i++)
        fok = fok || !strcmp(formats[i], rq->format);
    if (!fok) {
        adb__fmt(field, fieldlen, "format");
        adb__fmt(err, errlen, "format must be one of json, csv, xml, pdf, xlsx");
        return ADB_ERR_INVALID;
    }
    if (!strcmp(rq->type, "CUSTOM_REPORT") && !json_is_object(rq->custom)) {
        adb__fmt(field, fieldlen, "custom");
        adb__fmt(err, errlen, "a custom report needs its parameters (name, criteria, template)");
        return ADB_ERR_INVALID;
    }
    return ADB_OK;
}

/* The artifact: JSON is the source, jansson's compact dump of the document
 * (the same bytes render.c's "json" gives); the others are renderings. */
static adb_status render(const json_t *doc, const char *fmt, adb__report_result *out, char *err,
                         size_t errlen)
{
    if (!strcmp(fmt, "json")) {
        char *s = json_dumps(doc, JSON_COMPACT);
        if (!s) {
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
        out->artifact = (unsigned char *)s;
        out->artifact_len = strlen(s);
        out->content_type = "application/json";
        return ADB_OK;
    }
    adb__buf b = { 0 };
    adb_status st = adb__report_render(doc, fmt, &b, &out->content_type, err, errlen);
    if (st != ADB_OK) {
        adb__buf_free(&b);
        return st;
    }
    if (b.oom) {
        adb__buf_free(&b);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    size_t len = b.len;
    out->artifact = (unsigned char *)adb__buf_take(&b, NULL);
    out->artifact_len = len;
    if (!out->artifact) { /* an empty rendering */
        out->artifact = (unsigned char *)strdup("");
        out->artifact_len = 0;
    }
    return ADB_OK;
}

adb_status adb__report_generate(adb *h, const adb__report_request *rq, adb__report_result *out,
                                char *field, size_t fieldlen, char *err, size_t errlen)
{
    const type_info *ti;
    adb__report_ctx x = { .h = h, .rq = rq, .field = field, .fieldlen = fieldlen, .err = err,
                          .errlen = errlen };
    adb__report_prov prov;
    char ts[ADB_TS_TEXT_MAX], note_err[256];
    char *note_text = NULL, *note = NULL;
    adb_status st;
    bool stored = false, commit = false;
    double t0 = adb__now_ms();

    memset(out, 0, sizeof(*out));
    if (field && fieldlen)
        field[0] = '\0';
    if (err && errlen)
        err[0] = '\0';
    if ((st = check_request(rq, &ti, field, fieldlen, err, errlen)) != ADB_OK)
        return st;
    const json_t *criteria = rq->criteria;
    if (!criteria && rq->custom)
        criteria = json_object_get(rq->custom, "criteria");
    if ((st = adb__rq_base_init(&x.base, rq->org, criteria, field, fieldlen, err, errlen)) !=
        ADB_OK)
        return st;
    if (!adb__event_id_new(adb__now_us(), out->report_id)) {
        adb__fmt(err, errlen, "could not draw a report id");
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    if ((st = adb__report_store_begin(h, rq, out->report_id, x.base.start, x.base.end, err,
                                      errlen)) != ADB_OK) {
        if (st == ADB_ERR_NOT_FOUND)
            adb__fmt(field, fieldlen, "%s", strstr(err, "organization") ? "organizationId"
                                                                       : "scheduledReportId");
        goto out;
    }
    stored = true;
    x.report_id = out->report_id;
    if (rq->started)
        rq->started(rq->ud, out->report_id);
    if (!(x.c = adb_tenant_begin(h, rq->org, &st, err, errlen)))
        goto out;
    adb__timestamp_format(adb__now_us(), ts);
    char *title = adb__aprintf("%s: %s", ti->title, rq->org);
    x.doc = json_pack("{s:s, s:s, s:s, s:O, s:s*, s:s, s:{s:s, s:s}, s:[], s:[], s:[]}", "id",
                      out->report_id, "type", ti->type, "generatedAt", ts, "criteria", criteria,
                      "title", title, "organizationId", rq->org, "period", "start", x.base.start,
                      "end", x.base.end, "figures", "tables", "charts");
    free(title);
    if (!x.doc) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    x.figures = json_object_get(x.doc, "figures");
    x.tables = json_object_get(x.doc, "tables");
    x.charts = json_object_get(x.doc, "charts");
    /* the checkpoint first: every event the figures count was committed before
     * the tree head read here or is at most newer than it */
    if ((st = adb__report_provenance(&x, &prov)) != ADB_OK)
        goto out;
    if (adb__report_step(&x, 10, "checkpoint")) {
        st = ADB_ERR_BUSY;
        goto out;
    }
    if ((st = ti->build(&x)) != ADB_OK)
        goto out;
    if (adb__report_step(&x, 85, "computed")) {
        st = ADB_ERR_BUSY;
        goto out;
    }
    json_object_set_new(
        x.doc, "metadata",
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:I, s:f, s:O}", "generatedBy",
                  rq->generated_by ? rq->generated_by : "auditdb", "generatedAt", ts, "reportId",
                  out->report_id, "version", "1", "dataRange", "startDate", x.base.start,
                  "endDate", x.base.end, "totalEvents", (json_int_t)x.records, "processingTime",
                  adb__now_ms() - t0, "filters", criteria));
    out->records = x.records;
    if ((st = render(x.doc, rq->format, out, err, errlen)) != ADB_OK) {
        adb__fmt(field, fieldlen, "format");
        goto out;
    }
    if (adb__report_step(&x, 92, "rendered")) {
        st = ADB_ERR_BUSY;
        goto out;
    }
    adb__sha256_hex(out->artifact, out->artifact_len, out->sha256_hex);
    char day[11];
    memcpy(day, x.base.start, 10);
    day[10] = '\0';
    adb__fmt(out->filename, sizeof(out->filename), "%s-%s.%s", ti->slug, day, rq->format);
    note_text = adb__report_note_text(&prov, out->report_id, ti->type, x.base.start, x.base.end,
                                      out->sha256_hex);
    const adb__note_signer *signer = rq->signer ? rq->signer : adb__db_log_signer(h);
    if (!note_text) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    if (signer) {
        size_t nlen;
        note = adb__note_sign(signer, note_text, strlen(note_text), 0, &nlen, note_err,
                              sizeof(note_err));
        if (!note) {
            adb__fmt(err, errlen, "could not sign the report: %s", note_err);
            st = ADB_ERR_INTERNAL;
            goto out;
        }
    }
    char rb[45];
    adb__note_b64_encode(prov.root, 32, rb);
    st = adb__report_store_complete(x.c, out->report_id, x.doc, out, (long long)prov.size, rb,
                                    note, err, errlen);
    if (st != ADB_OK)
        goto out;
    commit = true;
    out->doc = x.doc;
    x.doc = NULL;
out:;
    /* stopped by its server (not a cancel): failed with the reason */
    const char *reason = st == ADB_ERR_BUSY && rq->stop_reason ? rq->stop_reason(rq->ud) : NULL;
    if (reason)
        adb__fmt(err, errlen, "%s", reason);
    if (st == ADB_ERR_BUSY && (!err || !err[0]))
        adb__fmt(err, errlen, "the report was cancelled");
    if (x.c)
        adb_tenant_end(h, x.c, commit);
    if (stored && !commit)
        adb__report_store_fail(h, rq->org, out->report_id, st == ADB_ERR_BUSY && !reason, err);
    if (!commit) {
        char id[64];
        memcpy(id, out->report_id, sizeof(id));
        adb__report_result_free(out);
        memcpy(out->report_id, id, sizeof(id)); /* the failed row's id */
    }
    free(note);
    free(note_text);
    json_decref(x.doc);
    adb__rq_base_free(&x.base);
    return st;
}

void adb__report_result_free(adb__report_result *r)
{
    if (!r)
        return;
    json_decref(r->doc);
    free(r->artifact);
    memset(r, 0, sizeof(*r));
}
