/*
 * presets_doc.c - the preset document as smart-logs' client sends and
 * expects it (AuditPreset: name, template, validation, metadata, enabled,
 * ...), its checks with the field at fault, its audit_preset row and its
 * version rows (docs/presets.md, "The document").
 *
 * audit_preset keeps the seed's columns because ingestion reads them: the
 * template's action and dataClassification, validation.requiredFields and
 * default_values (the template's event fields) are written from the
 * document; the document itself is kept whole in audit_preset.spec.
 */
#include "presets.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdio.h>
#include <string.h>

#define NAME_MAX_CHARS 255
#define DESCRIPTION_MAX_CHARS 1000

static const char *const classifications[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI", NULL };
static const char *const statuses[] = { "attempt", "success", "failure", NULL };
static const char *const categories[] = {
    "authentication", "authorization", "data_access", "data_modification",
    "system_administration", "compliance", "security", "user_management",
    "configuration", "monitoring", "custom", NULL,
};

const char *preset_val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

void preset_error(json_t *errors, const char *field, const char *code, const char *message)
{
    json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "field", field, "code", code,
                                            "message", message));
}

/* path + "." + name (or just name). */
static void field_of(char *out, size_t len, const char *path, const char *name)
{
    adb__fmt(out, len, "%s%s%s", path, *path ? "." : "", name);
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Checks member name of obj: its JSON type, and for strings a length and a
 * list of allowed values. Returns the member (NULL when absent or wrong). */
json_t *preset_member(const json_t *obj, const char *path, const char *name, json_type type,
                      bool required, size_t min_chars, size_t max_chars,
                      const char *const *allowed, json_t *errors)
{
    json_t *v = json_object_get(obj, name);
    char field[300], msg[400];

    field_of(field, sizeof(field), path, name);
    if (!v || json_is_null(v)) {
        if (required) {
            adb__fmt(msg, sizeof(msg), "%s is required", field);
            preset_error(errors, field, "REQUIRED_FIELD_MISSING", msg);
        }
        return NULL;
    }
    if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v))) {
        static const char *const names[] = { "an object", "an array", "a string", "an integer",
                                             "a number", "a boolean", "a boolean", "null" };
        adb__fmt(msg, sizeof(msg), "%s must be %s", field, names[type]);
        preset_error(errors, field, "INVALID_TYPE", msg);
        return NULL;
    }
    if (type == JSON_STRING) {
        size_t n = chars(json_string_value(v));
        if (n < min_chars) {
            adb__fmt(msg, sizeof(msg), "%s must not be empty", field);
            preset_error(errors, field, "EMPTY_VALUE", msg);
            return NULL;
        }
        if (max_chars && n > max_chars) {
            adb__fmt(msg, sizeof(msg), "%s must be at most %zu characters", field, max_chars);
            preset_error(errors, field, "EXCEEDS_MAX_LENGTH", msg);
            return NULL;
        }
        if (allowed && !one_of(json_string_value(v), allowed)) {
            adb__buf b = { 0 };
            for (const char *const *a = allowed; *a; a++)
                adb__buf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
            char *list = adb__buf_take(&b, NULL);
            adb__fmt(msg, sizeof(msg), "%s must be one of %s", field, list ? list : "");
            free(list);
            preset_error(errors, field, "INVALID_VALUE", msg);
            return NULL;
        }
    }
    return v;
}

/* An array of strings (each at least one character when nonempty). */
static json_t *string_array(const json_t *obj, const char *path, const char *name, bool required,
                            bool nonempty, json_t *errors)
{
    json_t *a = preset_member(obj, path, name, JSON_ARRAY, required, 0, 0, NULL, errors), *v;
    size_t i;
    char field[320], msg[400];

    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || (nonempty && !*json_string_value(v))) {
            field_of(field, sizeof(field), path, name);
            adb__fmt(field + strlen(field), sizeof(field) - strlen(field), "[%zu]", i);
            adb__fmt(msg, sizeof(msg), "%s must be a%s string", field, nonempty ? " nonempty" : "");
            preset_error(errors, field, "INVALID_TYPE", msg);
            return NULL;
        }
    }
    return a;
}

