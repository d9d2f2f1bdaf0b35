/*
 * presets.c - the presets service's management routes (docs/presets.md):
 * GET /api/v1/compliance/audit-presets (the list), GET/POST/PUT/DELETE
 * /api/v1/audit-presets[/{name}], versions, restore and duplicate.
 *
 * Each request is one transaction as the caller's organization (row-level
 * security: its own presets and the shared '*' ones to read, its own to
 * write). A write answers after COMMIT and marks the library's preset cache
 * stale, so the next event naming the preset sees the change.
 */
#include "presets.h"
#include "../core/adb_internal.h"
#include "../core/preset_usage.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define VERSIONS_DEFAULT 50

static const char *org_of(adb_http_request *req) { return req->who.organization_id; }

/* Answers one preset (the caller's view of name) after a write committed. */
static enum MHD_Result send_preset(adb_http_request *req, unsigned status, const char *name)
{
    PGconn *c = preset_begin(req);
    const char *p[] = { org_of(req), name };
    PGresult *r = c ? preset_exec(c, PRESET_ONE, 2, p) : NULL;
    enum MHD_Result ret;

    preset_rollback(req, c);
    if (!r || PQntuples(r) == 0) {
        PQclear(r);
        /* written and committed: the answer must not say otherwise */
        return adb_http_send_json(req, status, json_pack("{s:s}", "name", name));
    }
    ret = adb_http_send_json(req, status, preset_json(r, 0));
    PQclear(r);
    return ret;
}

/* The organization's own preset row, locked; or why not: 0 found, 1 not
 * found, 2 shared only (read-only), -1 database error. *spec gets the
 * document (new reference) when found. */
