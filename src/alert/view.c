/*
 * view.c - an alerts row as the client's Alert (types/metrics.ts AlertSchema:
 * absent optional members left out, never null) with ours beside it, for the
 * API and the CLI alike.
 */
#include "alert.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_ID, C_ORG, C_TITLE, C_DESC, C_SEV, C_STATUS, C_TYPE, C_SOURCE, C_CREATED, C_ACK_AT,
    C_RES_AT, C_ACK, C_ACK_BY, C_RES, C_RES_BY, C_NOTES, C_CORR, C_TAGS, C_META, C_DIS_AT,
    C_DIS_BY, C_DEDUP, C_RULE, C_RULE_VER, C_COUNT, C_FIRST, C_LAST, C_SAMPLES, C_SILENCED,
    C_SILENCE_ID, C_UPDATED, C_NCOLS
};

static void opt_str(json_t *o, const char *name, const PGresult *r, int i, int col)
{
    if (!PQgetisnull(r, i, col))
        json_object_set_new(o, name, json_string(PQgetvalue(r, i, col)));
}

static void opt_json(json_t *o, const char *name, const PGresult *r, int i, int col,
                     json_t *fallback)
{
    json_t *v = PQgetisnull(r, i, col) ? NULL : json_loads(PQgetvalue(r, i, col), 0, NULL);
    json_object_set_new(o, name, v ? v : fallback);
    if (v)
        json_decref(fallback);
}

json_t *adb__alert_row_json(const PGresult *r, int i)
{
    json_t *o = json_object();

    if (!o || PQnfields(r) < C_NCOLS)
        return o;
    json_object_set_new(o, "id", json_string(PQgetvalue(r, i, C_ID)));
    json_object_set_new(o, "organizationId", json_string(PQgetvalue(r, i, C_ORG)));
    json_object_set_new(o, "title", json_string(PQgetvalue(r, i, C_TITLE)));
    json_object_set_new(o, "description", json_string(PQgetvalue(r, i, C_DESC)));
    json_object_set_new(o, "severity", json_string(PQgetvalue(r, i, C_SEV)));
    json_object_set_new(o, "status", json_string(PQgetvalue(r, i, C_STATUS)));
    json_object_set_new(o, "type", json_string(PQgetvalue(r, i, C_TYPE)));
    json_object_set_new(o, "source", json_string(PQgetvalue(r, i, C_SOURCE)));
    json_object_set_new(o, "createdAt", json_string(PQgetvalue(r, i, C_CREATED)));
    opt_str(o, "acknowledgedAt", r, i, C_ACK_AT);
    opt_str(o, "resolvedAt", r, i, C_RES_AT);
    json_object_set_new(o, "acknowledged", json_boolean(!strcmp(PQgetvalue(r, i, C_ACK), "true")));
    opt_str(o, "acknowledgedBy", r, i, C_ACK_BY);
    json_object_set_new(o, "resolved", json_boolean(!strcmp(PQgetvalue(r, i, C_RES), "true")));
    opt_str(o, "resolvedBy", r, i, C_RES_BY);
    opt_str(o, "resolutionNotes", r, i, C_NOTES);
    opt_str(o, "correlationId", r, i, C_CORR);
    opt_json(o, "tags", r, i, C_TAGS, json_array());
    opt_json(o, "metadata", r, i, C_META, json_object());
    opt_str(o, "dismissedAt", r, i, C_DIS_AT);
    opt_str(o, "dismissedBy", r, i, C_DIS_BY);
    opt_str(o, "dedupKey", r, i, C_DEDUP);
    opt_str(o, "ruleId", r, i, C_RULE);
    if (!PQgetisnull(r, i, C_RULE_VER))
        json_object_set_new(o, "ruleVersion", json_integer(atoi(PQgetvalue(r, i, C_RULE_VER))));
    json_object_set_new(o, "triggerCount", json_integer(atoll(PQgetvalue(r, i, C_COUNT))));
    json_object_set_new(o, "firstTriggeredAt", json_string(PQgetvalue(r, i, C_FIRST)));
    json_object_set_new(o, "lastTriggeredAt", json_string(PQgetvalue(r, i, C_LAST)));
    opt_json(o, "sampleEventIds", r, i, C_SAMPLES, json_array());
    json_object_set_new(o, "silenced", json_boolean(!strcmp(PQgetvalue(r, i, C_SILENCED), "t")));
    opt_str(o, "silenceId", r, i, C_SILENCE_ID);
    json_object_set_new(o, "updatedAt", json_string(PQgetvalue(r, i, C_UPDATED)));
    return o;
}
