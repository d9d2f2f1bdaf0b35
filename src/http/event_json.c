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

void adb_http_write_event(jw *w, const adb_http_event *e)
{
    const struct { const char *name, *v; } strs[] = {
        { "timestamp", e->timestamp }, { "action", e->action }, { "status", e->status },
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
    jw_kstr(w, "id", e->id ? e->id : ""); /* a decimal string, as smart-logs sends ids */
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
    jw_end_obj(w);
}

/* details.sessionContext of a committed event, as canonical text; *out NULL
 * when there is none. false when out of memory. Details are canonical JSON
 * the library wrote, so they parse. */
static bool session_of(const adb__event *ev, char **out)
{
    adb_json_error je;
    adb_json_doc *doc;
    const adb_json *sc;
    size_t len = 0, cap = 0;

    *out = NULL;
    if (!ev->details || !strstr(ev->details, "\"sessionContext\""))
        return true;
    if (!(doc = adb__json_parse(ev->details, ev->details_len, NULL, &je)))
        return je.code != ADB_JSON_ERR_NOMEM;
    sc = adb__json_get(adb__json_root(doc), "sessionContext");
    bool ok = !sc || adb__json_write_canonical(sc, out, &len, &cap);
    adb__json_free(doc);
    return ok;
}

bool adb_http_event_from_committed(adb_http_event *e, const adb__event *ev,
                                   adb_http_committed *keep)
{
    memset(e, 0, sizeof(*e));
    /* the id member's text: the one place a committed event's id is chosen
     * (the public event id once the event model carries it) */
    adb__fmt(keep->id, sizeof(keep->id), "%" PRId64, ev->id);
    adb__fmt(keep->seq, sizeof(keep->seq), "%" PRId64, ev->chain_seq);
    if (!session_of(ev, &keep->session))
        return false;
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
    };
    return true;
}

void adb_http_committed_free(adb_http_committed *keep)
{
    free(keep->session);
    keep->session = NULL;
}
