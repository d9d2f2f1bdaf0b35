/*
 * report_gdpr.c - GDPR processing activities (GDPR_PROCESSING_ACTIVITIES),
 * in the client's GDPRReport shape: personal-data events by action with the
 * purpose and legal basis the organization declared for each action
 * (gdpr_action_purpose, docs/gdpr.md), data subject requests with their
 * deadlines (data_subject_request: received in the period, completed,
 * refused, open, overdue), lawful erasures (audit_erasure) and the
 * retention policies in force. docs/reports.md, "Report types".
 */
#include "report_types.h"
#include "../core/util.h"
#include "../integrity/row.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Personal data: the classifications that carry it (PHI, CONFIDENTIAL). */
#define PERSONAL "data_classification IN ('PHI', 'CONFIDENTIAL')"
#define DECLARED "action IN (SELECT action FROM gdpr_action_purpose WHERE organization_id = $1)"

static const adb__rq_figure figs[] = {
    { "totalEvents", "Events in the period", "true" },
    { "personalDataEvents", "Events on personal data (PHI, CONFIDENTIAL)", PERSONAL },
    { "withDeclaredPurpose", "Personal-data events whose action has a declared purpose",
      PERSONAL " AND " DECLARED },
    { "withoutDeclaredPurpose", "Personal-data events whose action has no declared purpose",
      PERSONAL " AND NOT " DECLARED },
    { "gdprOperations", "Pseudonymizations, erasures and exports recorded", "action LIKE 'gdpr.%'" },
    { "failedPersonalDataEvents", "Failed operations on personal data",
      PERSONAL " AND status = 'failure'" },
};
#define NFIGS (sizeof(figs) / sizeof(figs[0]))

static const char DSR_SQL[] =
    "SELECT kind, count(*), count(*) FILTER (WHERE status = 'completed'),"
    " count(*) FILTER (WHERE status = 'refused'),"
    " count(*) FILTER (WHERE status NOT IN ('completed', 'refused')),"
    " count(*) FILTER (WHERE status NOT IN ('completed', 'refused')"
    "   AND coalesce(extended_until, due_at) < now()),"
    " count(*) FILTER (WHERE completed_at > coalesce(extended_until, due_at)),"
    " coalesce(round(avg(extract(epoch FROM completed_at - received_at) / 86400)"
    "   FILTER (WHERE completed_at IS NOT NULL), 2)::text, '0')"
    " FROM data_subject_request WHERE organization_id = $1"
    " AND received_at >= $2::timestamptz AND received_at <= $3::timestamptz"
    " AND kind NOT LIKE 'hipaa%' GROUP BY kind ORDER BY kind";

/* The same conditions over an archived row (report_archived.c), in figs'
 * order; ud: the organization's declared actions (a JSON array). */
static bool a_personal(const char *const *v)
{
    const char *c = v[ADB_COL_DATA_CLASSIFICATION];
    return c && (!strcmp(c, "PHI") || !strcmp(c, "CONFIDENTIAL"));
}
static bool a_declared(const char *const *v, const json_t *actions)
{
    for (size_t i = 0; v[ADB_COL_ACTION] && i < json_array_size(actions); i++)
        if (!strcmp(json_string_value(json_array_get(actions, i)), v[ADB_COL_ACTION]))
            return true;
    return false;
}
static bool a_true(const char *const *v, void *ud) { (void)v, (void)ud; return true; }
static bool a_pd(const char *const *v, void *ud) { (void)ud; return a_personal(v); }
static bool a_with(const char *const *v, void *ud) { return a_personal(v) && a_declared(v, ud); }
static bool a_without(const char *const *v, void *ud) { return a_personal(v) && !a_declared(v, ud); }
static bool a_gdpr(const char *const *v, void *ud)
{
    (void)ud;
    return v[ADB_COL_ACTION] && !strncmp(v[ADB_COL_ACTION], "gdpr.", 5);
}
static bool a_failed(const char *const *v, void *ud)
{
    (void)ud;
    return a_personal(v) && v[ADB_COL_STATUS] && !strcmp(v[ADB_COL_STATUS], "failure");
}
static const adb__rq_archived_figure afigs[] = {
    { "totalEvents", a_true },           { "personalDataEvents", a_pd },
    { "withDeclaredPurpose", a_with },   { "withoutDeclaredPurpose", a_without },
    { "gdprOperations", a_gdpr },        { "failedPersonalDataEvents", a_failed },
};