json_t *preset_check(const json_t *spec, const char *path, json_t *errors)
{
    size_t before = json_array_size(errors);
    char sub[300];
    json_t *name, *t, *v, *m, *out;

    if (!json_is_object(spec)) {
        preset_error(errors, *path ? path : "body", "INVALID_TYPE", "a preset must be a JSON object");
        return NULL;
    }
    name = preset_member(spec, path, "name", JSON_STRING, true, 1, NAME_MAX_CHARS, NULL, errors);
    if (name && strpbrk(json_string_value(name), "/\\")) {
        field_of(sub, sizeof(sub), path, "name");
        preset_error(errors, sub, "INVALID_FORMAT", "name must not contain / or \\ (it is a path segment)");
    }
    preset_member(spec, path, "description", JSON_STRING, false, 0, DESCRIPTION_MAX_CHARS, NULL, errors);
    preset_member(spec, path, "enabled", JSON_TRUE, false, 0, 0, NULL, errors);
    preset_member(spec, path, "deprecated", JSON_TRUE, false, 0, 0, NULL, errors);
    preset_member(spec, path, "deprecationMessage", JSON_STRING, false, 0, 0, NULL, errors);
    preset_member(spec, path, "replacedBy", JSON_STRING, false, 0, 0, NULL, errors);

    if ((t = preset_member(spec, path, "template", JSON_OBJECT, true, 0, 0, NULL, errors))) {
        field_of(sub, sizeof(sub), path, "template");
        preset_member(t, sub, "action", JSON_STRING, true, 1, 255, NULL, errors);
        preset_member(t, sub, "targetResourceType", JSON_STRING, true, 1, 255, NULL, errors);
        preset_member(t, sub, "dataClassification", JSON_STRING, true, 1, 0, classifications, errors);
        preset_member(t, sub, "status", JSON_STRING, false, 1, 0, statuses, errors);
        preset_member(t, sub, "defaultDetails", JSON_OBJECT, false, 0, 0, NULL, errors);
        preset_member(t, sub, "defaultValues", JSON_OBJECT, false, 0, 0, NULL, errors);
        preset_member(t, sub, "fields", JSON_ARRAY, false, 0, 0, NULL, errors);
        preset_member(t, sub, "conditions", JSON_ARRAY, false, 0, 0, NULL, errors);
    }
    if ((v = preset_member(spec, path, "validation", JSON_OBJECT, true, 0, 0, NULL, errors))) {
        field_of(sub, sizeof(sub), path, "validation");
        string_array(v, sub, "requiredFields", true, true, errors);
        string_array(v, sub, "optionalFields", true, false, errors);
        preset_member(v, sub, "fieldValidation", JSON_OBJECT, true, 0, 0, NULL, errors);
        preset_member(v, sub, "crossFieldRules", JSON_ARRAY, false, 0, 0, NULL, errors);
        preset_member(v, sub, "businessRules", JSON_ARRAY, false, 0, 0, NULL, errors);
    }
    if ((m = preset_member(spec, path, "metadata", JSON_OBJECT, false, 0, 0, NULL, errors))) {
        field_of(sub, sizeof(sub), path, "metadata");
        string_array(m, sub, "tags", false, false, errors);
        preset_member(m, sub, "category", JSON_STRING, false, 1, 0, categories, errors);
        string_array(m, sub, "complianceFrameworks", false, false, errors);
        preset_member(m, sub, "retentionPolicy", JSON_STRING, false, 0, 0, NULL, errors);
        preset_member(m, sub, "approvalRequired", JSON_TRUE, false, 0, 0, NULL, errors);
        preset_member(m, sub, "documentation", JSON_OBJECT, false, 0, 0, NULL, errors);
    }
    if (json_array_size(errors) > before)
        return NULL;

    /* normalized: only the document's own members (not the server's
     * metadata figures), defaults filled */
    static const char *const keep[] = { "name", "description", "template", "validation",
                                        "enabled", "deprecated", "deprecationMessage",
                                        "replacedBy", NULL };
    static const char *const keep_meta[] = { "tags", "category", "complianceFrameworks",
                                             "retentionPolicy", "approvalRequired",
                                             "documentation", NULL };
    out = json_object();
    for (const char *const *k = keep; *k; k++)
        if ((v = json_object_get(spec, *k)) && !json_is_null(v))
            json_object_set_new(out, *k, json_deep_copy(v));
    json_t *meta = json_object();
    for (const char *const *k = keep_meta; m && *k; k++)
        if ((v = json_object_get(m, *k)) && !json_is_null(v))
            json_object_set_new(meta, *k, json_deep_copy(v));
    if (!json_object_get(meta, "tags"))
        json_object_set_new(meta, "tags", json_array());
    json_object_set_new(out, "metadata", meta);
    if (!json_object_get(out, "enabled"))
        json_object_set_new(out, "enabled", json_true());
    if (!json_object_get(out, "deprecated"))
        json_object_set_new(out, "deprecated", json_false());
    return out;
}

