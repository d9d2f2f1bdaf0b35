/*
 * config_change.c - the configuration history (config_change.h): one
 * config_change_event row per change in the change's own transaction, with
 * secret-named members masked, and the organization's audit event once the
 * change is committed. See docs/monitoring.md, "Configuration changes".
 */
#include "config_change.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "mask.h"

#define TEXT_MAX 255 /* field, changed_by, reason, versions: varchar(255) */

/* Parses v (NULL: JSON null), masks it, and returns the text to store
 * (the caller frees), or NULL with why in err. */
static char *masked_text(const char *what, const char *v, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = v ? json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je) : json_null();

    if (!j) {
        adb__fmt(err, errlen, "%s is not JSON: %s", what, je.text);
        return NULL;
    }
    adb__config_mask(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s)
        adb__fmt(err, errlen, "out of memory");
    return s;
}

static bool text_ok(const char *name, const char *v, bool required, char *err, size_t errlen)
{
    if (!v || !*v) {
        if (required)
            adb__fmt(err, errlen, "%s is required", name);
        return !required;
    }
    if (strlen(v) > TEXT_MAX) {
        adb__fmt(err, errlen, "%s must have at most %d characters", name, TEXT_MAX);
        return false;
    }
    return true;
}

adb_status adb__config_change_tx(PGconn *c, const adb__config_change *ch, char *err,
                                 size_t errlen)
{
    char *prev = NULL, *next = NULL;
    adb_status st = ADB_ERR_INVALID;

    if (!c || !ch) {
        adb__fmt(err, errlen, "no connection or no change");
        return ADB_ERR_INVALID;
    }
    if (!text_ok("field", ch->field, true, err, errlen) ||
        !text_ok("changed_by", ch->changed_by, true, err, errlen) ||
        !text_ok("reason", ch->reason, false, err, errlen) ||
        !text_ok("previous_version", ch->previous_version, false, err, errlen) ||
        !text_ok("new_version", ch->new_version, false, err, errlen) ||
        !text_ok("organization", ch->org, false, err, errlen))
        return ADB_ERR_INVALID;
    if (!(prev = masked_text("previous value", ch->previous_json, err, errlen)) ||
        !(next = masked_text("new value", ch->new_json, err, errlen)))
        goto out;

    const char *env = getenv("AUDITDB_ENVIRONMENT");
    const char *p[] = { ch->field, prev, next, ch->changed_by,
                        ch->reason && *ch->reason ? ch->reason : NULL,
                        env && *env ? env : "production",
                        ch->previous_version && *ch->previous_version ? ch->previous_version
                                                                       : NULL,
                        ch->new_version && *ch->new_version ? ch->new_version : NULL,
                        ch->org && *ch->org ? ch->org : NULL };
    PGresult *r = PQexecParams(c,
                               "INSERT INTO config_change_event (\"timestamp\", field,"
                               " previous_value, new_value, changed_by, reason, environment,"
                               " previous_version, new_version, organization_id)"
                               " VALUES (now(), $1, $2::jsonb, $3::jsonb, $4, $5, $6, $7, $8, $9)",
                               9, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        st = ADB_OK;
    } else {
        adb__fmt(err, errlen, "could not record the configuration change of %s: %s", ch->field,
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
out:
    free(prev);
    free(next);
    return st;
}

void adb__config_change_announce(adb *h, const adb__config_change *ch)
{
    char ts[ADB_TS_TEXT_MAX];
    adb_log_options lo = { 0 };
    adb_log_result res;

    /* a process-wide setting has no organization's log to go to: its row is its record */
    if (!h || !ch || !ch->org || !*ch->org || !ch->field || !ch->changed_by)
        return;
    lo.organization_id = ch->org;
    adb__timestamp_format(adb__now_us(), ts);
    json_t *details = json_pack("{s:s}", "field", ch->field);
    if (details && ch->reason && *ch->reason)
        json_object_set_new(details, "reason", json_string(ch->reason));
    if (details && ch->previous_version && *ch->previous_version)
        json_object_set_new(details, "previousVersion", json_string(ch->previous_version));
    if (details && ch->new_version && *ch->new_version)
        json_object_set_new(details, "newVersion", json_string(ch->new_version));
    const char *what = ch->previous_json && strcmp(ch->previous_json, "null") != 0
                           ? (ch->new_json && strcmp(ch->new_json, "null") != 0 ? "updated"
                                                                                 : "deleted")
                           : "created";
    if (details)
        json_object_set_new(details, "change", json_string(what));
    json_t *ev = details ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
                                     "timestamp", ts, "action", "config.change", "status",
                                     "success", "principalId", ch->changed_by, "organizationId",
                                     ch->org, "targetResourceType", "Configuration",
                                     "targetResourceId", ch->field, "dataClassification",
                                     "INTERNAL", "details", details)
                         : NULL;
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text) {
        if (h->o.log)
            fprintf(h->o.log, "config change of %s: no memory for its audit event\n", ch->field);
        return;
    }
    if (adb_log_json(h, text, strlen(text), &lo, &res) != ADB_OK && h->o.log)
        fprintf(h->o.log, "config change of %s: its audit event was not logged: %s\n", ch->field,
                adb_strerror(res.status));
    free(text);
}

