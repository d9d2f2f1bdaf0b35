/*
 * presets_io.c - presets moved between organizations as JSON
 * (docs/presets.md, "Export and import"): POST /api/v1/audit-presets/export
 * writes the caller's presets (or the named ones) as one JSON document,
 * answered as a JSON string (the client's export() returns a string);
 * POST /api/v1/audit-presets/import takes such a document and writes every
 * preset in it in one transaction, or none: a preset that fails the checks
 * refuses the whole import with the field at fault.
 */
#include "presets.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX 1000

/* format must be "json" (absent: json); false after queuing the 400. */
static bool json_format(adb_http_request *req, const json_t *body, enum MHD_Result *r)
{
    const json_t *f = json_object_get(body, "format");
    if (!f || json_is_null(f) || (json_is_string(f) && !strcmp(json_string_value(f), "json")))
        return true;
    *r = preset_field_error(req, "format", "UNSUPPORTED_FORMAT",
                            "format must be json: auditdb exports and imports presets as JSON only");
    return false;
}

/* ---- POST /api/v1/audit-presets/export ---------------------------------- */

enum MHD_Result adb_http_presets_export(adb_http_request *req)
{
    enum MHD_Result ret;
    json_t *body = preset_body(req, &ret), *names, *v;
    const char *org = req->who.organization_id;
    bool history;
    size_t i;

    if (!body)
        return ret;
    if (!json_format(req, body, &ret)) {
        json_decref(body);
        return ret;
    }
    names = json_object_get(body, "names");
    if (!names || json_is_null(names))
        names = json_object_get(body, "presetNames"); /* the client's PresetExportParams */
    if (names && !json_is_null(names) && !json_is_array(names)) {
        json_decref(body);
        return preset_field_error(req, "names", "INVALID_TYPE", "names must be an array of preset names");
    }
    json_array_foreach(names, i, v) {
        if (!json_is_string(v)) {
            char field[32];
            adb__fmt(field, sizeof(field), "names[%zu]", i);
            json_decref(body);
            return preset_field_error(req, field, "INVALID_TYPE", "a preset name must be a string");
        }
    }
    v = json_object_get(body, "includeVersionHistory");
    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        json_decref(body);
        return preset_field_error(req, "includeVersionHistory", "INVALID_TYPE",
                                  "includeVersionHistory must be a boolean");
    }
    history = json_is_true(v);

    PGconn *c = preset_begin(req);
    json_t *list = json_array(), *versions = json_object();
    bool failed = !c;
    if (c && json_array_size(names) == 0) {
        /* everything of the caller's own (shared presets are everyone's already) */
        const char *p[] = { org };
        PGresult *r = preset_exec(c, PRESET_SELECT " WHERE p.organization_id = $1 ORDER BY p.name", 1, p);
        failed = !r;
        for (int k = 0; r && k < PQntuples(r); k++)
            json_array_append_new(list, preset_json(r, k));
        PQclear(r);
    }
    json_array_foreach(names, i, v) {
        const char *p[] = { org, json_string_value(v) };
        PGresult *r = failed ? NULL : preset_exec(c, PRESET_ONE, 2, p);
        if (!r) {
            failed = true;
            break;
        }
        if (PQntuples(r) == 0) {
            char field[32];
            PQclear(r);
            preset_rollback(req, c);
            json_decref(list);
            json_decref(versions);
            adb__fmt(field, sizeof(field), "names[%zu]", i);
            ret = adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no preset of that name",
                                      json_pack("{s:s, s:O}", "field", field, "name", v));
            json_decref(body);
            return ret;
        }
        json_array_append_new(list, preset_json(r, 0));
        PQclear(r);
    }
    json_array_foreach(list, i, v) {
        if (failed || !history)
            break;
        const char *p[] = { org, json_string_value(json_object_get(v, "name")) };
        PGresult *r = preset_exec(c, PRESET_VERSION_SELECT " ORDER BY v.version", 2, p);
        if (!r) {
            failed = true;
            break;
        }
        json_t *h = json_array();
        for (int k = 0; k < PQntuples(r); k++)
            json_array_append_new(h, preset_version_json(r, k, p[1]));
        json_object_set_new(versions, p[1], h);
        PQclear(r);
    }
    preset_rollback(req, c);
    json_decref(body);
    if (failed) {
        json_decref(list);
        json_decref(versions);
        return preset_unavailable(req);
    }
    char now[40];
    adb_http_iso_now(now);
    json_t *out = json_pack("{s:s, s:i, s:s, s:s, s:o}", "format", "json", "formatVersion", 1,
                            "exportedAt", now, "organizationId", org, "presets", list);
    if (history)
        json_object_set_new(out, "versions", versions);
    else
        json_decref(versions);
    /* the client's export() returns a string (the document as JSON text,
     * which its import() sends back as data): the body is that string */
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!text)
        return MHD_NO;
    json_t *str = json_string(text);
    free(text);
    char *answer = str ? json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    if (!answer)
        return MHD_NO;
    return adb_http_send_text(req, MHD_HTTP_OK, answer, strlen(answer), "application/json");
}

