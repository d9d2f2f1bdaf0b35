/*
 * generate.c - placeholder until rgen's generation lands (issue 19): every
 * request refused, nothing stored.
 */
#include <string.h>

#include "report.h"
#include "../core/util.h"

adb_status adb__report_generate(adb *h, const adb__report_request *rq, adb__report_result *out,
                                char *field, size_t fieldlen, char *err, size_t errlen)
{
    (void)h;
    (void)rq;
    memset(out, 0, sizeof(*out));
    adb__fmt(field, fieldlen, "type");
    adb__fmt(err, errlen, "report generation is not built yet");
    return ADB_ERR_INTERNAL;
}

void adb__report_result_free(adb__report_result *r)
{
    if (!r)
        return;
    json_decref(r->doc);
    free(r->artifact);
    memset(r, 0, sizeof(*r));
}