/* ---- a change of one JSON document --------------------------------------- */

/* s (a copy cut at 255 bytes by its buffer) without a character cut in two */
static void cut_whole(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && !adb__utf8_valid(s, n))
        s[--n] = '\0';
}

adb_status adb__config_change_json_tx(PGconn *c, adb__config_change_rec *rec, const char *org,
                                      const char *field, const json_t *prev, const json_t *next,
                                      const char *by, const char *reason, char *err,
                                      size_t errlen)
{
    memset(rec, 0, sizeof(*rec));
    if (prev && next && json_equal((json_t *)prev, (json_t *)next))
        return ADB_OK;
    snprintf(rec->org, sizeof(rec->org), "%s", org ? org : "");
    snprintf(rec->field, sizeof(rec->field), "%s", field ? field : "");
    snprintf(rec->by, sizeof(rec->by), "%s", by && *by ? by : "unknown");
    snprintf(rec->reason, sizeof(rec->reason), "%s", reason ? reason : "");
    /* a longer field, principal or reason is cut to the column's 255 */
    cut_whole(rec->field);
    cut_whole(rec->by);
    cut_whole(rec->reason);
    rec->prev = prev ? json_dumps(prev, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    rec->next = next ? json_dumps(next, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if ((prev && !rec->prev) || (next && !rec->next)) {
        adb__fmt(err, errlen, "out of memory");
        adb__config_change_rec_done(NULL, rec, false);
        return ADB_ERR_NOMEM;
    }
    rec->ch = (adb__config_change){ .org = rec->org[0] ? rec->org : NULL, .field = rec->field,
                                    .previous_json = rec->prev ? rec->prev : "null",
                                    .new_json = rec->next ? rec->next : "null",
                                    .changed_by = rec->by,
                                    .reason = rec->reason[0] ? rec->reason : NULL };
    adb_status st = adb__config_change_tx(c, &rec->ch, err, errlen);
    rec->written = st == ADB_OK;
    return st;
}

void adb__config_change_rec_done(adb *h, adb__config_change_rec *rec, bool committed)
{
    if (!rec)
        return;
    if (committed && rec->written && h)
        adb__config_change_announce(h, &rec->ch);
    free(rec->prev);
    free(rec->next);
    memset(rec, 0, sizeof(*rec));
}

json_t *adb__config_doc_without(const json_t *doc, const char *const *drop)
{
    json_t *o = doc ? json_deep_copy(doc) : NULL;

    for (size_t i = 0; json_is_object(o) && drop && drop[i]; i++)
        json_object_del(o, drop[i]);
    return o;
}