/* ---- POST /api/v1/audit-presets/import ---------------------------------- */

/* The presets array of the import's data (a JSON text or the document
 * itself; an export document or a bare array). NULL after queuing a 400. */
static json_t *import_presets(adb_http_request *req, const json_t *body, json_t **doc,
                              enum MHD_Result *r)
{
    const json_t *data = json_object_get(body, "data");
    json_t *list;

    *doc = NULL;
    if (!data || json_is_null(data)) {
        *r = preset_field_error(req, "data", "REQUIRED_FIELD_MISSING", "data is required: an export document");
        return NULL;
    }
    if (json_is_string(data)) {
        json_error_t je;
        if (!(*doc = json_loads(json_string_value(data), JSON_REJECT_DUPLICATES, &je))) {
            char msg[300];
            adb__fmt(msg, sizeof(msg), "data is not JSON: %s at byte %d", je.text, je.position);
            *r = preset_field_error(req, "data", "INVALID_JSON", msg);
            return NULL;
        }
    } else {
        *doc = json_incref((json_t *)data);
    }
    list = json_is_array(*doc) ? *doc : json_object_get(*doc, "presets");
    if (!json_is_array(list)) {
        *r = preset_field_error(req, "data.presets", "INVALID_TYPE",
                                "data must hold a presets array (an export document)");
        return NULL;
    }
    if (json_array_size(list) > IMPORT_MAX) {
        *r = preset_field_error(req, "data.presets", "EXCEEDS_MAX_LENGTH",
                                "at most 1000 presets per import");
        return NULL;
    }
    return list;
}

enum MHD_Result adb_http_presets_import(adb_http_request *req)
{
    enum MHD_Result ret;
    json_t *body = preset_body(req, &ret), *doc = NULL, *list, *checked, *errors, *v;
    bool overwrite;
    size_t i;

    if (!body)
        return ret;
    if (!json_format(req, body, &ret) || !(list = import_presets(req, body, &doc, &ret))) {
        json_decref(body);
        json_decref(doc);
        return ret;
    }
    v = json_object_get(body, "overwrite");
    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        json_decref(body);
        json_decref(doc);
        return preset_field_error(req, "overwrite", "INVALID_TYPE", "overwrite must be a boolean");
    }
    overwrite = json_is_true(v);
    json_decref(body);

    /* every preset checked before anything is written */
    errors = json_array();
    checked = json_array();
    json_array_foreach(list, i, v) {
        char path[48];
        adb__fmt(path, sizeof(path), "data.presets[%zu]", i);
        json_t *spec = preset_check(v, path, errors);
        if (!spec)
            continue;
        for (size_t k = 0; k < json_array_size(checked); k++)
            if (json_equal(json_object_get(json_array_get(checked, k), "name"), json_object_get(spec, "name"))) {
                char field[64];
                adb__fmt(field, sizeof(field), "%s.name", path);
                preset_error(errors, field, "DUPLICATE_VALUE", "this name is imported twice");
            }
        json_array_append_new(checked, spec);
    }
    json_decref(doc);
    if (json_array_size(errors)) {
        json_decref(checked);
        return preset_invalid(req, errors);
    }
    json_decref(errors);

    char who[40];
    preset_who(req, who);
    PGconn *c = preset_begin(req);
    json_t *imported = json_array(), *skipped = json_array();
    /* one configuration history row per preset written (at most IMPORT_MAX) */
    size_t n = json_array_size(checked);
    adb__config_change_rec *cc = calloc(n ? n : 1, sizeof(*cc));
    bool failed = !c || !cc;
    json_array_foreach(checked, i, v) {
        if (failed)
            break;
        json_t *name = json_object_get(v, "name");
        int w = preset_write(c, req->who.organization_id, v, who, "imported", true, &cc[i]);
        if (w == 0 && overwrite)
            w = preset_write(c, req->who.organization_id, v, who, "imported", false, &cc[i]);
        if (w < 0)
            failed = true;
        else
            json_array_append(w > 0 ? imported : skipped, name);
    }
    json_decref(checked);
    bool committed = !failed && preset_commit(req, c);
    if (failed)
        preset_rollback(req, c);
    for (i = 0; cc && i < n; i++)
        adb__config_change_rec_done(req->state->db, &cc[i], committed);
    free(cc);
    if (!committed) {
        json_decref(imported);
        json_decref(skipped);
        return preset_unavailable(req);
    }
    if (json_array_size(imported))
        adb__presets_changed(req->state->db);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o, s:o, s:[]}", "imported", imported,
                                                          "skipped", skipped, "errors"));
}