json_t *preset_merge(const json_t *spec, const json_t *changes)
{
    json_t *out = json_deep_copy(spec), *v;
    const char *k;

    json_object_foreach((json_t *)changes, k, v) {
        if (!strcmp(k, "metadata") && json_is_object(v) && json_is_object(json_object_get(out, k))) {
            json_object_update(json_object_get(out, k), v);
            continue;
        }
        json_object_set(out, k, v);
    }
    return out;
}

/* The event fields ingestion fills in (audit_preset.default_values): the
 * template's defaultValues, then its own members over them. */
static json_t *default_values(const json_t *spec)
{
    const json_t *t = json_object_get(spec, "template");
    json_t *dv = json_object_get(t, "defaultValues");
    json_t *out = json_is_object(dv) ? json_deep_copy(dv) : json_object();
    const char *tt = json_string_value(json_object_get(t, "targetResourceType"));

    json_object_set(out, "action", json_object_get(t, "action"));
    json_object_set(out, "dataClassification", json_object_get(t, "dataClassification"));
    if (tt && strcmp(tt, "*") != 0) /* "*": any type (the shared presets) */
        json_object_set_new(out, "targetResourceType", json_string(tt));
    if (json_object_get(t, "status"))
        json_object_set(out, "status", json_object_get(t, "status"));
    if (json_object_get(t, "defaultDetails"))
        json_object_set(out, "details", json_object_get(t, "defaultDetails"));
    return out;
}

/* The organization's own preset name as its document is now in c's
 * transaction (new reference), or NULL when it has none. */
json_t *preset_own_spec(PGconn *c, const char *org, const char *name)
{
    const char *p[] = { org, name };
    PGresult *r = preset_exec(c, "SELECT auditdb_preset_spec(p)::text FROM audit_preset p"
                                 " WHERE p.organization_id = $1 AND p.name = $2", 2, p);
    json_t *o = r && PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    return o;
}

bool preset_record(PGconn *c, adb__config_change_rec *rec, const char *org, const char *name,
                   const json_t *prev, const json_t *next, const char *who, const char *why)
{
    char fld[256], err[ADB_ERRMSG_MAX];
    /* the field is at most 255 characters: a longer name is cut (its documents are whole) */
    adb__fmt(fld, sizeof(fld), "audit_preset.%.242s", name);
    return adb__config_change_json_tx(c, rec, org, fld, prev, next, who, why, err, sizeof(err)) ==
           ADB_OK;
}