/* The organization's actions with a declared purpose, as a JSON array (new). */
static json_t *declared_actions(adb__report_ctx *x, adb_status *st)
{
    const char *p[] = { x->rq->org };
    PGresult *r = PQexecParams(x->c, "SELECT action FROM gdpr_action_purpose WHERE organization_id = $1",
                               1, NULL, p, NULL, NULL, 0);
    json_t *a = json_array();
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__rq_db_error(x->c, "read the declared purposes", x->err, x->errlen);
        *st = ADB_ERR_DB_QUERY;
    }
    for (int i = 0; *st == ADB_OK && i < PQntuples(r); i++)
        json_array_append_new(a, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    return a;
}

/* A query's one number (its params: the base's first n). */
static adb_status one(adb__report_ctx *x, const char *id, const char *label, const char *sql,
                      int n, long long *out)
{
    PGresult *r = PQexecParams(x->c, sql, n, NULL, x->base.params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        adb__rq_db_error(x->c, "count a GDPR figure", x->err, x->errlen);
        return ADB_ERR_DB_QUERY;
    }
    *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    json_t *pa = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(pa, x->base.params[k] ? json_string(x->base.params[k]) : json_null());
    json_array_append_new(x->figures, json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", id, "label",
                                                 label, "value", (json_int_t)*out, "query", sql,
                                                 "parameters", pa));
    return ADB_OK;
}

/* The client's lawful bases, from what organizations write ("Art. 6(1)(c)",
 * "legal obligation", "consent"...); NULL when none matches. */
static const char *lawful_basis(const char *s)
{
    static const struct {
        const char *needle, *basis;
    } m[] = { { "consent", "consent" },       { "6(1)(a)", "consent" },
              { "contract", "contract" },     { "6(1)(b)", "contract" },
              { "legal", "legal_obligation" }, { "6(1)(c)", "legal_obligation" },
              { "vital", "vital_interests" }, { "6(1)(d)", "vital_interests" },
              { "public", "public_task" },    { "6(1)(e)", "public_task" },
              { "legitimate", "legitimate_interests" }, { "6(1)(f)", "legitimate_interests" } };
    for (size_t i = 0; s && i < sizeof(m) / sizeof(m[0]); i++)
        if (strcasestr(s, m[i].needle))
            return m[i].basis;
    return NULL;
}

