/*
 * template_store.c - report templates as the tenant (docs/reports.md,
 * "Templates"): the client's ReportTemplate shape over report_templates.
 * A template holds defaults (criteria, format, export, delivery,
 * notifications, tags) that a scheduled report naming it by templateId
 * starts from; its usage_count counts those schedules. Public templates
 * (isPublic) are still the organization's: RLS keeps every row in its tenant.
 */
#include "template_store.h"
#include "../delivery/delivery.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../monitor/config_change.h"

#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TPL_JSON                                                                                   \
    "jsonb_build_object('id', t.id, 'name', t.name, 'description', t.description,"                \
    " 'organizationId', t.organization_id, 'category', t.category, 'isPublic', t.is_public = 'true'," \
    " 'reportType', t.report_type, 'defaultFormat', t.default_format,"                            \
    " 'defaultCriteria', t.default_criteria, 'defaultExport', t.default_export_config,"           \
    " 'defaultDelivery', t.default_delivery_config,"                                              \
    " 'defaultNotifications', t.default_notifications_config, 'tags', t.tags,"                    \
    " 'isActive', t.is_active = 'true', 'isDefault', t.is_default = 'true',"                      \
    " 'configuration', coalesce(t.configuration, '{\"sections\": []}'), 'version', t.version::text," \
    " 'usageCount', t.usage_count, 'createdAt', " ISO("t.created_at") ","                         \
    " 'updatedAt', " ISO("t.updated_at") ", 'createdBy', t.created_by, 'updatedBy', t.updated_by)::text"

static const char *const categories[] = { "hipaa", "gdpr", "custom", "privacy", "security", "audit", NULL };
static const char *const types[] = { "HIPAA_AUDIT_TRAIL", "GDPR_PROCESSING_ACTIVITIES",
                                     "GENERAL_COMPLIANCE", "INTEGRITY_VERIFICATION", "CUSTOM_REPORT",
                                     NULL };
static const char *const formats[] = { "json", "csv", "xml", "pdf", "xlsx", NULL };

static bool one_of(const char *v, const char *const *set)
{
    for (int i = 0; v && set[i]; i++)
        if (!strcmp(v, set[i]))
            return true;
    return false;
}

static json_t *obj_of(const char *text)
{
    json_t *o = json_loads(text, 0, NULL), *v;
    const char *k;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
        if (json_is_null(v))
            json_object_del(o, k);
    return o;
}

static bool check(const json_t *b, bool full, adb__sched_error *e)
{
    static const char *const known[] = { "name", "description", "category", "isPublic", "reportType",
                                         "defaultFormat", "defaultCriteria", "defaultExport",
                                         "defaultDelivery", "defaultNotifications", "tags", "isActive",
                                         "isDefault", "configuration", "id", "organizationId",
                                         "version", "usageCount", "createdAt", "updatedAt",
                                         "createdBy", "updatedBy", NULL };
    static const struct { const char *k; const char *const *set; const char *why; } enums[] = {
        { "category", categories, "category must be hipaa, gdpr, custom, privacy, security or audit" },
        { "reportType", types, "reportType must be HIPAA_AUDIT_TRAIL, GDPR_PROCESSING_ACTIVITIES, "
                               "GENERAL_COMPLIANCE, INTEGRITY_VERIFICATION or CUSTOM_REPORT" },
        { "defaultFormat", formats, "defaultFormat must be json, csv, xml, pdf or xlsx" },
    };
    const char *k;
    json_t *v;

    if (!json_is_object(b)) {
        adb__sched_fail(e, "", "INVALID_JSON", "the body must be a JSON object");
        return false;
    }
    json_object_foreach((json_t *)b, k, v)
        if (!one_of(k, known)) {
            char f[96];
            adb__fmt(f, sizeof(f), "%.60s", k);
            adb__sched_fail(e, f, "UNKNOWN_FIELD", "a report template has no member %.60s", k);
            return false;
        }
    v = json_object_get(b, "name");
    if ((full || v) && (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 255)) {
        adb__sched_fail(e, "name", v ? "INVALID_VALUE" : "REQUIRED", "name must be a string of 1 to 255 characters");
        return false;
    }
    v = json_object_get(b, "description");
    if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 1000)) {
        adb__sched_fail(e, "description", "INVALID_VALUE", "description has at most 1000 characters");
        return false;
    }
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        v = json_object_get(b, enums[i].k);
        if ((full || v) && !one_of(json_string_value(v), enums[i].set)) {
            adb__sched_fail(e, enums[i].k, v ? "INVALID_VALUE" : "REQUIRED", "%s", enums[i].why);
            return false;
        }
    }
    const char *objs[] = { "defaultCriteria", "defaultExport", "defaultDelivery", "defaultNotifications",
                           "configuration" };
    for (size_t i = 0; i < 5; i++) {
        v = json_object_get(b, objs[i]);
        if (v && !json_is_null(v) && !json_is_object(v)) {
            adb__sched_fail(e, objs[i], "INVALID_TYPE", "%s must be an object", objs[i]);
            return false;
        }
    }
    v = json_object_get(json_object_get(b, "configuration"), "sections");
    if (json_object_get(b, "configuration") && !json_is_array(v)) {
        adb__sched_fail(e, "configuration.sections", "REQUIRED", "configuration.sections must be an array");
        return false;
    }
    const char *bools[] = { "isPublic", "isActive", "isDefault" };
    for (size_t i = 0; i < 3; i++) {
        v = json_object_get(b, bools[i]);
        if (v && !json_is_boolean(v)) {
            adb__sched_fail(e, bools[i], "INVALID_TYPE", "%s must be true or false", bools[i]);
            return false;
        }
    }
    v = json_object_get(b, "tags");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *t;
        if (!json_is_array(v) || json_array_size(v) > 50) {
            adb__sched_fail(e, "tags", "INVALID_VALUE", "tags must be an array of at most 50 strings");
            return false;
        }
        json_array_foreach(v, i, t)
            if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 100) {
                adb__sched_fail(e, "tags", "INVALID_VALUE", "each tag is a string of 1 to 100 characters");
                return false;
            }
    }
    return true;
}

