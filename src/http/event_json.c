/*
 * event_json.c - the API's event object. Member names and order are those
 * smart-logs clients read (docs/api.md, "Event object").
 */
#include "event_json.h"

#include "../core/util.h"
#include "../event/event.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* An event's time in the two forms the answer carries (docs/api.md, "Event
 * object"): exact, the stored microseconds as in the canonical form
 * ("...T...ffffffZ", what the hash covers), and the client's form, the same
 * instant truncated to milliseconds ("...T...fffZ": smart-logs' client
 * accepts 0 or 3 fraction digits). text is any form adb__timestamp_parse
 * reads (PostgreSQL's print or RFC 3339); one it cannot read is passed on as
 * it is, in both. */
void adb_http_event_times(const char *text, char *exact, char *ms, const char **exact_out,
                          const char **ms_out)
{
    int64_t us;

    *exact_out = *ms_out = text;
    if (!text || !adb__timestamp_parse(text, strlen(text), &us))
        return;
    adb__timestamp_format(us, exact); /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
    /* the first three fraction digits are the floor to the millisecond */
    memcpy(ms, exact, 23);
    ms[23] = 'Z';
    ms[24] = '\0';
    *exact_out = exact;
    *ms_out = ms;
}

void adb_http_write_event(jw *w, const adb_http_event *e)
{
    char exact_buf[ADB_TS_TEXT_MAX], ms_buf[ADB_TS_TEXT_MAX];
    const char *exact, *ms;

    adb_http_event_times(e->timestamp, exact_buf, ms_buf, &exact, &ms);
    const struct { const char *name, *v; } strs[] = {
        { "timestamp", ms }, { "storedTimestamp", exact },
        { "action", e->action }, { "status", e->status },
        { "principalId", e->principal_id }, { "organizationId", e->organization_id },
        { "targetResourceType", e->target_resource_type },
        { "targetResourceId", e->target_resource_id },
        { "outcomeDescription", e->outcome_description }, { "correlationId", e->correlation_id },
        { "dataClassification", e->data_classification },
        { "retentionPolicy", e->retention_policy }, { "eventVersion", e->event_version },
        { "hashAlgorithm", e->hash_algorithm }, { "hash", e->hash }, { "signature", e->signature },
        { "ttl", e->ttl }, { "archivedAt", e->archived_at },
    };

    jw_obj(w);
    /* the public id, a UUID: what smart-logs' client requires of every event
     * id (docs/events.md, "Event id") */
    jw_kstr(w, "id", e->id ? e->id : "");
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strs[i].v)
            jw_kstr(w, strs[i].name, strs[i].v);
    /* details as jsonb prints them: the same content the hash covers, numbers
     * exactly as stored (key order and spaces are jsonb's); sessionContext is
     * also lifted to the top level, where smart-logs clients read it */
    if (e->details) {
        jw_key(w, "details");
        jw_raw(w, e->details);
    }
    if (e->session_context) {
        jw_key(w, "sessionContext");
        jw_raw(w, e->session_context);
    }
    if (e->chain_seq)
        jw_kint(w, "chainSeq", strtoll(e->chain_seq, NULL, 10));
    if (e->prev_chain_hash)
        jw_kstr(w, "prevChainHash", e->prev_chain_hash);
    if (e->chain_hash)
        jw_kstr(w, "chainHash", e->chain_hash);
    /* with it anyone who reads the answer recomputes the v3 commitments and
     * hash from the answer alone (docs/integrity.md 2b) */
    if (e->commit_key)
        jw_kstr(w, "commitKey", e->commit_key);
    jw_end_obj(w);
}

/* details.sessionContext of a committed event, as canonical text; *out NULL
 * when there is none. false when out of memory. Details are the canonical
 * JSON the library wrote (event.c: '{', then each member's key, ':' and its
 * value written by adb__json_write_canonical, ',' between them, '}'), so
 * the member's text is already its canonical form: it is cut out rather
 * than parsed and written again (a third of the answer's cost, perf). */
static bool session_of(const adb__event *ev, char **out)
{
    static const char key[] = "\"sessionContext\":";
    const char *p, *end;

    *out = NULL;
    if (!ev->details || ev->details_len < 2 || ev->details[0] != '{')
        return true;
    p = ev->details + 1;
    end = ev->details + ev->details_len;
    while (p < end && *p == '"') { /* each top-level member: key, ':', value */
        const char *k = p, *v;
        if (!(p = adb__json_skip_string(p, end)) || p >= end || *p != ':' || !(v = p + 1) ||
            !(p = adb__json_skip_value(v, end)))
            return true; /* not possible for what event.c writes */
        if ((size_t)(v - k) == sizeof(key) - 1 && !memcmp(k, key, sizeof(key) - 1))
            return (*out = strndup(v, (size_t)(p - v))) != NULL;
        if (p < end && *p == ',')
            p++;
    }
    return true;
}

bool adb_http_event_from_committed(adb_http_event *e, const adb__event *ev,
                                   adb_http_committed *keep)
{
    memset(e, 0, sizeof(*e));
    /* the id member: the public event id (docs/events.md, "Event id") */
    adb__fmt(keep->id, sizeof(keep->id), "%s", ev->event_id);
    adb__fmt(keep->seq, sizeof(keep->seq), "%" PRId64, ev->chain_seq);
    if (!session_of(ev, &keep->session))
        return false;
    if (ev->has_commit_key)
        adb__hex(ev->commit_key, 32, keep->commit_key);
    *e = (adb_http_event){
        .id = keep->id, .timestamp = ev->ts_text,
        .action = ev->f[ADB_F_ACTION], .status = ev->f[ADB_F_STATUS],
        .principal_id = ev->f[ADB_F_PRINCIPAL_ID], .organization_id = ev->f[ADB_F_ORGANIZATION_ID],
        .target_resource_type = ev->f[ADB_F_TARGET_RESOURCE_TYPE],
        .target_resource_id = ev->f[ADB_F_TARGET_RESOURCE_ID],
        .outcome_description = ev->f[ADB_F_OUTCOME_DESCRIPTION],
        .correlation_id = ev->f[ADB_F_CORRELATION_ID],
        .data_classification = ev->f[ADB_F_DATA_CLASSIFICATION],
        .retention_policy = ev->f[ADB_F_RETENTION_POLICY],
        .event_version = ev->f[ADB_F_EVENT_VERSION], .hash_algorithm = ev->f[ADB_F_HASH_ALGORITHM],
        .hash = ev->hash, .signature = ev->signature,
        .ttl = ev->f[ADB_F_TTL], .archived_at = NULL,
        .details = ev->details, .session_context = keep->session,
        .chain_seq = ev->chain_seq ? keep->seq : NULL,
        .prev_chain_hash = ev->chain_seq ? ev->prev_chain_hash : NULL,
        .chain_hash = ev->chain_seq ? ev->chain_hash : NULL,
        .commit_key = ev->has_commit_key ? keep->commit_key : NULL,
    };
    return true;
}

void adb_http_committed_free(adb_http_committed *keep)
{
    free(keep->session);
    keep->session = NULL;
}