adb_status adb__report_gdpr(adb__report_ctx *x)
{
    long long v[NFIGS], subjects = 0, erasures = 0, requests = 0, overdue = 0, breaches = 0;
    adb_status st = adb__rq_figures(x->c, &x->base, figs, NFIGS, x->figures, v, x->err, x->errlen);
    if (st != ADB_OK)
        return st;
    /* archived events of the period (docs/archive.md): added to each figure */
    long long arch[NFIGS];
    json_t *declared_set = declared_actions(x, &st);
    if (st == ADB_OK)
        st = adb__rq_archived(x, afigs, NFIGS, declared_set, arch);
    json_decref(declared_set);
    if (st != ADB_OK)
        return st;
    for (size_t i = 0; i < NFIGS; i++)
        v[i] += arch[i];
    x->records = v[0];
    if (adb__report_step(x, 40, "figures"))
        return ADB_ERR_BUSY;
    if ((st = one(x, "dataSubjects", "Distinct data subjects (target resources) of personal data",
                  "SELECT count(DISTINCT target_resource_type || '/' || target_resource_id)"
                  " FROM audit_log WHERE " ADB_REPORT_BASE " AND " PERSONAL
                  " AND target_resource_id IS NOT NULL",
                  8, &subjects)) != ADB_OK ||
        (st = one(x, "erasures", "Fields lawfully erased in the period (signed records)",
                  "SELECT count(*) FROM audit_erasure WHERE organization_id = $1"
                  " AND erased_at >= $2::timestamptz AND erased_at <= $3::timestamptz",
                  3, &erasures)) != ADB_OK ||
        (st = one(x, "dataSubjectRequests", "Data subject requests received in the period",
                  "SELECT count(*) FROM data_subject_request WHERE organization_id = $1"
                  " AND received_at >= $2::timestamptz AND received_at <= $3::timestamptz"
                  " AND kind NOT LIKE 'hipaa%'",
                  3, &requests)) != ADB_OK ||
        (st = one(x, "overdueRequests", "Requests open past their deadline now",
                  "SELECT count(*) FROM data_subject_request WHERE organization_id = $1"
                  " AND received_at >= $2::timestamptz AND received_at <= $3::timestamptz"
                  " AND kind NOT LIKE 'hipaa%' AND status NOT IN ('completed', 'refused')"
                  " AND coalesce(extended_until, due_at) < now()",
                  3, &overdue)) != ADB_OK ||
        (st = one(x, "securityAlerts", "High and critical security alerts raised in the period"
                  " (possible breaches, to be assessed under Art. 33)",
                  "SELECT count(*) FROM alerts WHERE organization_id = $1"
                  " AND created_at >= $2::timestamptz AND created_at <= $3::timestamptz"
                  " AND upper(severity) IN ('HIGH', 'CRITICAL')",
                  3, &breaches)) != ADB_OK)
        return st;

    static const char *const acols[] = { "action", "events", "purpose", "legalBasis", "subjects" };
    json_t *arows = NULL;
    st = adb__rq_table(x->c, &x->base, 8, "processingActivities",
                       "Processing activities (personal-data events by action)", acols, 5,
                       "SELECT t.action, t.n, coalesce(g.purpose, ''), coalesce(g.legal_basis, ''),"
                       " t.s FROM (SELECT action, count(*) AS n, count(DISTINCT target_resource_id)"
                       " AS s FROM audit_log WHERE " ADB_REPORT_BASE " AND " PERSONAL
                       " GROUP BY action) t LEFT JOIN gdpr_action_purpose g"
                       " ON g.organization_id = $1 AND g.action = t.action"
                       " ORDER BY t.n DESC, t.action LIMIT 1000",
                       x->tables, &arows, x->err, x->errlen);
    if (st != ADB_OK)
        return st;
    static const char *const dcols[] = { "kind", "received", "completed", "refused", "open",
                                         "overdue", "completedLate", "averageDays" };
    json_t *drows = NULL;
    st = adb__rq_table(x->c, &x->base, 3, "dataSubjectRequests",
                       "Data subject requests and their deadlines", dcols, 8, DSR_SQL, x->tables,
                       &drows, x->err, x->errlen);
    if (st == ADB_OK) {
        static const char *const ecols[] = { "legalBasis", "fields", "events" };
        st = adb__rq_table(x->c, &x->base, 3, "erasures", "Lawful erasures by legal basis", ecols,
                           3,
                           "SELECT coalesce(legal_basis, ''), count(*), count(DISTINCT event_id)"
                           " FROM audit_erasure WHERE organization_id = $1"
                           " AND erased_at >= $2::timestamptz AND erased_at <= $3::timestamptz"
                           " GROUP BY 1 ORDER BY 2 DESC, 1",
                           x->tables, NULL, x->err, x->errlen);
    }
    if (st == ADB_OK) {
        static const char *const rcols[] = { "policy", "classification", "retentionDays",
                                             "archiveAfterDays", "deleteAfterDays", "active" };
        st = adb__rq_table(x->c, &x->base, 1, "retention", "Retention policies", rcols, 6,
                           "SELECT policy_name, coalesce(data_classification, ''),"
                           " retention_days::text, coalesce(archive_after_days::text, ''),"
                           " coalesce(delete_after_days::text, ''), coalesce(is_active, '')"
                           " FROM audit_retention_policy WHERE organization_id IS NULL"
                           " OR organization_id IN ($1, '*') ORDER BY policy_name",
                           x->tables, NULL, x->err, x->errlen);
    }
    if (st == ADB_OK)
        st = adb__rq_chart(x->c, &x->base, 8, "personalDataPerDay",
                           "Personal-data events per day (UTC)", "line", "events",
                           "SELECT to_char(date_trunc('day', \"timestamp\" AT TIME ZONE 'UTC'),"
                           " 'YYYY-MM-DD'), count(*) FROM audit_log WHERE " ADB_REPORT_BASE
                           " AND " PERSONAL " GROUP BY 1 ORDER BY 1",
                           x->charts, x->err, x->errlen);
    if (st == ADB_OK)
        st = adb__rq_chart(x->c, &x->base, 3, "requestsByKind", "Data subject requests by kind",
                           "bar", "requests",
                           "SELECT kind, count(*) FROM data_subject_request"
                           " WHERE organization_id = $1 AND received_at >= $2::timestamptz"
                           " AND received_at <= $3::timestamptz AND kind NOT LIKE 'hipaa%'"
                           " GROUP BY 1 ORDER BY 1",
                           x->charts, x->err, x->errlen);
    if (st != ADB_OK) {
        json_decref(arows);
        json_decref(drows);
        return st;
    }

    /* the client's shape: processing activities, lawful bases, requests, sections */
    json_t *acts = json_array(), *bases = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(arows, i, row)
    {
        const char *action = json_string_value(json_array_get(row, 0));
        const char *purpose = json_string_value(json_array_get(row, 2));
        const char *basis = lawful_basis(json_string_value(json_array_get(row, 3)));
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:I}", "id", action, "name",
                              action, "purpose", purpose && *purpose ? purpose : "not declared",
                              "lawfulBasis", basis ? basis : "legitimate_interests",
                              "dataCategories", "personal data", "dataSubjects", "data subjects",
                              "eventCount", json_integer_value(json_array_get(row, 1)));
        if (a && !basis)
            json_object_set_new(a, "lawfulBasisDeclared", json_false());
        json_array_append_new(acts, a);
        if (basis) {
            bool seen = false;
            for (size_t k = 0; k < json_array_size(bases); k++)
                seen = seen || !strcmp(json_string_value(json_array_get(bases, k)), basis);
            if (!seen)
                json_array_append_new(bases, json_string(basis));
        }
    }
    json_t *dsrs = json_array();
    json_array_foreach(drows, i, row)
    {
        static const struct {
            const char *kind, *right;
        } km[] = { { "access", "access" },           { "rectification", "rectification" },
                   { "erasure", "erasure" },         { "restriction", "restrict_processing" },
                   { "portability", "data_portability" }, { "objection", "object" } };
        const char *kind = json_string_value(json_array_get(row, 0));
        const char *right = NULL;
        for (size_t k = 0; kind && k < sizeof(km) / sizeof(km[0]); k++)
            if (!strcmp(km[k].kind, kind))
                right = km[k].right;
        if (!right)
            continue; /* pseudonymization has no right of its own in the client's list */
        long long rec = json_integer_value(json_array_get(row, 1));
        long long done = json_integer_value(json_array_get(row, 2)) +
                         json_integer_value(json_array_get(row, 3));
        json_t *avg = json_array_get(row, 7);
        double avgd = json_is_string(avg) ? strtod(json_string_value(avg), NULL)
                                          : (double)json_integer_value(avg);
        json_array_append_new(dsrs, json_pack("{s:s, s:I, s:f, s:f}", "type", right, "count",
                                              (json_int_t)rec, "averageResponseTime",
                                              avgd * 24.0, "completionRate",
                                              rec ? round(10000.0 * (double)done / (double)rec) / 100.0
                                                  : 100.0));
    }
    json_decref(arows);
    json_decref(drows);
    long long pd = v[1], declared = v[2];
    double s30 = pd ? round(10000.0 * (double)declared / (double)pd) / 100.0 : 100.0;
    double s12 = requests ? round(10000.0 * (double)(requests - overdue) / (double)requests) / 100.0
                          : 100.0;
    double score = round((s30 + s12) / 2.0 * 100.0) / 100.0;
    json_t *recs30 = json_array(), *recs12 = json_array();
    if (v[3])
        json_array_append_new(recs30, json_string("declare a purpose and legal basis for every "
                                                  "action on personal data (PUT "
                                                  "/api/v1/compliance/gdpr/settings)"));
    if (overdue)
        json_array_append_new(recs12, json_string("answer the overdue data subject requests"));
    const json_t *f30 = adb__rq_find_figure(x->figures, "withoutDeclaredPurpose");
    json_t *ev30 = f30 && json_object_get(f30, "events") ? json_deep_copy(json_object_get(f30, "events"))
                                                         : json_array();
    const char *st30 = pd == 0 ? "not_applicable" : v[3] == 0 ? "compliant"
                       : s30 >= 80 ? "partial" : "non_compliant";
    const char *st12 = requests == 0 ? "not_applicable" : overdue == 0 ? "compliant"
                       : s12 >= 80 ? "partial" : "non_compliant";
    json_t *sections = json_pack(
        "[{s:s, s:s, s:s, s:s, s:o, s:o, s:[], s:o, s:f},"
        " {s:s, s:s, s:s, s:s, s:[], s:[], s:o, s:o, s:f}]",
        "article", "Art. 30", "title", "Records of processing activities", "description",
        "Each action on personal data with its declared purpose and legal basis", "status", st30,
        "events", ev30, "processingActivities", acts, "dataSubjectRequests", "recommendations",
        recs30, "score", s30,
        "article", "Art. 12", "title", "Data subject requests and their deadlines", "description",
        "Requests received in the period, answered within one month (or as extended)", "status",
        st12, "events", "processingActivities", "dataSubjectRequests", dsrs, "recommendations",
        recs12, "score", s12);
    if (!sections) {
        json_decref(bases);
        adb__fmt(x->err, x->errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    json_object_set_new(x->doc, "summary",
                        json_pack("{s:I, s:I, s:I, s:o, s:I, s:I, s:f, s:I, s:I}", "totalEvents",
                                  (json_int_t)v[0], "dataSubjects", (json_int_t)subjects,
                                  "processingActivities",
                                  (json_int_t)json_array_size(json_object_get(
                                      json_array_get(sections, 0), "processingActivities")),
                                  "lawfulBases", bases, "dataSubjectRequests", (json_int_t)requests,
                                  "breaches", (json_int_t)breaches, "complianceScore", score,
                                  "erasures", (json_int_t)erasures, "overdueRequests",
                                  (json_int_t)overdue));
    json_object_set_new(x->doc, "sections", sections);
    return ADB_OK;
}
