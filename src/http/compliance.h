/*
 * compliance.h - the HTTP handlers of issue 17 (data-subject rights, HIPAA
 * accounting), one file each: gdpr_requests.c, hipaa_accounting.c,
 * hipaa_suspensions.c. Kept out of http.h so that each helper's routes add
 * lines here only.
 */
#ifndef ADB_HTTP_COMPLIANCE_H
#define ADB_HTTP_COMPLIANCE_H

#include "http.h"

/* requests as records (gdpr_requests.c): the same handlers serve
 * /api/v1/compliance/gdpr/requests and /api/v1/compliance/hipaa/requests,
 * each showing and changing only the requests of its own family */
enum MHD_Result adb_http_dsr_list(adb_http_request *req);
enum MHD_Result adb_http_dsr_create(adb_http_request *req);
enum MHD_Result adb_http_dsr_get(adb_http_request *req);
enum MHD_Result adb_http_dsr_update(adb_http_request *req);
enum MHD_Result adb_http_dsr_extend(adb_http_request *req);

/* HIPAA accounting of disclosures and access report (hipaa_accounting.c) */
enum MHD_Result adb_http_hipaa_accounting(adb_http_request *req);
enum MHD_Result adb_http_hipaa_access_report(adb_http_request *req);
/* HIPAA 164.528(a)(2) suspensions (hipaa_suspensions.c) */
enum MHD_Result adb_http_hipaa_suspensions_list(adb_http_request *req);
enum MHD_Result adb_http_hipaa_suspensions_create(adb_http_request *req);

#endif