static int own_preset(PGconn *c, const char *org, const char *name, json_t **spec, int *version)
{
    const char *p[] = { org, name };
    PGresult *r = preset_exec(c,
                              "SELECT p.organization_id, auditdb_preset_spec(p)::text, p.version"
                              " FROM audit_preset p WHERE p.name = $2 AND p.organization_id IN ($1, '*')"
                              " ORDER BY p.organization_id = '*' LIMIT 1",
                              2, p);
    int how;

    if (!r)
        return -1;
    if (PQntuples(r) == 0)
        how = 1;
    else if (strcmp(PQgetvalue(r, 0, 0), org) != 0)
        how = 2;
    else {
        /* locked, so that concurrent updates each start from the other's
         * result (FOR UPDATE on the first read would hide the shared rows,
         * which the caller may read but not update) */
        PGresult *l = preset_exec(c, "SELECT 1 FROM audit_preset WHERE organization_id = $1"
                                     " AND name = $2 FOR UPDATE", 2, p);
        bool locked = l != NULL;
        PQclear(l);
        PQclear(r);
        /* read again under the lock */
        r = locked ? preset_exec(c, "SELECT organization_id, auditdb_preset_spec(p)::text, p.version"
                               " FROM audit_preset p WHERE organization_id = $1 AND name = $2", 2, p)
              : NULL;
        how = !r ? -1 : PQntuples(r) == 1 ? 0 : 1; /* 1: deleted meanwhile */
        if (how == 0 && spec)
            *spec = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        if (how == 0 && version)
            *version = atoi(PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return how;
}

static enum MHD_Result shared_read_only(adb_http_request *req, const char *name)
{
    char msg[400];
    adb__fmt(msg, sizeof(msg),
             "preset \"%.255s\" is shared by every organization and read-only: create your own of"
             " that name to take its place", name);
    return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", msg,
                               json_pack("{s:s, s:s}", "name", name, "field", "name"));
}

/* ---- GET /api/v1/compliance/audit-presets ------------------------------- */

enum MHD_Result adb_http_presets_list(adb_http_request *req)
{
    static const struct { const char *api, *sql; } sorts[] = {
        { "name", "p.name" }, { "createdAt", "p.created_at" }, { "updatedAt", "p.updated_at" },
        { "usageCount", "coalesce(u.uses, 0)" },
    };
    const char *a, *sort = "p.name", *dir = "ASC";
    long long limit = LIST_DEFAULT, offset = 0;
    bool with_meta = true;
    double t0 = adb__now_ms();

    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, &limit))
        return preset_field_error(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, 1000000000, &offset))
        return preset_field_error(req, "offset", "INVALID_VALUE", "offset must be a nonnegative integer");
    if ((a = adb_http_arg(req, "sortBy"))) {
        sort = NULL;
        for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
            if (!strcmp(a, sorts[i].api))
                sort = sorts[i].sql;
        if (!sort)
            return preset_field_error(req, "sortBy", "INVALID_VALUE",
                                      "sortBy must be one of name, createdAt, updatedAt, usageCount");
    }
    if ((a = adb_http_arg(req, "sortOrder"))) {
        if (strcmp(a, "asc") && strcmp(a, "desc"))
            return preset_field_error(req, "sortOrder", "INVALID_VALUE", "sortOrder must be asc or desc");
        dir = !strcmp(a, "desc") ? "DESC" : "ASC";
    }
    if ((a = adb_http_arg(req, "includeMetadata"))) {
        if (strcmp(a, "true") && strcmp(a, "false"))
            return preset_field_error(req, "includeMetadata", "INVALID_VALUE",
                                      "includeMetadata must be true or false");
        with_meta = !strcmp(a, "true");
    }
    char *tags = adb_http_arg_list(req, "tags");
    char lim[24], off[24];
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    adb__fmt(off, sizeof(off), "%lld", offset);
    const char *p[] = { org_of(req), adb_http_arg(req, "category"), tags, adb_http_arg(req, "search"),
                        lim, off };
    adb__buf b = { 0 };
    /* one statement: the page and the total of the filtered set, of the
     * caller's presets and the shared ones it has not replaced by its own */
    adb__buf_printf(&b,
                    "SELECT " PRESET_COLUMNS ", count(*) OVER ()" PRESET_FROM
                    " WHERE p.organization_id IN ($1, '*')"
                    " AND NOT (p.organization_id = '*' AND EXISTS (SELECT 1 FROM audit_preset o"
                    "          WHERE o.organization_id = $1 AND o.name = p.name))"
                    " AND ($2::text IS NULL OR auditdb_preset_spec(p) #>> '{metadata,category}' = $2)"
                    " AND ($3::jsonb IS NULL OR auditdb_preset_spec(p) #> '{metadata,tags}' @> $3::jsonb)"
                    " AND ($4::text IS NULL OR strpos(lower(p.name || ' ' || coalesce(p.description, '')),"
                    " lower($4)) > 0)"
                    " ORDER BY %s %s, p.name, p.organization_id LIMIT $5::bigint OFFSET $6::bigint",
                    sort, dir);
    char *text = adb__buf_take(&b, NULL);
    PGconn *c = text ? preset_begin(req) : NULL;
    PGresult *r = c ? preset_exec(c, text, 6, p) : NULL, *m = NULL, *cnt = NULL;
    free(text);
    if (r && PQntuples(r) == 0 && offset > 0) /* past the end: the total still */
        cnt = preset_exec(c,
                          "SELECT count(*) FROM audit_preset p WHERE p.organization_id IN ($1, '*')"
                          " AND NOT (p.organization_id = '*' AND EXISTS (SELECT 1 FROM audit_preset o"
                          "          WHERE o.organization_id = $1 AND o.name = p.name))"
                          " AND ($2::text IS NULL OR auditdb_preset_spec(p) #>> '{metadata,category}' = $2)"
                          " AND ($3::jsonb IS NULL OR auditdb_preset_spec(p) #> '{metadata,tags}' @> $3::jsonb)"
                          " AND ($4::text IS NULL OR strpos(lower(p.name || ' ' || coalesce(p.description, '')),"
                          " lower($4)) > 0)",
                          4, p);
    if (r && with_meta)
        m = preset_exec(c,
                        "SELECT count(DISTINCT s #>> '{metadata,category}'),"
                        " (SELECT count(DISTINCT t) FROM audit_preset p2,"
                        "  jsonb_array_elements_text(coalesce(auditdb_preset_spec(p2) #> '{metadata,tags}',"
                        "  '[]')) t WHERE p2.organization_id IN ($1, '*'))"
                        " FROM (SELECT auditdb_preset_spec(p) s FROM audit_preset p"
                        "       WHERE p.organization_id IN ($1, '*')) x",
                        1, p);
    preset_rollback(req, c);
    free(tags);
    if (!r || (with_meta && !m) || (PQntuples(r) == 0 && offset > 0 && !cnt)) {
        PQclear(r);
        PQclear(m);
        PQclear(cnt);
        return preset_unavailable(req);
    }
    long long total = PQntuples(r) ? atoll(PQgetvalue(r, 0, 10)) : cnt ? atoll(PQgetvalue(cnt, 0, 0)) : 0;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, preset_json(r, i));
    json_t *out = json_pack("{s:o, s:{s:I, s:I, s:I, s:b, s:b}}", "presets", list, "pagination",
                            "total", (json_int_t)total, "limit", (json_int_t)limit, "offset",
                            (json_int_t)offset, "hasNext", offset + PQntuples(r) < total,
                            "hasPrevious", offset > 0);
    if (m)
        json_object_set_new(out, "metadata",
                            json_pack("{s:f, s:I, s:I}", "queryTime", adb__now_ms() - t0,
                                      "totalCategories", (json_int_t)atoll(PQgetvalue(m, 0, 0)),
                                      "totalTags", (json_int_t)atoll(PQgetvalue(m, 0, 1))));
    PQclear(r);
    PQclear(m);
    PQclear(cnt);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* ---- GET /api/v1/audit-presets/{name} ----------------------------------- */

