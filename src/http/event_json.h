/*
 * event_json.h - one audit event as the API sends it (internal): the object
 * of GET /api/v1/audit/events/{id}, written the same way whether the event
 * is read from audit_log (events.c) or from an archive (archives.c).
 */
#ifndef ADB_HTTP_EVENT_JSON_H
#define ADB_HTTP_EVENT_JSON_H

#include <stdbool.h>
#include "jw.h"

/* The members' texts, NULL when absent (a NULL member is left out, never
 * sent as null: docs/api.md). details and session_context are JSON text as
 * jsonb prints it, sent as they are; chain_seq is decimal text. timestamp
 * is the stored instant in any form adb__timestamp_parse reads (as PostgreSQL
 * prints it, or RFC 3339): it is written twice, as `timestamp` truncated to
 * milliseconds (the client's form) and as `storedTimestamp`, exact. */
typedef struct adb_http_event {
    const char *id, *timestamp, *action, *status, *principal_id, *organization_id,
        *target_resource_type, *target_resource_id, *outcome_description, *correlation_id,
        *data_classification, *retention_policy, *event_version, *hash_algorithm, *hash,
        *signature, *ttl, *archived_at;
    const char *details, *session_context;
    const char *chain_seq, *prev_chain_hash, *chain_hash;
    const char *commit_key; /* sha256-c14n-v3: the commitment key, NULL when none */
} adb_http_event;

void adb_http_write_event(jw *w, const adb_http_event *e);

/* The two forms of an event's time the object carries (timestamp, to the
 * millisecond; storedTimestamp, exact), into the caller's buffers of
 * ADB_TS_TEXT_MAX (event/event.h) bytes; a text adb__timestamp_parse cannot read is
 * passed on as it is in both (*exact_out, *ms_out: text, or the buffers). */
void adb_http_event_times(const char *text, char *exact, char *ms, const char **exact_out,
                          const char **ms_out);

/* An event as the writer committed it (create and bulk answer from it
 * instead of reading it back: docs/api.md, "Create and bulk answers"). The
 * texts of *e point into ev and into *keep, which must outlive e;
 * adb_http_committed_free releases keep. false when out of memory. */
struct adb__event;
typedef struct adb_http_committed {
    char id[40], seq[24], commit_key[65];
    char *session;  /* details.sessionContext, canonical text (malloc()ed) or NULL */
} adb_http_committed;

bool adb_http_event_from_committed(adb_http_event *e, const struct adb__event *ev,
                                   adb_http_committed *keep);
void adb_http_committed_free(adb_http_committed *keep);

#endif