int preset_write(PGconn *c, const char *org, const json_t *spec, const char *who,
                 const char *change_log, bool create, adb__config_change_rec *rec)
{
    const json_t *t = json_object_get(spec, "template");
    char *spec_text = json_dumps(spec, JSON_COMPACT);
    char *required = json_dumps(json_object_get(json_object_get(spec, "validation"), "requiredFields"),
                                JSON_COMPACT);
    json_t *dvj = default_values(spec);
    char *dv = json_dumps(dvj, JSON_COMPACT);
    const char *p[] = { org, json_string_value(json_object_get(spec, "name")),
                        json_string_value(json_object_get(spec, "description")),
                        json_string_value(json_object_get(t, "action")),
                        json_string_value(json_object_get(t, "dataClassification")), required, dv,
                        who, spec_text, change_log };
    int version = -1;
    PGresult *r;

    json_t *before = NULL;

    json_decref(dvj);
    if (!spec_text || !required || !dv)
        goto out;
    /* the document before, for the configuration history (its row is locked by the UPDATE) */
    if (!create && !(before = preset_own_spec(c, org, p[1])))
        version = 0;
    if (!create && !before)
        goto out;
    r = PQexecParams(c,
                     create
                         ? "INSERT INTO audit_preset (organization_id, name, description, action,"
                           " data_classification, required_fields, default_values, created_by,"
                           " spec, version) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8,"
                           " $9::jsonb, 1) ON CONFLICT (name, organization_id) DO NOTHING"
                           " RETURNING version"
                         : "UPDATE audit_preset SET description = $3, action = $4,"
                           " data_classification = $5, required_fields = $6::jsonb,"
                           " default_values = $7::jsonb, updated_by = $8, updated_at = now(),"
                           " spec = $9::jsonb, version = version + 1"
                           " WHERE organization_id = $1 AND name = $2 RETURNING version",
                     9, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        version = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (version > 0) {
        char vtext[16];
        adb__fmt(vtext, sizeof(vtext), "%d", version);
        const char *vp[] = { org, p[1], vtext, spec_text, who, change_log };
        r = PQexecParams(c,
                         "INSERT INTO audit_preset_version (organization_id, name, version, spec,"
                         " created_by, change_log) VALUES ($1, $2, $3::int, $4::jsonb, $5, $6)",
                         6, NULL, vp, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            version = -1;
        PQclear(r);
    }
    if (version > 0 && !preset_record(c, rec, org, p[1], before, spec, who, change_log))
        version = -1;
out:
    json_decref(before);
    free(spec_text);
    free(required);
    free(dv);
    return version;
}

json_t *preset_json(PGresult *r, int row)
{
    json_t *doc = json_loads(PQgetvalue(r, row, 2), 0, NULL);
    json_t *meta;
    const char *org = PQgetvalue(r, row, 1);
    char version[16];

    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    json_object_set_new(doc, "name", json_string(PQgetvalue(r, row, 0)));
    meta = json_object_get(doc, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(doc, "metadata", meta);
    }
    adb__fmt(version, sizeof(version), "%s", PQgetvalue(r, row, 3));
    json_object_set_new(meta, "createdAt", json_string(PQgetvalue(r, row, 4)));
    json_object_set_new(meta, "updatedAt", json_string(PQgetvalue(r, row, 6)));
    json_object_set_new(meta, "createdBy", json_string(PQgetvalue(r, row, 5)));
    json_object_set_new(meta, "lastModifiedBy", json_string(PQgetvalue(r, row, 7)));
    json_object_set_new(meta, "version", json_string(version));
    if (!json_is_array(json_object_get(meta, "tags")))
        json_object_set_new(meta, "tags", json_array());
    if (!json_is_boolean(json_object_get(meta, "approvalRequired")))
        json_object_set_new(meta, "approvalRequired", json_false());
    json_object_set_new(meta, "usageCount", json_integer(atoll(PQgetvalue(r, row, 8))));
    if (preset_val(r, row, 9))
        json_object_set_new(meta, "lastUsed", json_string(PQgetvalue(r, row, 9)));
    if (!json_is_boolean(json_object_get(doc, "enabled")))
        json_object_set_new(doc, "enabled", json_true());
    if (!json_is_boolean(json_object_get(doc, "deprecated")))
        json_object_set_new(doc, "deprecated", json_false());
    /* auditdb's own: whose preset it is; shared ones are read-only */
    json_object_set_new(doc, "organizationId", json_string(org));
    json_object_set_new(doc, "shared", json_boolean(!strcmp(org, "*")));
    return doc;
}

void preset_who(adb_http_request *req, char out[40])
{
    adb__fmt(out, 40, "apikey:%s", req->who.key_id);
}

json_t *preset_body(adb_http_request *req, enum MHD_Result *r)
{
    json_error_t je;
    json_t *body;

    if (!req->body_len) {
        *r = preset_field_error(req, "body", "REQUIRED_FIELD_MISSING", "a JSON object body is required");
        return NULL;
    }
    body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
        char msg[300];
        if (body)
            adb__fmt(msg, sizeof(msg), "the body must be a JSON object");
        else
            adb__fmt(msg, sizeof(msg), "the body is not JSON: %s at byte %d", je.text, je.position);
        json_decref(body);
        *r = preset_field_error(req, "body", body ? "INVALID_TYPE" : "INVALID_JSON", msg);
        return NULL;
    }
    return body;
}

enum MHD_Result preset_invalid(adb_http_request *req, json_t *errors)
{
    const char *first = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    char msg[420];

    adb__fmt(msg, sizeof(msg), "%s", first ? first : "invalid preset");
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", msg,
                               json_pack("{s:o}", "errors", errors));
}

enum MHD_Result preset_field_error(adb_http_request *req, const char *field, const char *code,
                                   const char *message)
{
    json_t *errors = json_array();
    preset_error(errors, field, code, message);
    return preset_invalid(req, errors);
}

enum MHD_Result preset_not_found(adb_http_request *req, const char *name)
{
    char msg[320];
    adb__fmt(msg, sizeof(msg), "no preset named \"%.255s\"", name);
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg,
                               json_pack("{s:s, s:s}", "name", name, "field", "name"));
}

enum MHD_Result preset_unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

PGconn *preset_begin(adb_http_request *req)
{
    adb_status st;
    char err[ADB_ERRMSG_MAX];
    return adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
}

bool preset_commit(adb_http_request *req, PGconn *c)
{
    PGresult *r = PQexec(c, "COMMIT");
    /* an aborted transaction "commits" as ROLLBACK */
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");

    PQclear(r);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(req->state->db), c);
    return ok;
}

void preset_rollback(adb_http_request *req, PGconn *c)
{
    adb_tenant_end(req->state->db, c, false);
}

PGresult *preset_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}