enum MHD_Result adb_http_presets_get(adb_http_request *req)
{
    const char *a = adb_http_arg(req, "includeMetadata");
    if (a && strcmp(a, "true") && strcmp(a, "false"))
        return preset_field_error(req, "includeMetadata", "INVALID_VALUE",
                                  "includeMetadata must be true or false");
    PGconn *c = preset_begin(req);
    const char *p[] = { org_of(req), req->param[0] };
    PGresult *r = c ? preset_exec(c, PRESET_ONE, 2, p) : NULL;
    enum MHD_Result ret;

    preset_rollback(req, c);
    if (!r)
        return preset_unavailable(req);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return preset_not_found(req, req->param[0]);
    }
    ret = adb_http_send_json(req, MHD_HTTP_OK, preset_json(r, 0));
    PQclear(r);
    return ret;
}

/* ---- POST /api/v1/audit-presets ----------------------------------------- */

/* Writes spec as a new preset of the caller's; answers 201, 409 or 503. */
static enum MHD_Result create_checked(adb_http_request *req, json_t *spec, const char *change_log)
{
    char who[40], name[300];
    PGconn *c = preset_begin(req);
    adb__config_change_rec cc = { 0 };
    int v;

    preset_who(req, who);
    adb__fmt(name, sizeof(name), "%s", json_string_value(json_object_get(spec, "name")));
    v = c ? preset_write(c, org_of(req), spec, who, change_log, true, &cc) : -1;
    json_decref(spec);
    if (v <= 0) {
        preset_rollback(req, c);
        adb__config_change_rec_done(NULL, &cc, false);
        if (v < 0)
            return preset_unavailable(req);
        char msg[400];
        adb__fmt(msg, sizeof(msg), "a preset named \"%s\" exists already", name);
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "CONFLICT", msg,
                                   json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "field", "name",
                                             "code", "ALREADY_EXISTS", "message", msg));
    }
    bool committed = preset_commit(req, c);
    adb__config_change_rec_done(req->state->db, &cc, committed);
    if (!committed)
        return preset_unavailable(req);
    adb__presets_changed(req->state->db);
    return send_preset(req, MHD_HTTP_CREATED, name);
}

