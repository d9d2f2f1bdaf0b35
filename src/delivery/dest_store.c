/*
 * dest_store.c - creating, reading, listing, updating and deleting the
 * destinations of an organization, each call one transaction as the tenant
 * (row-level security: another organization's destination does not exist
 * for it). Secret fields are sealed before the row is written (secret.c);
 * the answers are built from what was written, secret fields masked.
 */
#include "destination.h"
#include "secret.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../monitor/config_change.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define TEXT_MAX 4096

bool adb__dest_commit(adb *h, PGconn *c)
{
    PGresult *r = PQexec(c, "COMMIT");
    /* an aborted transaction "commits" as ROLLBACK */
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");

    PQclear(r);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(h), c);
    return ok;
}

static PGresult *exec(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Whether the last statement on c failed as a unique violation. */
static bool unique_violation(PGresult *r)
{
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return code && !strcmp(code, "23505");
}

/* members of body not in known: e, false */
static bool known_members(const json_t *body, const char *const *known, adb__dest_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok) {
            char field[80];
            adb__fmt(field, sizeof(field), "%.64s", key);
            adb__utf8_repair(field);
            adb__dest_fail(e, field, "UNKNOWN_FIELD", "unknown member \"%s\"", field);
            return false;
        }
    }
    (void)v;
    return true;
}

