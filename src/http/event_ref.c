/*
 * event_ref.c - reading an event id from a path (event_ref.h).
 */
#include "event_ref.h"
#include "../core/util.h"
#include "../event/event.h"

#include <string.h>

bool adb_http_event_ref_parse(const char *s, adb_http_event_ref *out)
{
    long long n;
    int64_t us;

    memset(out, 0, sizeof(*out));
    if (!s)
        return false;
    if (adb__event_id_parse(s, strlen(s), out->uuid)) {
        if (adb__event_id_time(out->uuid, &us))
            adb__timestamp_format(us, out->ts);
        return true;
    }
    if (!adb__parse_int(s, 1, INT64_MAX, &n))
        return false;
    out->id = n;
    return true;
}