enum MHD_Result adb_http_presets_create(adb_http_request *req)
{
    enum MHD_Result r;
    json_t *body = preset_body(req, &r), *errors, *spec;

    if (!body)
        return r;
    errors = json_array();
    spec = preset_check(body, "", errors);
    json_decref(body);
    if (!spec)
        return preset_invalid(req, errors);
    json_decref(errors);
    return create_checked(req, spec, "created");
}

/* ---- PUT /api/v1/audit-presets/{name} ----------------------------------- */

/* Writes changes over the caller's own preset name as its next version. */
static enum MHD_Result update_with(adb_http_request *req, const char *name, json_t *changes,
                                   const char *who, const char *change_log)
{
    PGconn *c = preset_begin(req);
    json_t *spec = NULL, *merged, *errors, *checked;
    int how = c ? own_preset(c, org_of(req), name, &spec, NULL) : -1;

    if (how != 0) {
        preset_rollback(req, c);
        return how < 0 ? preset_unavailable(req)
               : how == 1 ? preset_not_found(req, name) : shared_read_only(req, name);
    }
    merged = preset_merge(spec, changes);
    json_decref(spec);
    json_object_set_new(merged, "name", json_string(name)); /* a rename is a duplicate */
    errors = json_array();
    checked = preset_check(merged, "", errors);
    json_decref(merged);
    if (!checked) {
        preset_rollback(req, c);
        return preset_invalid(req, errors);
    }
    json_decref(errors);
    adb__config_change_rec cc = { 0 };
    int v = preset_write(c, org_of(req), checked, who, change_log, false, &cc);
    json_decref(checked);
    bool committed = v > 0 && preset_commit(req, c);
    if (v <= 0)
        preset_rollback(req, c);
    adb__config_change_rec_done(req->state->db, &cc, committed);
    if (!committed)
        return preset_unavailable(req);
    adb__presets_changed(req->state->db);
    return send_preset(req, MHD_HTTP_OK, name);
}

enum MHD_Result adb_http_presets_update(adb_http_request *req)
{
    enum MHD_Result r;
    json_t *body = preset_body(req, &r), *v;
    char who[300], log[300];

    if (!body)
        return r;
    /* the client's update names who changes it (lastModifiedBy) */
    preset_who(req, who);
    if ((v = json_object_get(body, "lastModifiedBy")) && !json_is_null(v)) {
        if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) > 255) {
            json_decref(body);
            return preset_field_error(req, "lastModifiedBy", "INVALID_VALUE",
                                      "lastModifiedBy must be a string of 1 to 255 bytes");
        }
        adb__fmt(who, sizeof(who), "%s", json_string_value(v));
    }
    adb__fmt(log, sizeof(log), "updated");
    if (json_is_string(v = json_object_get(body, "changeLog")))
        adb__fmt(log, sizeof(log), "%.255s", json_string_value(v));
    json_object_del(body, "lastModifiedBy");
    json_object_del(body, "changeLog");
    r = update_with(req, req->param[0], body, who, log);
    json_decref(body);
    return r;
}

/* ---- DELETE /api/v1/audit-presets/{name} -------------------------------- */

enum MHD_Result adb_http_presets_delete(adb_http_request *req)
{
    const char *force = adb_http_arg(req, "force");
    const char *name = req->param[0];
    const char *p[] = { org_of(req), name };
    PGconn *c;
    PGresult *r;
    json_t *before = NULL;
    adb__config_change_rec cc = { 0 };
    char who[40];
    int how;

