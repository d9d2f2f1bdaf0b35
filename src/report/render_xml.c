/* placeholder */
#include "render_formats.h"
void adb__render_xml(const adb__rdoc *d, adb__buf *out) { (void)d; out->oom = true; }
