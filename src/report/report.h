/*
 * report.h - compliance reports and scheduled reporting (issue 19; the
 * shared internal interfaces of src/report/, docs/reports.md).
 *
 * The flow of one report: adb__report_generate computes the JSON source
 * document from the events (generate.c and one file per report type),
 * records the checkpoints it read and signs the artifact's hash
 * (provenance.c), adb__report_render turns the document into CSV, XML or
 * PDF (render_*.c), and a scheduled execution hands the artifact to the
 * delivery queue with adb__report_deliver (deliver.c). The scheduler
 * (scheduler.c) claims due schedules and runs them exactly once per
 * scheduled instant.
 *
 * The JSON source document ("the document"): the client's shape of the
 * report type (HIPAAReport, GDPRReport, CustomReport, ...) plus these
 * members, which the renderers read and nothing else:
 *   "title": string, "organizationId": string,
 *   "period": {"start": ISO 8601, "end": ISO 8601},
 *   "figures": [{"id", "label", "value": number, "query": the SQL text that
 *                produced it, "events": [event UUIDs] when value <= 25}],
 *   "tables":  [{"id", "title", "columns": [string], "rows": [[string|number]]}],
 *   "charts":  [{"id", "title", "kind": "bar"|"line", "labels": [string],
 *                "series": [{"name", "values": [number]}]}],
 *   "provenance": {"checkpoints": [{"origin", "treeSize", "rootHash"}], ...}
 * Every number a rendering shows comes from these members, so the four
 * formats carry the same figures.
 */
#ifndef ADB_REPORT_H
#define ADB_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auditdb.h"
#include "../core/buf.h"

/* ---- rendering (render.c, render_csv.c, render_xml.c, render_pdf.c) ---- */

/* Renders doc (the document above) as fmt: "json" (doc's compact bytes),
 * "csv", "xml" or "pdf", appended to out; *content_type set to a static
 * string ("text/csv; charset=utf-8", "application/pdf", ...). ADB_ERR_INVALID
 * with why in err for an unknown format or a document the renderer cannot
 * read (a member of the wrong type). Deterministic: the same document gives
 * the same bytes (the PDF's dates come from doc's generatedAt). */
adb_status adb__report_render(const json_t *doc, const char *fmt, adb__buf *out,
                              const char **content_type, char *err, size_t errlen);

/* ---- generation (generate.c and report_*.c, provenance.c) ---- */

typedef struct adb__report_request {
    const char *org;                 /* the organization (the tenant) */
    const char *type;                /* HIPAA_AUDIT_TRAIL, GDPR_PROCESSING_ACTIVITIES,
                                        INTEGRITY_VERIFICATION, GENERAL_COMPLIANCE, CUSTOM_REPORT */
    const json_t *criteria;          /* the client's ReportCriteria (dateRange required) */
    const json_t *custom;            /* CUSTOM_REPORT: the client's CustomReportParams; else NULL */
    const char *format;              /* json, csv, xml, pdf, xlsx */
    const char *generated_by;        /* the principal (key id or user) */
    const char *scheduled_report_id; /* NULL for an on-demand report */
    const char *execution_id;        /* NULL for an on-demand report */
    bool (*should_stop)(void *ud);   /* polled between steps: cancel (NULL: never) */
    void *ud;
    /* rgen: the key that signs the report's note; NULL: the handle's log key
     * (the CLI's handle has none: `auditdb reports generate` loads it) */
    const struct adb__note_signer *signer;
    /* rasync (async.c): called once with the report's id when its row exists,
     * before anything is counted (NULL: not called) */
    void (*started)(void *ud, const char *report_id);
    /* rasync: when should_stop said stop and this gives a reason, the report
     * ends 'failed' with it (the server stopping), not 'cancelled' */
    const char *(*stop_reason)(void *ud);
} adb__report_request;

typedef struct adb__report_result {
    char report_id[64];              /* compliance_reports.id */
    json_t *doc;                     /* the document (owned; adb__report_result_free) */
    unsigned char *artifact;         /* the rendering in rq->format (owned) */
    size_t artifact_len;
    const char *content_type;        /* static */
    char filename[128];              /* e.g. hipaa-audit-trail-2026-12-01.pdf */
    char sha256_hex[65];             /* of the artifact: compliance_reports.report_hash */
    long long records;               /* events read */
} adb__report_result;

/* Generates, renders, signs and stores (compliance_reports, status
 * completed) one report; the caller's rq is checked first: ADB_ERR_INVALID
 * with the field at fault in field (e.g. "criteria.dateRange.startDate")
 * and why in err. ADB_ERR_BUSY when should_stop said stop (nothing stored
 * as completed). */
adb_status adb__report_generate(adb *h, const adb__report_request *rq, adb__report_result *out,
                                char *field, size_t fieldlen, char *err, size_t errlen);
void adb__report_result_free(adb__report_result *r);

/* ---- delivery of an artifact (deliver.c) ---- */

/* Enqueues the artifact to the destinations of delivery (the client's
 * DeliveryConfig: {"destinations": [ids] | "default"}) on c, in the
 * caller's transaction (tenant org): one delivery (delivery_id) with one
 * queue item per destination, payload {type: "report", metadata:
 * {filename, reportId, executionId, scheduledReportId, sha256}}, the exact
 * artifact bytes and content type. ADB_ERR_NOT_FOUND naming the destination
 * id in err when one is not the organization's (or deleted). The attempts
 * are recorded in report_executions.delivery_attempts as the queue works. */
adb_status adb__report_deliver(PGconn *c, const char *org, const json_t *delivery,
                               const char *execution_id, const adb__report_result *r,
                               char delivery_id[64], char *err, size_t errlen);
/* dthru (deliver.c, docs/reports.md "Delivery of artifacts"): "default" is the
 * organization's destinations flagged default (is_default) and not disabled;
 * none is ADB_ERR_NOT_FOUND. A bad delivery member is ADB_ERR_INVALID naming
 * it ("delivery.destinations[1] ..."). A named destination that is disabled is
 * accepted: its item is held until it is enabled. execution_id may be NULL (an
 * on-demand report); when given, the execution's delivery_id is set here, and a
 * second call for the same execution returns the first delivery's id and
 * queues nothing (idempotency key "report-execution:<id>"). On any error the
 * caller rolls its transaction back (statements may have run). */

#endif
