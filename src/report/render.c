/*
 * render.c - placeholder until rrender's renderers land (issue 19): refuses
 * every format so that nothing can mistake it for a rendering.
 */
#include "report.h"
#include "../core/util.h"

adb_status adb__report_render(const json_t *doc, const char *fmt, adb__buf *out,
                              const char **content_type, char *err, size_t errlen)
{
    (void)doc;
    (void)out;
    *content_type = NULL;
    adb__fmt(err, errlen, "rendering %s is not built yet", fmt ? fmt : "(none)");
    return ADB_ERR_INTERNAL;
}
