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

#include <math.h>
#include <stdlib.h>

static const adb__rq_figure figs[] = {
    { "totalEvents", "Events in the period", "true" },
    { "failures", "Failed operations", "status = 'failure'" },
    { "attempts", "Attempts without an outcome", "status = 'attempt'" },
    { "phiEvents", "Events on PHI", "data_classification = 'PHI'" },
    { "confidentialEvents", "Events on confidential data", "data_classification = 'CONFIDENTIAL'" },
    { "gdprOperations", "GDPR operations recorded", "action LIKE 'gdpr.%'" },
};
#define NFIGS (sizeof(figs) / sizeof(figs[0]))

adb_status adb__report_general(adb__report_ctx *x)
{
    long long v[NFIGS];
    adb_status st = adb__rq_figures(x->c, &x->base, figs, NFIGS, x->figures, v, x->err, x->errlen);
    if (st != ADB_OK)
        return st;
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
