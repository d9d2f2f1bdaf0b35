/*
 * gdpr_export.h - the GDPR export of one data subject (gdpr_export.c,
 * docs/gdpr.md), shared by the HTTP routes and `auditdb gdpr export`: begin
 * reads the Art. 15(1) answers, opens the data-subject request and records
 * the export as an audit event of the organization; fill then writes the
 * document piece by piece in constant memory (consultations, live events,
 * archived events), and finishes the request at its end.
 */
#ifndef ADB_HTTP_GDPR_EXPORT_H
#define ADB_HTTP_GDPR_EXPORT_H

#include <stdbool.h>
#include "auditdb.h"
#include "../core/buf.h"

typedef struct adb_gdpr_export_args {
    const char *org, *subject;
    const char *subject_type;   /* user, customer, employee, contact, patient */
    const char *request_type;   /* access (Art. 15) or portability (Art. 20) */
    const char *format;         /* json, ndjson, csv, xml */
    const char *from, *to;      /* canonical timestamps or NULL (to: now at most) */
    const char *categories;     /* a text[] literal of classifications ({PHI,...}) or NULL: all */
    bool metadata;              /* the integrity members of each event */
    bool personal;              /* the events themselves (false: answers and consultations) */
    const char *principal, *role, *request_id; /* who asked, recorded in the audit event */
    const char *handler;        /* the data-subject request's handler */
} adb_gdpr_export_args;

/* Begins an export as a's organization (every statement as the tenant).
 * NULL when the database failed (nothing recorded then, or a request left
 * open). *id: the export's id, valid while the export is. */
void *adb_gdpr_export_begin(adb *db, const adb_gdpr_export_args *a, const char **id);
/* The next piece into out: 1 more follows, 0 the end (the request is then
 * completed), -1 failed (the document is cut). */
int adb_gdpr_export_fill(void *ctx, adb__buf *out);
/* Frees an export (NULL is fine). */
void adb_gdpr_export_free(void *ctx);

#endif
