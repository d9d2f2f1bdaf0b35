/*
 * rule_store.c - detection rules and settings as the tenant (rule_store.h).
 */
#include "rule_store.h"
#include "rule.h"
#include "../monitor/config_change.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define RULE_JSON                                                                                 \
    "jsonb_build_object('id', rule_id, 'version', version, 'enabled', enabled, 'current',"      \
    " is_current, 'definition', definition, 'createdAt', " ISO("created_at") ", 'createdBy',"    \
    " created_by, 'reason', reason)::text"

static void fail(adb__rule_error *e, const char *field, const char *code, const char *msg)
{
    adb__fmt(e->field, sizeof(e->field), "%s", field);
    adb__fmt(e->code, sizeof(e->code), "%s", code);
    adb__fmt(e->message, sizeof(e->message), "%s", msg);
}

/* rows of one text column of JSON objects into an array */
static json_t *rows_array(PGresult *r)
{
    json_t *a = json_array();
    for (int i = 0; a && i < PQntuples(r); i++)
        json_array_append_new(a, json_loads(PQgetvalue(r, i, 0), 0, NULL));
    return a;
}

static adb_status read_rows(adb *h, const char *org, const char *sql, int n, const char *const *p,
                            json_t **out, bool one)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    st = PQresultStatus(r) != PGRES_TUPLES_OK ? ADB_ERR_DB_QUERY
         : one && PQntuples(r) == 0           ? ADB_ERR_NOT_FOUND
                                              : ADB_OK;
    if (st == ADB_OK)
        *out = one ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : rows_array(r);
    if (st == ADB_OK && !*out)
        st = ADB_ERR_NOMEM;
    PQclear(r);
    adb_tenant_end(h, c, false);
    return st;
}

adb_status adb__rules_list(adb *h, const char *org, json_t **out)
{
    const char *p[] = { org };
    return read_rows(h, org, "SELECT " RULE_JSON " FROM detection_rules WHERE organization_id = $1"
                             " AND is_current ORDER BY rule_id", 1, p, out, false);
}

adb_status adb__rules_get(adb *h, const char *org, const char *id, json_t **out)
{
    const char *p[] = { org, id };
    return read_rows(h, org, "SELECT " RULE_JSON " FROM detection_rules WHERE organization_id = $1"
                             " AND rule_id = $2 AND is_current", 2, p, out, true);
}

adb_status adb__rules_versions(adb *h, const char *org, const char *id, json_t **out)
{
    const char *p[] = { org, id };
    adb_status st = read_rows(h, org, "SELECT " RULE_JSON " FROM detection_rules"
                                      " WHERE organization_id = $1 AND rule_id = $2"
                                      " ORDER BY version DESC", 2, p, out, false);
    if (st == ADB_OK && json_array_size(*out) == 0) {
        json_decref(*out);
        *out = NULL;
        st = ADB_ERR_NOT_FOUND;
    }
    return st;
}

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '.' || ch == '_' || ch == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* the version's value as recorded in the configuration history */
static json_t *snapshot(int version, bool enabled, json_t *definition)
{
    return json_pack("{s:i, s:b, s:O}", "version", version, "enabled", enabled, "definition",
                     definition);
}

