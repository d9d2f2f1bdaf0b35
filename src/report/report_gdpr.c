/* report_gdpr.c - placeholder while it is written. */
#include "report_types.h"
#include "../core/util.h"

adb_status adb__report_gdpr(adb__report_ctx *x)
{
    adb__fmt(x->field, x->fieldlen, "type");
    adb__fmt(x->err, x->errlen, "this report type is not built yet");
    return ADB_ERR_INVALID;
}
