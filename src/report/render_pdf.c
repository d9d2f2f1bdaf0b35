/* placeholder */
#include "render_formats.h"
#include "../core/util.h"
adb_status adb__render_pdf(const adb__rdoc *d, adb__buf *out, char *err, size_t errlen) { (void)d; (void)out; adb__fmt(err, errlen, "pdf not built yet"); return ADB_ERR_INTERNAL; }
