/*
 * event_ref.h - the {id} of /api/v1/audit/events/{id}[...] (internal): an
 * event's public id, a UUID, or the numeric id it had before UUIDs
 * (docs/events.md, "Event id").
 */
#ifndef ADB_HTTP_EVENT_REF_H
#define ADB_HTTP_EVENT_REF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct adb_http_event_ref {
    char uuid[37]; /* lowercase UUID, "" when the path gave a numeric id */
    int64_t id;    /* the numeric id, 0 when the path gave a UUID */
    char ts[32];   /* the instant a version 1 UUID names ("" if none): narrows the lookup */
} adb_http_event_ref;

/* false when s is neither a UUID nor a positive decimal integer. */
bool adb_http_event_ref_parse(const char *s, adb_http_event_ref *out);

#endif