    if (force && strcmp(force, "true") && strcmp(force, "false"))
        return preset_field_error(req, "force", "INVALID_VALUE", "force must be true or false");
    /* counted uses must be in the table to be weighed */
    (void)adb__preset_usage_flush(adb__db_preset_usage(req->state->db), adb__pool(req->state->db));
    c = preset_begin(req);
    how = c ? own_preset(c, org_of(req), name, &before, NULL) : -1;
    if (how != 0) {
        preset_rollback(req, c);
        return how < 0 ? preset_unavailable(req)
               : how == 1 ? preset_not_found(req, name) : shared_read_only(req, name);
    }
    preset_who(req, who);
    bool recorded = preset_record(c, &cc, org_of(req), name, before, NULL, who,
                                  force && !strcmp(force, "true") ? "deleted (force)" : "deleted");
    json_decref(before);
    if (!recorded) {
        preset_rollback(req, c);
        adb__config_change_rec_done(NULL, &cc, false);
        return preset_unavailable(req);
    }
    if (!force || strcmp(force, "true") != 0) {
        r = preset_exec(c, "SELECT coalesce(sum(uses), 0) FROM audit_preset_usage"
                           " WHERE organization_id = $1 AND name = $2", 2, p);
        long long uses = r ? atoll(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        if (uses != 0) {
            preset_rollback(req, c);
            adb__config_change_rec_done(NULL, &cc, false);
            if (uses < 0)
                return preset_unavailable(req);
            char msg[400];
            adb__fmt(msg, sizeof(msg),
                     "preset \"%.255s\" has been applied %lld times: delete with force=true", name, uses);
            return adb_http_send_error(req, MHD_HTTP_CONFLICT, "PRESET_IN_USE", msg,
                                       json_pack("{s:s, s:s, s:I}", "name", name, "field", "name",
                                                 "usageCount", (json_int_t)uses));
        }
    }
    static const char *const deletes[] = {
        "DELETE FROM audit_preset WHERE organization_id = $1 AND name = $2",
        "DELETE FROM audit_preset_version WHERE organization_id = $1 AND name = $2",
        "DELETE FROM audit_preset_usage WHERE organization_id = $1 AND name = $2",
    };
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
        if (!(r = preset_exec(c, deletes[i], 2, p))) {
            preset_rollback(req, c);
            adb__config_change_rec_done(NULL, &cc, false);
            return preset_unavailable(req);
        }
        PQclear(r);
    }
    bool committed = preset_commit(req, c);
    adb__config_change_rec_done(req->state->db, &cc, committed);
    if (!committed)
        return preset_unavailable(req);
    adb__presets_changed(req->state->db);
    return adb_http_send_text(req, MHD_HTTP_NO_CONTENT, strdup(""), 0, "application/json");
}

/* ---- versions ------------------------------------------------------------ */

json_t *preset_version_json(PGresult *r, int row, const char *name)
{
    json_t *preset = json_loads(PQgetvalue(r, row, 1), 0, NULL), *meta;
    const char *v = PQgetvalue(r, row, 0);

    if (!json_is_object(preset)) {
        json_decref(preset);
        preset = json_object();
    }
    json_object_set_new(preset, "name", json_string(name));
    if (!json_is_object(meta = json_object_get(preset, "metadata"))) {
        meta = json_object();
        json_object_set_new(preset, "metadata", meta);
    }
    /* the version's own times and author: a version is immutable */
    json_object_set_new(meta, "createdAt", json_string(PQgetvalue(r, row, 2)));
    json_object_set_new(meta, "updatedAt", json_string(PQgetvalue(r, row, 2)));
    json_object_set_new(meta, "createdBy", json_string(PQgetvalue(r, row, 3)));
    json_object_set_new(meta, "lastModifiedBy", json_string(PQgetvalue(r, row, 3)));
    json_object_set_new(meta, "version", json_string(v));
    if (!json_is_array(json_object_get(meta, "tags")))
        json_object_set_new(meta, "tags", json_array());
    if (!json_is_boolean(json_object_get(meta, "approvalRequired")))
        json_object_set_new(meta, "approvalRequired", json_false());
    if (!json_is_integer(json_object_get(meta, "usageCount")))
        json_object_set_new(meta, "usageCount", json_integer(0));
    if (!json_is_boolean(json_object_get(preset, "enabled")))
        json_object_set_new(preset, "enabled", json_true());
    if (!json_is_boolean(json_object_get(preset, "deprecated")))
        json_object_set_new(preset, "deprecated", json_false());
    json_t *out = json_pack("{s:s, s:o, s:s, s:s, s:O, s:b}", "version", v, "preset", preset,
                            "createdAt", PQgetvalue(r, row, 2), "createdBy", PQgetvalue(r, row, 3),
                            "tags", json_object_get(meta, "tags"), "isActive",
                            PQgetvalue(r, row, 5)[0] == 't');
    if (preset_val(r, row, 4))
        json_object_set_new(out, "changeLog", json_string(PQgetvalue(r, row, 4)));
    return out;
}

