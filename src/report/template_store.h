/*
 * template_store.h - report templates as the tenant (template_store.c;
 * docs/reports.md, "Templates"), in the client's ReportTemplate shape.
 * *out is the caller's (json_decref); another organization's template is
 * ADB_ERR_NOT_FOUND like a missing one.
 */
#ifndef ADB_REPORT_TEMPLATE_STORE_H
#define ADB_REPORT_TEMPLATE_STORE_H

#include "schedule.h"

adb_status adb__template_create(adb *h, const char *org, const json_t *body, const char *who,
                                json_t **out, adb__sched_error *e);
adb_status adb__template_update(adb *h, const char *org, const char *id, const json_t *body,
                                const char *who, json_t **out, adb__sched_error *e);
adb_status adb__template_get(adb *h, const char *org, const char *id, json_t **out);
adb_status adb__template_list(adb *h, const char *org, json_t **out);
/* deleted (kept, marked) by who; its configuration history row and audit event */
adb_status adb__template_delete(adb *h, const char *org, const char *id, const char *who);

#endif