static char *dump(const json_t *b, const char *k)
{
    json_t *v = json_object_get(b, k);
    return v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT) : NULL;
}

static const char *flag(const json_t *b, const char *k)
{
    json_t *v = json_object_get(b, k);
    return !v ? NULL : json_is_true(v) ? "true" : "false";
}

static json_t *read_one(PGconn *c, const char *org, const char *id, adb_status *st)
{
    const char *p[] = { org, id };
    PGresult *r = PQexecParams(c, "SELECT " TPL_JSON " FROM report_templates t WHERE t.organization_id = $1"
                                  " AND t.id = $2 AND t.is_deleted = 'false'", 2, NULL, p, NULL, NULL, 0);
    json_t *o = NULL;
    *st = PQresultStatus(r) != PGRES_TUPLES_OK ? ADB_ERR_DB_QUERY : PQntuples(r) != 1 ? ADB_ERR_NOT_FOUND : ADB_OK;
    if (*st == ADB_OK)
        o = obj_of(PQgetvalue(r, 0, 0));
    PQclear(r);
    return o;
}

/* The configuration history row of template id going from prev to next
 * (NULL: none), without what changes by itself; ADB_OK or a database error. */
static adb_status record(PGconn *c, adb__config_change_rec *rec, const char *org, const char *id,
                         const json_t *prev, const json_t *next, const char *who)
{
    static const char *const drop[] = { "usageCount", "createdAt", "updatedAt", "updatedBy",
                                        "version", NULL };
    char fld[256], err[ADB_ERRMSG_MAX];
    json_t *a = adb__config_doc_without(prev, drop), *b = adb__config_doc_without(next, drop);

    adb__fmt(fld, sizeof(fld), "report_template.%.230s", id);
    adb_status st = adb__config_change_json_tx(c, rec, org, fld, a, b, who, NULL, err, sizeof(err));
    json_decref(a);
    json_decref(b);
    return st == ADB_OK ? ADB_OK : ADB_ERR_DB_QUERY;
}

/* create (id NULL) or update (id given) in one transaction, with its
 * configuration history row; its audit event once committed */
