/*
 * presets.h - the presets API (docs/presets.md): routes in presets.c
 * (CRUD, list, versions, restore, duplicate), presets_apply.c (validate,
 * apply, stats) and presets_io.c (export, import); the preset document, its
 * checks and its rows in presets_doc.c.
 */
#ifndef ADB_HTTP_PRESETS_H
#define ADB_HTTP_PRESETS_H

#include "http.h"
#include "../monitor/config_change.h"

/* Routes. */
enum MHD_Result adb_http_presets_list(adb_http_request *req);
enum MHD_Result adb_http_presets_get(adb_http_request *req);
enum MHD_Result adb_http_presets_create(adb_http_request *req);
enum MHD_Result adb_http_presets_update(adb_http_request *req);
enum MHD_Result adb_http_presets_delete(adb_http_request *req);
enum MHD_Result adb_http_presets_versions(adb_http_request *req);
enum MHD_Result adb_http_presets_version(adb_http_request *req);
enum MHD_Result adb_http_presets_restore(adb_http_request *req);
enum MHD_Result adb_http_presets_duplicate(adb_http_request *req);
enum MHD_Result adb_http_presets_validate(adb_http_request *req);
enum MHD_Result adb_http_presets_apply(adb_http_request *req);
enum MHD_Result adb_http_presets_stats(adb_http_request *req);
enum MHD_Result adb_http_presets_export(adb_http_request *req);
enum MHD_Result adb_http_presets_import(adb_http_request *req);

/* ---- shared by the route files (presets_doc.c) ---- */

/* A time column in the client's form (milliseconds, Z). */
#define PRESET_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The columns preset_json() reads, of audit_preset p with its usage in the
 * organization $1. Follow with WHERE. */
#define PRESET_COLUMNS                                                                        \
    "p.name, p.organization_id, auditdb_preset_spec(p)::text, p.version, "                    \
    PRESET_TS("p.created_at") ", p.created_by, " PRESET_TS("p.updated_at") ","                \
    " coalesce(p.updated_by, p.created_by), coalesce(u.uses, 0), " PRESET_TS("u.last")
#define PRESET_FROM                                                                           \
    " FROM audit_preset p LEFT JOIN LATERAL (SELECT sum(s.uses) AS uses,"                      \
    " max(s.last_used) AS last FROM audit_preset_usage s WHERE s.organization_id = $1"        \
    " AND s.name = p.name) u ON true"
#define PRESET_SELECT "SELECT " PRESET_COLUMNS PRESET_FROM

/* One preset by name as the organization $1 sees it: its own, else the
 * shared ('*') one of that name ($2). */
#define PRESET_ONE PRESET_SELECT " WHERE p.name = $2 AND p.organization_id IN ($1, '*')" \
                   " ORDER BY p.organization_id = '*' LIMIT 1"

/* The client's AuditPreset object of row (PRESET_SELECT's columns). */
json_t *preset_json(PGresult *r, int row);

/* The preset document spec (name, description, template, validation,
 * metadata, enabled, ...) checked against the client's schema. Problems go
 * to errors as {field, code, message}, field prefixed by path ("" or e.g.
 * "data.presets[2]"). Returns the normalized document (new reference) or
 * NULL when errors were added. */
json_t *preset_check(const json_t *spec, const char *path, json_t *errors);

/* spec with the members of changes (a partial document) put over it: top
 * members replace, metadata is merged member by member. New reference. */
json_t *preset_merge(const json_t *spec, const json_t *changes);

/* Checks member name of obj (path: where obj is): present when required,
 * of JSON type type (JSON_TRUE: a boolean), a string of min_chars to
 * max_chars (0: any) characters, one of allowed (NULL: any). The member,
 * or NULL when absent or wrong (errors got why). */
json_t *preset_member(const json_t *obj, const char *path, const char *name, json_type type,
                      bool required, size_t min_chars, size_t max_chars,
                      const char *const *allowed, json_t *errors);

/* The client's PresetVersion of a version row: version, spec, created_at,
 * created_by, change_log, is current ("t"/"f") (presets.c). */
json_t *preset_version_json(PGresult *r, int row, const char *name);

/* The column list of a version row (v) with its preset (p), for
 * preset_version_json; $1 the organization, $2 the name. */
#define PRESET_VERSION_SELECT                                                              \
    "SELECT v.version, v.spec::text, " PRESET_TS("v.created_at") ", v.created_by,"         \
    " v.change_log, v.version = p.version"                                                \
    " FROM audit_preset_version v JOIN audit_preset p"                                    \
    " ON p.organization_id = v.organization_id AND p.name = v.name"                       \
    " WHERE v.name = $2 AND v.organization_id = (SELECT organization_id FROM audit_preset" \
    " WHERE name = $2 AND organization_id IN ($1, '*') ORDER BY organization_id = '*' LIMIT 1)"

/* Appends {field, code, message} to errors. */
void preset_error(json_t *errors, const char *field, const char *code, const char *message);

/* Writes spec (checked) as the organization's preset: create (a new row,
 * version 1) or update (the next version of its row), with a version row
 * and its configuration history row (config_change.h: rec, zeroed by the
 * caller, is filled; the caller ends it with adb__config_change_rec_done
 * once its transaction ended). Returns the version written, 0 when the row
 * exists (create) or does not (update), -1 on a database error. */
int preset_write(PGconn *c, const char *org, const json_t *spec, const char *who,
                 const char *change_log, bool create, adb__config_change_rec *rec);

/* The organization's own preset name as now in c's transaction (new
 * reference), NULL when none. */
json_t *preset_own_spec(PGconn *c, const char *org, const char *name);

/* The configuration history row of preset name going from prev to next
 * (NULL: none) in c's transaction (field "audit_preset.<name>"); false on a
 * database error (the caller rolls back). */
bool preset_record(PGconn *c, adb__config_change_rec *rec, const char *org, const char *name,
                   const json_t *prev, const json_t *next, const char *who, const char *why);

/* Who writes: "apikey:<id>". */
void preset_who(adb_http_request *req, char out[40]);

/* The request body as a JSON object; NULL after queuing a 400 into *r. */
json_t *preset_body(adb_http_request *req, enum MHD_Result *r);

/* Answers: 400 VALIDATION_ERROR listing errors (taken), 404, 503. */
enum MHD_Result preset_invalid(adb_http_request *req, json_t *errors);
enum MHD_Result preset_not_found(adb_http_request *req, const char *name);
enum MHD_Result preset_unavailable(adb_http_request *req);
/* 400 VALIDATION_ERROR naming one field. */
enum MHD_Result preset_field_error(adb_http_request *req, const char *field, const char *code,
                                   const char *message);

/* The caller's transaction as its organization (row-level security):
 * NULL when the database is unavailable. */
PGconn *preset_begin(adb_http_request *req);
/* Commits; false when the commit failed (nothing was written). Either way
 * the connection goes back to the pool. */
bool preset_commit(adb_http_request *req, PGconn *c);
/* Rolls back and gives the connection back. NULL ok. */
void preset_rollback(adb_http_request *req, PGconn *c);
/* Runs sql; the result, or NULL (cleared) when it failed. */
PGresult *preset_exec(PGconn *c, const char *sql, int n, const char *const *params);

/* A column's value, NULL for SQL NULL. */
const char *preset_val(PGresult *r, int row, int col);

#endif