adb_status adb__rules_set(adb *h, const char *org, const char *id, bool create,
                          const json_t *definition, int enabled, const char *reason,
                          const char *who, json_t **out, adb__rule_error *e)
{
    char err[ADB_ERRMSG_MAX], field[96], why[256], fld[160], ver[16], nver[16];
    adb_status st;
    PGconn *c;
    PGresult *r = NULL;
    json_t *prev_def = NULL, *prev = NULL, *next = NULL;
    char *def_text = NULL, *prev_text = NULL, *next_text = NULL;
    int version = 0;
    bool prev_enabled = true, committed = false, written = false;
    adb__config_change ch;

    memset(&ch, 0, sizeof(ch));
    *out = NULL;
    if (!valid_id(id)) {
        fail(e, "id", "INVALID_FORMAT", "a rule id is 1 to 64 lower-case letters, digits, '.', "
             "'_' or '-', starting with a letter or digit");
        return ADB_ERR_INVALID;
    }
    if (create && !definition) {
        fail(e, "definition", "REQUIRED_FIELD_MISSING", "a new rule needs its definition");
        return ADB_ERR_INVALID;
    }
    if (!(c = adb_tenant_begin(h, org, &st, err, sizeof(err))))
        return st;
    const char *p[] = { org, id };
    r = PQexecParams(c, "SELECT version, enabled, definition::text FROM detection_rules"
                        " WHERE organization_id = $1 AND rule_id = $2 AND is_current FOR UPDATE",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    if (PQntuples(r) == 1) {
        if (create) {
            fail(e, "id", "RULE_EXISTS", "the organization has a rule of this id: change it with PUT");
            st = ADB_ERR_INVALID;
            goto out;
        }
        version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        prev_enabled = PQgetvalue(r, 0, 1)[0] == 't';
        prev_def = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
    } else if (!create) {
        st = ADB_ERR_NOT_FOUND;
        goto out;
    }
    PQclear(r);
    r = NULL;
    def_text = json_dumps(definition ? definition : prev_def, JSON_COMPACT);
    adb__rule rule;
    if (!def_text) {
        fail(e, "definition", "INVALID_JSON", "the definition must be a JSON object");
        st = ADB_ERR_INVALID;
        goto out;
    }
    if (!adb__rule_parse(def_text, &rule, field, sizeof(field), why, sizeof(why))) {
        char f[128];
        adb__fmt(f, sizeof(f), "definition.%s", field);
        fail(e, strcmp(field, "definition") == 0 ? "definition" : f, "INVALID_RULE", why);
        st = ADB_ERR_INVALID;
        goto out;
    }
    adb__rule_clear(&rule);
    bool now_enabled = enabled < 0 ? prev_enabled : enabled != 0;
    adb__fmt(ver, sizeof(ver), "%d", version);
    adb__fmt(nver, sizeof(nver), "%d", version + 1);
    const char *q[] = { org, id, nver, now_enabled ? "true" : "false", def_text, who, reason };
    /* the old version loses its flag first: the unique index allows one current row */
    r = PQexecParams(c, "UPDATE detection_rules SET is_current = false"
                        " WHERE organization_id = $1 AND rule_id = $2 AND is_current",
                     2, NULL, q, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    PQclear(r);
    r = PQexecParams(c, "INSERT INTO detection_rules (organization_id, rule_id, version, is_current,"
                        " enabled, definition, created_by, reason)"
                        " VALUES ($1, $2, $3::int, true, $4::boolean, $5::jsonb, $6, $7)",
                     7, NULL, q, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    PQclear(r);
    r = NULL;
    json_t *new_def = json_loads(def_text, 0, NULL);
    prev = version ? snapshot(version, prev_enabled, prev_def) : NULL;
    next = new_def ? snapshot(version + 1, now_enabled, new_def) : NULL;
    json_decref(new_def);
    adb__fmt(fld, sizeof(fld), "detection_rule.%s", id);
    prev_text = prev ? json_dumps(prev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    next_text = next ? json_dumps(next, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    ch = (adb__config_change){ .org = org, .field = fld,
                               .previous_json = prev_text ? prev_text : "null",
                               .new_json = next_text ? next_text : "null", .changed_by = who,
                               .reason = reason, .previous_version = version ? ver : NULL,
                               .new_version = nver };
    if (!next_text || (version && !prev_text)) {
        st = ADB_ERR_NOMEM;
        goto out;
    }
    if ((st = adb__config_change_tx(c, &ch, err, sizeof(err))) != ADB_OK)
        goto out;
    written = true;
    const char *g[] = { org, id };
    r = PQexecParams(c, "SELECT " RULE_JSON " FROM detection_rules WHERE organization_id = $1"
                        " AND rule_id = $2 AND is_current", 2, NULL, g, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    *out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    st = *out ? ADB_OK : ADB_ERR_NOMEM;
out:
    PQclear(r);
    committed = st == ADB_OK;
    adb_tenant_end(h, c, committed);
    if (committed && written)
        adb__config_change_announce(h, &ch);
    free(prev_text);
    free(next_text);
    if (!committed) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(prev_def);
    json_decref(prev);
    json_decref(next);
    free(def_text);
    return st;
}

adb_status adb__detect_settings_get(adb *h, const char *org, json_t **out)
{
    const char *p[] = { org };
    adb_status st = read_rows(h, org, "SELECT jsonb_build_object('timezone', coalesce((SELECT"
                                      " timezone FROM detection_settings WHERE organization_id = $1),"
                                      " 'UTC'))::text", 1, p, out, true);
    return st;
}

adb_status adb__detect_settings_set(adb *h, const char *org, const char *timezone,
                                    const char *who, json_t **out, adb__rule_error *e)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c;
    PGresult *r;
    adb__config_change_rec rec;
    bool committed = false;
    json_t *prev = NULL, *next = NULL;

    memset(&rec, 0, sizeof(rec));
    *out = NULL;
    if (!timezone || !*timezone || strlen(timezone) > 63) {
        fail(e, "timezone", "INVALID_FORMAT", "timezone must be an IANA zone name such as "
             "Europe/Berlin");
        return ADB_ERR_INVALID;
    }
    if (!(c = adb_tenant_begin(h, org, &st, err, sizeof(err))))
        return st;
    const char *p[] = { org, timezone };
    r = PQexecParams(c, "SELECT (SELECT timezone FROM detection_settings WHERE organization_id = $1),"
                        " EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $2)",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = ADB_ERR_DB_QUERY;
        PQclear(r);
        goto out;
    }
    if (PQgetvalue(r, 0, 1)[0] != 't') {
        fail(e, "timezone", "INVALID_TIMEZONE", "PostgreSQL knows no time zone of this name");
        st = ADB_ERR_INVALID;
        PQclear(r);
        goto out;
    }
    prev = json_pack("{s:s}", "timezone", PQgetisnull(r, 0, 0) ? "UTC" : PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexecParams(c, "INSERT INTO detection_settings (organization_id, timezone) VALUES ($1, $2)"
                        " ON CONFLICT (organization_id) DO UPDATE SET timezone = EXCLUDED.timezone,"
                        " updated_at = now()", 2, NULL, p, NULL, NULL, 0);
    st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
    PQclear(r);
    if (st != ADB_OK)
        goto out;
    next = json_pack("{s:s}", "timezone", timezone);
    if ((st = adb__config_change_json_tx(c, &rec, org, "detection_settings.timezone", prev, next,
                                         who, NULL, err, sizeof(err))) != ADB_OK)
        goto out;
    *out = json_incref(next);
out:
    committed = st == ADB_OK;
    adb_tenant_end(h, c, committed);
    adb__config_change_rec_done(h, &rec, committed);
    json_decref(prev);
    json_decref(next);
    return st;
}