enum MHD_Result adb_http_presets_versions(adb_http_request *req)
{
    const char *a = adb_http_arg(req, "limit");
    long long limit = VERSIONS_DEFAULT;
    char lim[24];

    if (a && !adb__parse_int(a, 1, LIST_MAX, &limit))
        return preset_field_error(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    const char *p[] = { org_of(req), req->param[0], lim };
    PGconn *c = preset_begin(req);
    PGresult *one = c ? preset_exec(c, PRESET_ONE, 2, p) : NULL;
    PGresult *r = one ? preset_exec(c, PRESET_VERSION_SELECT " ORDER BY v.version DESC LIMIT $3::bigint", 3, p) : NULL;
    PGresult *n = r ? preset_exec(c, "SELECT count(*) FROM audit_preset_version WHERE name = $2 AND"
                                     " organization_id = (SELECT organization_id FROM audit_preset"
                                     " WHERE name = $2 AND organization_id IN ($1, '*')"
                                     " ORDER BY organization_id = '*' LIMIT 1)", 2, p) : NULL;
    preset_rollback(req, c);
    if (!one || !r || !n) {
        PQclear(one);
        PQclear(r);
        PQclear(n);
        return preset_unavailable(req);
    }
    if (PQntuples(one) == 0) {
        PQclear(one);
        PQclear(r);
        PQclear(n);
        return preset_not_found(req, req->param[0]);
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, preset_version_json(r, i, req->param[0]));
    json_t *out = json_pack("{s:s, s:o, s:I, s:s}", "presetName", req->param[0], "versions", list,
                            "totalVersions", (json_int_t)atoll(PQgetvalue(n, 0, 0)), "activeVersion",
                            PQgetvalue(one, 0, 3));
    PQclear(one);
    PQclear(r);
    PQclear(n);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* A version number of the path; false after queuing the 400. */
static bool version_arg(adb_http_request *req, char out[24], enum MHD_Result *r)
{
    long long v;
    if (!adb__parse_int(req->param[1], 1, 2147483647, &v)) {
        *r = preset_field_error(req, "version", "INVALID_VALUE", "version must be a positive integer");
        return false;
    }
    adb__fmt(out, 24, "%lld", v);
    return true;
}

enum MHD_Result adb_http_presets_version(adb_http_request *req)
{
    char v[24];
    enum MHD_Result ret;

    if (!version_arg(req, v, &ret))
        return ret;
    const char *p[] = { org_of(req), req->param[0], v };
    PGconn *c = preset_begin(req);
    PGresult *r = c ? preset_exec(c, PRESET_VERSION_SELECT " AND v.version = $3::int", 3, p) : NULL;
    preset_rollback(req, c);
    if (!r)
        return preset_unavailable(req);
    if (PQntuples(r) == 0) {
        char msg[400];
        PQclear(r);
        adb__fmt(msg, sizeof(msg), "preset \"%.255s\" has no version %s", req->param[0], v);
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg,
                                   json_pack("{s:s, s:s, s:s}", "name", req->param[0], "version", v, "field", "version"));
    }
    ret = adb_http_send_json(req, MHD_HTTP_OK, preset_version_json(r, 0, req->param[0]));
    PQclear(r);
    return ret;
}

/* POST /api/v1/audit-presets/{name}/versions/{version}/restore: the old
 * version's document becomes the current one as a new version. */
enum MHD_Result adb_http_presets_restore(adb_http_request *req)
{
    char v[24], who[40], log[64];
    enum MHD_Result ret;