static adb_status write_tpl(adb *h, const char *org, const char *id, const json_t *b, const char *who,
                            json_t **out, adb__sched_error *e)
{
    char err[ADB_ERRMSG_MAX], nid[64];
    adb__config_change_rec cc = { 0 };
    adb_status st;
    json_t *before = NULL;

    *out = NULL;
    if (!check(b, id == NULL, e))
        return ADB_ERR_INVALID;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return st;
    if (id && !(before = read_one(c, org, id, &st))) {
        adb_tenant_end(h, c, false);
        return st == ADB_OK ? ADB_ERR_NOMEM : st;
    }
    if (!id)
        adb__queue_new_id("template-", nid, sizeof(nid));
    char *crit = dump(b, "defaultCriteria"), *exp = dump(b, "defaultExport"),
         *del = dump(b, "defaultDelivery"), *noti = dump(b, "defaultNotifications"),
         *tags = dump(b, "tags"), *conf = dump(b, "configuration");
    const char *p[] = { id ? id : nid, json_string_value(json_object_get(b, "name")),
                        json_string_value(json_object_get(b, "description")), org,
                        json_string_value(json_object_get(b, "category")), flag(b, "isPublic"),
                        json_string_value(json_object_get(b, "reportType")),
                        json_string_value(json_object_get(b, "defaultFormat")), crit, exp, del, noti,
                        tags, flag(b, "isActive"), flag(b, "isDefault"), conf, who };
    PGresult *r = PQexecParams(c, id
        ? "UPDATE report_templates SET name = coalesce($2, name), description = coalesce($3, description),"
          " category = coalesce($5, category), is_public = coalesce($6, is_public),"
          " report_type = coalesce($7, report_type), default_format = coalesce($8, default_format),"
          " default_criteria = coalesce($9::jsonb, default_criteria),"
          " default_export_config = coalesce($10::jsonb, default_export_config),"
          " default_delivery_config = coalesce($11::jsonb, default_delivery_config),"
          " default_notifications_config = coalesce($12::jsonb, default_notifications_config),"
          " tags = coalesce($13::jsonb, tags), is_active = coalesce($14, is_active),"
          " is_default = coalesce($15, is_default), configuration = coalesce($16::jsonb, configuration),"
          " version = version + 1, updated_by = $17, updated_at = now()"
          " WHERE id = $1 AND organization_id = $4 AND is_deleted = 'false'"
        : "INSERT INTO report_templates (id, name, description, organization_id, category, is_public,"
          " report_type, default_format, default_criteria, default_export_config,"
          " default_delivery_config, default_notifications_config, tags, is_active, is_default,"
          " configuration, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, coalesce($6, 'false'),"
          " $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb, coalesce($13::jsonb, '[]'),"
          " coalesce($14, 'true'), coalesce($15, 'false'), coalesce($16::jsonb, '{\"sections\": []}'),"
          " $17, $17)",
        17, NULL, p, NULL, NULL, 0);
    free(crit); free(exp); free(del); free(noti); free(tags); free(conf);
    st = PQresultStatus(r) != PGRES_COMMAND_OK ? ADB_ERR_DB_QUERY
         : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    json_t *o = st == ADB_OK ? read_one(c, org, id ? id : nid, &st) : NULL;
    if (st == ADB_OK)
        st = record(c, &cc, org, id ? id : nid, before, o, who);
    json_decref(before);
    if (st != ADB_OK)
        adb_tenant_end(h, c, false);
    else if (!adb__tenant_commit(h, c))
        st = ADB_ERR_DB_QUERY;
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    if (st == ADB_OK)
        *out = o;
    else
        json_decref(o);
    return st;
}

adb_status adb__template_create(adb *h, const char *org, const json_t *body, const char *who,
                                json_t **out, adb__sched_error *e)
{
    return write_tpl(h, org, NULL, body, who, out, e);
}

adb_status adb__template_update(adb *h, const char *org, const char *id, const json_t *body,
                                const char *who, json_t **out, adb__sched_error *e)
{
    return write_tpl(h, org, id, body, who, out, e);
}

adb_status adb__template_get(adb *h, const char *org, const char *id, json_t **out)
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

adb_status adb__template_list(adb *h, const char *org, json_t **out)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    *out = NULL;
    if (!c)
        return st;
    const char *p[] = { org };
    PGresult *r = PQexecParams(c, "SELECT " TPL_JSON " FROM report_templates t WHERE t.organization_id = $1"
                                  " AND t.is_deleted = 'false' ORDER BY t.created_at, t.id LIMIT 1000",
                               1, NULL, p, NULL, NULL, 0);
    adb_tenant_end(h, c, false);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    *out = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(*out, obj_of(PQgetvalue(r, i, 0)));
    PQclear(r);
    return ADB_OK;
}

adb_status adb__template_delete(adb *h, const char *org, const char *id, const char *who)
{
    char err[ADB_ERRMSG_MAX];
    adb__config_change_rec cc = { 0 };
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return st;
    json_t *before = read_one(c, org, id, &st);
    const char *p[] = { org, id };
    PGresult *r = st == ADB_OK ? PQexecParams(c, "UPDATE report_templates SET is_deleted = 'true',"
                                  " is_active = 'false', updated_at = now() WHERE organization_id = $1"
                                  " AND id = $2 AND is_deleted = 'false'", 2, NULL, p, NULL, NULL, 0)
                               : NULL;
    if (r)
        st = PQresultStatus(r) != PGRES_COMMAND_OK ? ADB_ERR_DB_QUERY
             : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    if (st == ADB_OK)
        st = record(c, &cc, org, id, before, NULL, who);
    json_decref(before);
    if (st != ADB_OK)
        adb_tenant_end(h, c, false);
    else if (!adb__tenant_commit(h, c))
        st = ADB_ERR_DB_QUERY;
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    return st;
}