/* an optional string member of at most max bytes (null: absent) */
static bool opt_text(const json_t *body, const char *name, size_t max, const char **out,
                     adb__dest_error *e)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) > max ||
        memchr(json_string_value(v), 0, json_string_length(v))) {
        adb__dest_fail(e, name, "INVALID_VALUE", "%s must be a string of at most %zu bytes", name,
                       max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool label_ok(const json_t *v, adb__dest_error *e)
{
    if (!json_is_string(v) || json_string_length(v) < 1 ||
        json_string_length(v) > ADB_DEST_LABEL_MAX ||
        memchr(json_string_value(v), 0, json_string_length(v))) {
        adb__dest_fail(e, "label", v ? "INVALID_VALUE" : "REQUIRED",
                       "label must be a string of 1 to %d bytes", ADB_DEST_LABEL_MAX);
        return false;
    }
    return true;
}

static bool bool_member(const json_t *body, const char *name, adb__dest_error *e)
{
    json_t *v = json_object_get(body, name);
    if (v && !json_is_boolean(v)) {
        adb__dest_fail(e, name, "INVALID_TYPE", "%s must be true or false", name);
        return false;
    }
    return true;
}

/* Seals config's secrets for (org, id) and writes config and secrets into
 * the row; false on a failure. config is changed (secrets replaced by the
 * marker). */
static bool write_config(adb *h, PGconn *c, const char *org, int id, const char *type,
                         json_t *config)
{
    unsigned char *sealed = NULL;
    size_t len = 0;
    char idtext[16], *hex = NULL, *text = NULL;
    bool ok = adb__dest_seal(adb__db_keys(h), org, id, type, config, &sealed, &len);

    if (ok && sealed) {
        hex = malloc(2 * len + 1);
        if (hex)
            adb__hex(sealed, len, hex);
        ok = hex != NULL;
    }
    text = ok ? json_dumps(config, JSON_COMPACT) : NULL;
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *p[] = { org, idtext, text, hex };
    PGresult *r = ok && text ? exec(c,
                                    "UPDATE delivery_destinations SET config = $3::jsonb,"
                                    " secrets = decode($4, 'hex'), updated_at = now()"
                                    " WHERE organization_id = $1 AND id = $2::int",
                                    4, p)
                             : NULL;
    ok = r && !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    free(text);
    free(hex);
    free(sealed);
    return ok;
}

/* The answer of destination id of org on c; NULL when there is none. */
/* the configuration history's field of destination id (docs/monitoring.md) */
static const char *change_field(int id, char out[48])
{
    adb__fmt(out, 48, "delivery_destination.%d", id);
    return out;
}

static json_t *read_one(PGconn *c, const char *org, int id, adb_status *st)
{
    char idtext[16];
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *p[] = { org, idtext };
    PGresult *r = exec(c,
                       "SELECT " ADB_DEST_COLUMNS " FROM delivery_destinations d"
                       " WHERE d.organization_id = $1 AND d.id = $2::int AND d.deleted_at IS NULL",
                       2, p);
    json_t *o = NULL;

    *st = !r ? ADB_ERR_DB_QUERY : PQntuples(r) != 1 ? ADB_ERR_NOT_FOUND : ADB_OK;
    if (*st == ADB_OK && !(o = adb__dest_row_json(r, 0)))
        *st = ADB_ERR_NOMEM;
    PQclear(r);
    return o;
}

adb_status adb__dest_create(adb *h, const char *org, const json_t *body, const char *who,
                            json_t **out, adb__dest_error *e)
{
    static const char *const known[] = { "organizationId", "label", "type", "description", "icon",
                                         "instructions", "config", "isDefault", NULL };
    const char *desc, *icon, *instr;
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    *out = NULL;
    if (!json_is_object(body)) {
        adb__dest_fail(e, "", "INVALID_JSON", "the body must be a JSON object");
        return ADB_ERR_INVALID;
    }
    if (!known_members(body, known, e))
        return ADB_ERR_INVALID;
    json_t *ov = json_object_get(body, "organizationId");
    if (ov && (!json_is_string(ov) || strcmp(json_string_value(ov), org) != 0)) {
        adb__dest_fail(e, "organizationId", "FORBIDDEN",
                       "organizationId names another organization than the caller's");
        return ADB_ERR_INVALID;
    }
    const char *type = json_string_value(json_object_get(body, "type"));
    if (!json_object_get(body, "type") || !adb__dest_type_valid(type)) {
        adb__dest_fail(e, "type", json_object_get(body, "type") ? "INVALID_VALUE" : "REQUIRED",
                       "type must be email, webhook, storage, sftp or download");
        return ADB_ERR_INVALID;
    }
    if (!label_ok(json_object_get(body, "label"), e) ||
        !opt_text(body, "description", TEXT_MAX, &desc, e) ||
        !opt_text(body, "icon", 255, &icon, e) ||
        !opt_text(body, "instructions", TEXT_MAX, &instr, e) || !bool_member(body, "isDefault", e))
        return ADB_ERR_INVALID;
    const json_t *cfg = json_object_get(body, "config");
    /* a mask given at creation has nothing to keep: refused as a value */
    if (cfg && json_is_object(cfg)) {
        json_t *paths = adb__dest_secret_paths(type, cfg), *path;
        size_t i;
        json_array_foreach(paths, i, path) {
            json_t *v = adb__dest_secret_get(cfg, path);
            if (v && adb__dest_is_mask(v)) {
                char field[160] = "config";
                size_t j;
                json_t *part;
                json_array_foreach(path, j, part)
                    adb__fmt(field + strlen(field), sizeof(field) - strlen(field), ".%s",
                             json_string_value(part));
                adb__dest_fail(e, field, "INVALID_VALUE", "%s must be the secret itself", field);
                json_decref(paths);
                return ADB_ERR_INVALID;
            }
        }
        json_decref(paths);
    }
    if (!adb__dest_check_config(type, cfg, false, e))
        return ADB_ERR_INVALID;

    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return st;
    json_t *config = json_deep_copy(cfg);
    const char *label = json_string_value(json_object_get(body, "label"));
    const char *p[] = { org, type, label, desc, icon, instr,
                        json_is_true(json_object_get(body, "isDefault")) ? "true" : "false" };
    /* the row first with an empty config: the id is part of what seals the secrets */
    PGresult *r = PQexecParams(c,
                               "INSERT INTO delivery_destinations (organization_id, type, label,"
                               " description, icon, instructions, is_default, config)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, '{}') RETURNING id",
                               7, NULL, p, NULL, NULL, 0);
    int id = 0;
    json_t *keys = NULL;
    st = ADB_OK;
    if (unique_violation(r)) {
        adb__dest_fail(e, "label", "CONFLICT", "the organization has a destination labelled so");
        st = ADB_ERR_INVALID;
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        st = ADB_ERR_DB_QUERY;
    } else {
        id = atoi(PQgetvalue(r, 0, 0));
        if (!write_config(h, c, org, id, type, config))
            st = ADB_ERR_DB_QUERY;
        else if (!strcmp(type, "webhook"))
            st = adb__webhook_keys_make(h, c, org, id, 0, who, &keys);
    }
    PQclear(r);
    json_decref(config);
    json_t *o = st == ADB_OK ? read_one(c, org, id, &st) : NULL;
    adb__config_change_rec cc = { 0 };
    char fld[48];
    if (st == ADB_OK)
        st = adb__config_change_json_tx(c, &cc, org, change_field(id, fld), NULL, o, who, NULL,
                                        err, sizeof(err));
    if (st == ADB_OK && !adb__dest_commit(h, c))
        st = ADB_ERR_DB_QUERY;
    else if (st != ADB_OK)
        adb_tenant_end(h, c, false);
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    if (st != ADB_OK) {
        json_decref(o);
        json_decref(keys);
        return st;
    }
    if (keys) /* shown this once */
        json_object_set_new(o, "secrets", keys);
    *out = o;
    return ADB_OK;
}

adb_status adb__dest_get(adb *h, const char *org, int id, json_t **out)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    *out = read_one(c, org, id, &st);
    adb_tenant_end(h, c, false);
    return st;
}

adb_status adb__dest_list(adb *h, const char *org, const adb__dest_query *q, json_t **out)
{
    static const struct { const char *api, *sql; } sorts[] = {
        { "createdAt", "d.created_at" }, { "updatedAt", "d.updated_at" },
        { "label", "d.label" }, { "type", "d.type" },
    };
    const char *sort = "d.created_at";
    char err[ADB_ERRMSG_MAX], lim[24], off[24];
    adb_status st;
    adb__buf b = { 0 };

    *out = NULL;
    for (size_t i = 0; q->sort_by && i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (!strcmp(q->sort_by, sorts[i].api))
            sort = sorts[i].sql;
    adb__fmt(lim, sizeof(lim), "%lld", q->limit);
    adb__fmt(off, sizeof(off), "%lld", q->offset);
    const char *p[] = { org, q->type, q->disabled < 0 ? NULL : q->disabled ? "true" : "false", lim,
                        off };
    adb__buf_printf(&b,
                    "SELECT " ADB_DEST_COLUMNS ", count(*) OVER ()"
                    " FROM delivery_destinations d WHERE d.organization_id = $1"
                    " AND d.deleted_at IS NULL AND ($2::text IS NULL OR d.type = $2)"
                    " AND ($3::text IS NULL OR d.disabled = $3)"
                    " ORDER BY %s %s, d.id %s LIMIT $4::bigint OFFSET $5::bigint",
                    sort, q->desc ? "DESC" : "ASC", q->desc ? "DESC" : "ASC");
    char *sql = adb__buf_take(&b, NULL);
    if (!sql)
        return ADB_ERR_NOMEM;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c) {
        free(sql);
        return st;
    }
    PGresult *r = exec(c, sql, 5, p);
    free(sql);
    long long total = 0;
    if (r && PQntuples(r) > 0)
        total = atoll(PQgetvalue(r, 0, 17));
    else if (r) { /* an empty page: the total still */
        PGresult *t = exec(c,
                           "SELECT count(*) FROM delivery_destinations d WHERE d.organization_id = $1"
                           " AND d.deleted_at IS NULL AND ($2::text IS NULL OR d.type = $2)"
                           " AND ($3::text IS NULL OR d.disabled = $3)",
                           3, p);
        if (t)
            total = atoll(PQgetvalue(t, 0, 0));
        else {
            PQclear(r);
            r = NULL;
        }
        PQclear(t);
    }
    adb_tenant_end(h, c, false);
    if (!r)
        return ADB_ERR_DB_QUERY;
    json_t *data = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        json_array_append_new(data, adb__dest_row_json(r, i));
    PQclear(r);
    *out = json_pack("{s:o, s:{s:I, s:I, s:I, s:b, s:b}}", "data", data, "pagination", "total",
                     (json_int_t)total, "limit", (json_int_t)q->limit, "offset",
                     (json_int_t)q->offset, "hasNext", q->offset + n < total, "hasPrevious",
                     q->offset > 0);
    return *out ? ADB_OK : ADB_ERR_NOMEM;
}

/* RFC 7396: patch over target, a null member removing; new reference. */
static json_t *merge_patch(const json_t *target, const json_t *patch)
{
    const char *key;
    json_t *v;

    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
    json_object_foreach((json_t *)patch, key, v) {
        if (json_is_null(v))
            json_object_del(out, key);
        else
            json_object_set_new(out, key, merge_patch(json_object_get(out, key), v));
    }
    return out;
}

adb_status adb__dest_update(adb *h, const char *org, int id, const json_t *body, bool merge,
                            const char *who, json_t **out, adb__dest_error *e)
{
    static const char *const known[] = { "label", "description", "icon", "instructions", "config",
                                         "disabled", "isDefault", NULL };
    const char *desc, *icon, *instr;
    char err[ADB_ERRMSG_MAX], idtext[16];
    adb_status st;

    *out = NULL;
    if (!json_is_object(body)) {
        adb__dest_fail(e, "", "INVALID_JSON", "the body must be a JSON object");
        return ADB_ERR_INVALID;
    }
    json_t *lv = json_object_get(body, "label");
    if (!known_members(body, known, e) || (lv && !label_ok(lv, e)) ||
        !opt_text(body, "description", TEXT_MAX, &desc, e) ||
        !opt_text(body, "icon", 255, &icon, e) ||
        !opt_text(body, "instructions", TEXT_MAX, &instr, e) ||
        !bool_member(body, "disabled", e) || !bool_member(body, "isDefault", e))
        return ADB_ERR_INVALID;
    const json_t *cfg = json_object_get(body, "config");
    if (cfg && !json_is_object(cfg)) {
        adb__dest_fail(e, "config", "INVALID_TYPE", "config must be an object");
        return ADB_ERR_INVALID;
    }

    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return st;
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *lp[] = { org, idtext };
    PGresult *r = exec(c,
                       "SELECT 1 FROM delivery_destinations WHERE organization_id = $1"
                       " AND id = $2::int AND deleted_at IS NULL FOR UPDATE",
                       2, lp);
    adb__dest old = { 0 };
    st = !r ? ADB_ERR_DB_QUERY : PQntuples(r) != 1 ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    json_t *before = st == ADB_OK ? read_one(c, org, id, &st) : NULL;
    if (st == ADB_OK && cfg) {
        st = adb__dest_load(h, c, org, id, &old);
        if (st == ADB_ERR_INTERNAL) {
            adb__dest_fail(e, "config", "CONFLICT",
                           "the destination's sealed secrets do not open (changed, or moved from "
                           "another destination): delete it and create it again");
            st = ADB_ERR_INVALID;
        }
    }
    json_t *config = NULL;
    if (st == ADB_OK && cfg) {
        if (merge) {
            /* a JSON merge patch (RFC 7396) over the stored config */
            config = merge_patch(old.config, cfg);
        } else {
            config = json_deep_copy(cfg);
        }
        adb__dest_keep_secrets(old.type, config, old.config);
        if (!adb__dest_check_config(old.type, config, false, e))
            st = ADB_ERR_INVALID;
        else {
            /* a mask with nothing stored to keep */
            json_t *paths = adb__dest_secret_paths(old.type, config), *path;
            size_t i;
            json_array_foreach(paths, i, path) {
                json_t *v = adb__dest_secret_get(config, path);
                if (v && adb__dest_is_mask(v) && st == ADB_OK) {
                    adb__dest_fail(e, "config", "INVALID_VALUE",
                                   "a secret field given as the mask has no stored value to keep");
                    st = ADB_ERR_INVALID;
                }
            }
            json_decref(paths);
        }
        if (st == ADB_OK && !write_config(h, c, org, id, old.type, config))
            st = ADB_ERR_DB_QUERY;
    }
    if (st == ADB_OK) {
        json_t *dv = json_object_get(body, "disabled"), *iv = json_object_get(body, "isDefault");
        const char *p[] = { org, idtext, json_string_value(lv), desc, icon, instr,
                            dv ? (json_is_true(dv) ? "true" : "false") : NULL, who,
                            iv ? (json_is_true(iv) ? "true" : "false") : NULL,
                            json_object_get(body, "description") ? "1" : NULL,
                            json_object_get(body, "icon") ? "1" : NULL,
                            json_object_get(body, "instructions") ? "1" : NULL };
        r = PQexecParams(c,
                         "UPDATE delivery_destinations SET label = coalesce($3, label),"
                         " description = CASE WHEN $10::text IS NULL THEN description ELSE $4 END,"
                         " icon = CASE WHEN $11::text IS NULL THEN icon ELSE $5 END,"
                         " instructions = CASE WHEN $12::text IS NULL THEN instructions ELSE $6 END,"
                         " disabled_at = CASE WHEN $7::text IS NULL OR $7 = disabled THEN disabled_at"
                         "                    WHEN $7 = 'true' THEN now() ELSE NULL END,"
                         " disabled_by = CASE WHEN $7::text IS NULL OR $7 = disabled THEN disabled_by"
                         "                    WHEN $7 = 'true' THEN $8 ELSE NULL END,"
                         " disabled = coalesce($7, disabled), is_default = coalesce($9, is_default),"
                         " updated_at = now()"
                         " WHERE organization_id = $1 AND id = $2::int",
                         12, NULL, p, NULL, NULL, 0);
        if (unique_violation(r)) {
            adb__dest_fail(e, "label", "CONFLICT", "the organization has a destination labelled so");
            st = ADB_ERR_INVALID;
        } else if (PQresultStatus(r) != PGRES_COMMAND_OK)
            st = ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    adb__dest_free(&old);
    json_decref(config);
    json_t *o = st == ADB_OK ? read_one(c, org, id, &st) : NULL;
    adb__config_change_rec cc = { 0 };
    char fld[48];
    if (st == ADB_OK)
        st = adb__config_change_json_tx(c, &cc, org, change_field(id, fld), before, o, who, NULL,
                                        err, sizeof(err));
    json_decref(before);
    if (st == ADB_OK && !adb__dest_commit(h, c))
        st = ADB_ERR_DB_QUERY;
    else if (st != ADB_OK)
        adb_tenant_end(h, c, false);
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    if (st != ADB_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return ADB_OK;
}

adb_status adb__dest_delete(adb *h, const char *org, int id, const char *who)
{
    char err[ADB_ERRMSG_MAX], idtext[16], fld[48];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    adb__config_change_rec cc = { 0 };

    if (!c)
        return st;
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *p[] = { org, idtext };
    json_t *before = read_one(c, org, id, &st);
    if (st == ADB_OK)
        st = adb__config_change_json_tx(c, &cc, org, change_field(id, fld), before, NULL, who,
                                        NULL, err, sizeof(err));
    json_decref(before);
    if (st != ADB_OK) {
        adb_tenant_end(h, c, false);
        adb__config_change_rec_done(h, &cc, false);
        return st;
    }
    /* the row stays for the delivery records that name it; its secrets and
     * keys are destroyed, its waiting items cancelled */
    PGresult *r = exec(c,
                       "UPDATE delivery_destinations SET deleted_at = now(), disabled = 'true',"
                       " disabled_at = coalesce(disabled_at, now()), secrets = NULL,"
                       " config = '{}', updated_at = now()"
                       " WHERE organization_id = $1 AND id = $2::int AND deleted_at IS NULL",
                       2, p);
    st = !r ? ADB_ERR_DB_QUERY : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    if (st == ADB_OK) {
        r = exec(c,
                 "UPDATE webhook_secrets SET is_active = 'false', is_primary = 'false',"
                 " secret_key = '', expires_at = coalesce(expires_at, now())"
                 " WHERE organization_id = $1 AND destination_id = $2::int",
                 2, p);
        st = r ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    if (st == ADB_OK) {
        r = exec(c,
                 "UPDATE delivery_queue SET status = 'cancelled', updated_at = now()"
                 " WHERE organization_id = $1 AND destination_id = $2::int"
                 " AND status IN ('pending', 'held')",
                 2, p);
        st = r ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    if (st == ADB_OK)
        st = adb__dest_commit(h, c) ? ADB_OK : ADB_ERR_DB_QUERY;
    else
        adb_tenant_end(h, c, false);
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    return st;
}

adb_status adb__dest_validate(adb *h, const char *org, int id, json_t **out)
{
    char err[ADB_ERRMSG_MAX], idtext[16];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    adb__dest d;

    *out = NULL;
    if (!c)
        return st;
    json_t *errors = json_array(), *warnings = json_array();
    st = adb__dest_load(h, c, org, id, &d);
    if (st == ADB_ERR_INTERNAL) {
        json_array_append_new(errors, json_string("the sealed secrets do not open: they were "
                                                  "changed or belong to another destination"));
        st = ADB_OK;
        d.config = NULL;
    } else if (st == ADB_OK) {
        adb__dest_check_all(d.type, d.config, d.disabled, errors, warnings);
        if (!strcmp(d.type, "webhook")) {
            adb__fmt(idtext, sizeof(idtext), "%d", id);
            const char *p[] = { org, idtext };
            PGresult *r = exec(c,
                               "SELECT count(*) FILTER (WHERE algorithm = 'HMAC-SHA256'),"
                               " count(*) FILTER (WHERE algorithm = 'Ed25519')"
                               " FROM webhook_secrets WHERE organization_id = $1"
                               " AND destination_id = $2::int AND is_active = 'true'"
                               " AND secret_key <> '' AND (expires_at IS NULL OR expires_at > now())",
                               2, p);
            if (!r)
                st = ADB_ERR_DB_QUERY;
            else if (!strcmp(PQgetvalue(r, 0, 0), "0") || !strcmp(PQgetvalue(r, 0, 1), "0"))
                json_array_append_new(errors, json_string("the webhook has no active signing "
                                                          "secret: rotate its secrets"));
            PQclear(r);
        }
        adb__dest_free(&d);
    }
    adb_tenant_end(h, c, false);
    if (st != ADB_OK) {
        json_decref(errors);
        json_decref(warnings);
        return st;
    }
    *out = json_pack("{s:b, s:o, s:o}", "isValid", json_array_size(errors) == 0, "errors", errors,
                     "warnings", warnings);
    return *out ? ADB_OK : ADB_ERR_NOMEM;
}