    if (!version_arg(req, v, &ret))
        return ret;
    const char *p[] = { req->who.organization_id, req->param[0], v };
    PGconn *c = preset_begin(req);
    int how = c ? own_preset(c, p[0], p[1], NULL, NULL) : -1;
    if (how != 0) {
        preset_rollback(req, c);
        return how < 0 ? preset_unavailable(req)
               : how == 1 ? preset_not_found(req, p[1]) : shared_read_only(req, p[1]);
    }
    PGresult *r = preset_exec(c, "SELECT spec::text FROM audit_preset_version WHERE organization_id = $1"
                                 " AND name = $2 AND version = $3::int", 3, p);
    if (!r || PQntuples(r) == 0) {
        preset_rollback(req, c);
        PQclear(r);
        if (!r)
            return preset_unavailable(req);
        char msg[400];
        adb__fmt(msg, sizeof(msg), "preset \"%.255s\" has no version %s", p[1], v);
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg,
                                   json_pack("{s:s, s:s, s:s}", "name", p[1], "version", v, "field", "version"));
    }
    json_t *spec = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    preset_who(req, who);
    adb__fmt(log, sizeof(log), "restored from version %s", v);
    adb__config_change_rec cc = { 0 };
    int written = spec ? preset_write(c, p[0], spec, who, log, false, &cc) : -1;
    json_decref(spec);
    bool committed = written > 0 && preset_commit(req, c);
    if (written <= 0)
        preset_rollback(req, c);
    adb__config_change_rec_done(req->state->db, &cc, committed);
    if (!committed)
        return preset_unavailable(req);
    adb__presets_changed(req->state->db);
    return send_preset(req, MHD_HTTP_OK, p[1]);
}

/* ---- POST /api/v1/audit-presets/{name}/duplicate ------------------------ */

enum MHD_Result adb_http_presets_duplicate(adb_http_request *req)
{
    enum MHD_Result ret;
    json_t *body = preset_body(req, &ret), *target, *updates, *spec, *errors, *checked;

    if (!body)
        return ret;
    target = json_object_get(body, "targetName");
    updates = json_object_get(body, "updates");
    if (!json_is_string(target) || !*json_string_value(target)) {
        json_decref(body);
        return preset_field_error(req, "targetName", target ? "INVALID_TYPE" : "REQUIRED_FIELD_MISSING",
                                  "targetName must be a nonempty string");
    }
    if (updates && !json_is_null(updates) && !json_is_object(updates)) {
        json_decref(body);
        return preset_field_error(req, "updates", "INVALID_TYPE", "updates must be an object");
    }
    const char *p[] = { org_of(req), req->param[0] };
    PGconn *c = preset_begin(req);
    PGresult *r = c ? preset_exec(c, "SELECT auditdb_preset_spec(p)::text FROM audit_preset p"
                                     " WHERE p.name = $2 AND p.organization_id IN ($1, '*')"
                                     " ORDER BY p.organization_id = '*' LIMIT 1", 2, p) : NULL;
    preset_rollback(req, c);
    if (!r || PQntuples(r) == 0) {
        PQclear(r);
        json_decref(body);
        return r ? preset_not_found(req, req->param[0]) : preset_unavailable(req);
    }
    spec = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (json_is_object(updates)) {
        json_t *m = preset_merge(spec, updates);
        json_decref(spec);
        spec = m;
    }
    json_object_set(spec, "name", target);
    json_decref(body);
    errors = json_array();
    checked = preset_check(spec, "", errors);
    json_decref(spec);
    if (!checked)
        return preset_invalid(req, errors);
    json_decref(errors);
    char log[320];
    adb__fmt(log, sizeof(log), "duplicated from %.255s", req->param[0]);
    return create_checked(req, checked, log);
}
