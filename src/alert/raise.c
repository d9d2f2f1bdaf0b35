/*
 * raise.c - PLACEHOLDER until the alerts helper replaces this file
 * (alert.h): refuses every trigger.
 */
#include "alert.h"

#include "../core/util.h"

adb_status adb__alert_raise(PGconn *c, const adb__alert_trigger *t, adb__alert_outcome *out,
                            char id_out[ADB_ALERT_ID_MAX], char *err, size_t errlen)
{
    (void)c;
    (void)t;
    (void)out;
    (void)id_out;
    adb__fmt(err, errlen, "alerts are not built yet");
    return ADB_ERR_INTERNAL;
}
