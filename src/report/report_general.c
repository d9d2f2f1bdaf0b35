/*
 * report_general.c - general compliance (GENERAL_COMPLIANCE): what the
 * client's enum names without a shape, defined here as the organization's
 * overview across frameworks: events by outcome and classification, the
 * busiest actions and principals, failures, open data subject requests,
 * security alerts and the log's size at the checkpoint read. Score: the
 * share of events that did not fail. docs/reports.md, "Report types".
 */
#include "report_types.h"
#include "../core/util.h"
#include "../integrity/row.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const adb__rq_figure figs[] = {
    { "totalEvents", "Events in the period", "true" },
    { "failures", "Failed operations", "status = 'failure'" },
    { "attempts", "Attempts without an outcome", "status = 'attempt'" },
    { "phiEvents", "Events on PHI", "data_classification = 'PHI'" },
    { "confidentialEvents", "Events on confidential data", "data_classification = 'CONFIDENTIAL'" },
    { "gdprOperations", "GDPR operations recorded", "action LIKE 'gdpr.%'" },
};
#define NFIGS (sizeof(figs) / sizeof(figs[0]))

/* The same conditions over an archived row (report_archived.c), in figs' order. */
static bool col_is(const char *const *v, int col, const char *want)
{
    return v[col] && !strcmp(v[col], want);
}
static bool a_true(const char *const *v, void *ud) { (void)v, (void)ud; return true; }
static bool a_failure(const char *const *v, void *ud) { (void)ud; return col_is(v, ADB_COL_STATUS, "failure"); }
static bool a_attempt(const char *const *v, void *ud) { (void)ud; return col_is(v, ADB_COL_STATUS, "attempt"); }
static bool a_phi(const char *const *v, void *ud) { (void)ud; return col_is(v, ADB_COL_DATA_CLASSIFICATION, "PHI"); }
static bool a_conf(const char *const *v, void *ud)
{
    (void)ud;
    return col_is(v, ADB_COL_DATA_CLASSIFICATION, "CONFIDENTIAL");
}
static bool a_gdpr(const char *const *v, void *ud)
{
    (void)ud;
    return v[ADB_COL_ACTION] && !strncmp(v[ADB_COL_ACTION], "gdpr.", 5);
}
static const adb__rq_archived_figure afigs[] = {
    { "totalEvents", a_true }, { "failures", a_failure },         { "attempts", a_attempt },
    { "phiEvents", a_phi },    { "confidentialEvents", a_conf },  { "gdprOperations", a_gdpr },
};

adb_status adb__report_general(adb__report_ctx *x)
{
    long long v[NFIGS];
    adb_status st = adb__rq_figures(x->c, &x->base, figs, NFIGS, x->figures, v, x->err, x->errlen);
    if (st != ADB_OK)
        return st;
    /* archived events of the period (docs/archive.md): added to each figure */
    long long arch[NFIGS];
    if ((st = adb__rq_archived(x, afigs, NFIGS, NULL, arch)) != ADB_OK)
        return st;
    for (size_t i = 0; i < NFIGS; i++)
        v[i] += arch[i];
    x->records = v[0];
    if (adb__report_step(x, 50, "figures"))
        return ADB_ERR_BUSY;
    static const char *const acols[] = { "action", "events", "failures" };
    static const char *const pcols[] = { "principalId", "events", "failures" };
    static const char *const ocols[] = { "kind", "open", "overdue" };
    st = adb__rq_table(x->c, &x->base, 8, "topActions", "The 20 most frequent actions", acols, 3,
                       "SELECT action, count(*), count(*) FILTER (WHERE status = 'failure')"
                       " FROM audit_log WHERE " ADB_REPORT_BASE
                       " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
                       x->tables, NULL, x->err, x->errlen);
    if (st == ADB_OK)
        st = adb__rq_table(x->c, &x->base, 8, "topPrincipals", "The 20 most active principals",
                           pcols, 3,
                           "SELECT coalesce(principal_id, ''), count(*),"
                           " count(*) FILTER (WHERE status = 'failure') FROM audit_log WHERE "
                           ADB_REPORT_BASE " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
                           x->tables, NULL, x->err, x->errlen);
    if (st == ADB_OK)
        st = adb__rq_table(x->c, &x->base, 1, "openRequests",
                           "Data subject and patient requests open now", ocols, 3,
                           "SELECT kind, count(*), count(*) FILTER (WHERE"
                           " coalesce(extended_until, due_at) < now()) FROM data_subject_request"
                           " WHERE organization_id = $1 AND status NOT IN ('completed', 'refused')"
                           " GROUP BY 1 ORDER BY 1",
                           x->tables, NULL, x->err, x->errlen);
    if (st == ADB_OK)
        st = adb__rq_chart(x->c, &x->base, 8, "eventsPerDay", "Events per day (UTC)", "line",
                           "events",
                           "SELECT to_char(date_trunc('day', \"timestamp\" AT TIME ZONE 'UTC'),"
                           " 'YYYY-MM-DD'), count(*) FROM audit_log WHERE " ADB_REPORT_BASE
                           " GROUP BY 1 ORDER BY 1",
                           x->charts, x->err, x->errlen);
    if (st == ADB_OK)
        st = adb__rq_chart(x->c, &x->base, 8, "byClassification", "Events by data classification",
                           "bar", "events",
                           "SELECT coalesce(data_classification, ''), count(*) FROM audit_log"
                           " WHERE " ADB_REPORT_BASE " GROUP BY 1 ORDER BY 1",
                           x->charts, x->err, x->errlen);
    if (st != ADB_OK)
        return st;
    double score = v[0] ? round(10000.0 * (double)(v[0] - v[1]) / (double)v[0]) / 100.0 : 0;
    json_t *pv = json_object_get(x->doc, "provenance");
    json_t *cp = json_array_get(json_object_get(pv, "checkpoints"), 0);
    json_object_set_new(
        x->doc, "summary",
        json_pack("{s:I, s:f, s:s, s:I, s:I, s:I, s:O*}", "totalEvents", (json_int_t)v[0],
                  "complianceScore", score, "overallStatus",
                  adb__report_status_of(score, v[0], v[1]), "failures", (json_int_t)v[1],
                  "phiEvents", (json_int_t)v[3], "confidentialEvents", (json_int_t)v[4],
                  "logTreeSize", json_object_get(cp, "treeSize")));
    return ADB_OK;
}
