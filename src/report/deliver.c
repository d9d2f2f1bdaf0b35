/*
 * deliver.c - placeholder until dthru's artifact delivery lands (issue 19):
 * refuses, enqueues nothing.
 */
#include "report.h"
#include "../core/util.h"

adb_status adb__report_deliver(PGconn *c, const char *org, const json_t *delivery,
                               const char *execution_id, const adb__report_result *r,
                               char delivery_id[64], char *err, size_t errlen)
{
    (void)c;
    (void)org;
    (void)delivery;
    (void)execution_id;
    (void)r;
    delivery_id[0] = '\0';
    adb__fmt(err, errlen, "delivery of report artifacts is not built yet");
    return ADB_ERR_INTERNAL;
}
