/*
 * event_filter.c - event filters from a query string or a JSON object, and
 * their WHERE clause (event_filter.h).
 */
#include "event_filter.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 511

/* The list filters: the client's name and audit_log's column. */
static const struct { const char *name, *col; } lists[ADB_FILTER_LISTS] = {
    { "principalIds", "principal_id" }, { "actions", "action" }, { "statuses", "status" },
    { "dataClassifications", "data_classification" }, { "resourceTypes", "target_resource_type" },
    { "targetResourceIds", "target_resource_id" },
};

int adb_http_sql_param(adb_http_sql *q, const char *v)
{
    if (q->n >= ADB_SQL_PARAMS_MAX)
        return 0;
    char *copy = NULL;
    if (v && !(copy = strdup(v)))
        return 0;
    q->param[q->n] = copy;
    return ++q->n;
}

void adb_http_sql_free(adb_http_sql *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->param[i]);
    q->n = 0;
    adb__buf_free(&q->text);
}

void adb_http_filter_init(adb_http_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->has_session_context = -1;
}

void adb_http_filter_free(adb_http_filter *f)
{
    for (int i = 0; i < ADB_FILTER_LISTS; i++) {
        free(f->list[i]);
        json_decref(f->list_json[i]);
    }
    free(f->correlation_id);
    adb_http_filter_init(f);
}

static bool fail(adb_http_filter_error *e, const char *prefix, const char *field, const char *code,
                 const char *message)
{
    adb__fmt(e->field, sizeof(e->field), "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "",
             field);
    adb__fmt(e->code, sizeof(e->code), "%s", code);
    adb__fmt(e->message, sizeof(e->message), "%s: %s", e->field, message);
    adb__utf8_repair(e->field);
    return false;
}

/* Adds one value of list i (n bytes at s); false when it is too long or one too many. */
static bool list_add(adb_http_filter *f, int i, const char *s, size_t n, adb__buf *b, int *count)
{
    if (n > VALUE_MAX || ++*count > ADB_FILTER_VALUES_MAX || !adb__utf8_valid(s, n))
        return false;
    adb__buf_put(b, *count > 1 ? "," : "{", 1);
    adb__buf_array_elem(b, s, n);
    if (!f->list_json[i])
        f->list_json[i] = json_array();
    json_array_append_new(f->list_json[i], json_stringn(s, n));
    return true;
}

static bool list_close(adb_http_filter *f, int i, adb__buf *b, int count)
{
    if (count == 0) {
        adb__buf_free(b);
        return true;
    }
    adb__buf_put(b, "}", 1);
    f->list[i] = adb__buf_take(b, NULL);
    return f->list[i] != NULL;
}

static bool date_of(const char *s, int64_t *us)
{
    return s && adb__timestamp_parse(s, strlen(s), us);
}

/* organizationIds may only name the key's own organization. */
static bool own_org_only(const char *v, size_t n, const char *own)
{
    return n == strlen(own) && !strncmp(v, own, n);
}

bool adb_http_filter_from_query(adb_http_filter *f, const char *(*arg)(void *ud, const char *name),
                                void *ud, const char *own_org, adb_http_filter_error *e)
{
    const char *a;
    char msg[160];

    memset(e, 0, sizeof(*e));
    if ((a = arg(ud, "startDate")) && !(f->has_start = date_of(a, &f->start_us)))
        return fail(e, NULL, "startDate", "INVALID_FORMAT", "must be RFC 3339 with an offset");
    if ((a = arg(ud, "endDate")) && !(f->has_end = date_of(a, &f->end_us)))
        return fail(e, NULL, "endDate", "INVALID_FORMAT", "must be RFC 3339 with an offset");
    if (f->has_start && f->has_end && f->start_us > f->end_us)
        return fail(e, NULL, "endDate", "INVALID_VALUE", "must not be before startDate");
    if ((a = arg(ud, "organizationIds"))) {
        for (const char *p = a; *p;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            if (n && !own_org_only(p, n, own_org)) {
                e->forbidden = true;
                return fail(e, NULL, "organizationIds", "FORBIDDEN",
                            "may only name the key's own organization");
            }
            p = c ? c + 1 : p + n;
        }
    }
    for (int i = 0; i < ADB_FILTER_LISTS; i++) {
        adb__buf b = { 0 };
        int count = 0;
        if (!(a = arg(ud, lists[i].name)))
            continue;
        for (const char *p = a; *p;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            if (n && !list_add(f, i, p, n, &b, &count)) {
                adb__buf_free(&b);
                adb__fmt(msg, sizeof(msg), "takes at most %d comma-separated values of at most %d bytes",
                         ADB_FILTER_VALUES_MAX, VALUE_MAX);
                return fail(e, NULL, lists[i].name, "INVALID_VALUE", msg);
            }
            p = c ? c + 1 : p + n;
        }
        if (!list_close(f, i, &b, count))
            return fail(e, NULL, lists[i].name, "INTERNAL", "out of memory");
    }
    if ((a = arg(ud, "verifiedOnly")) && strcmp(a, "true") && strcmp(a, "false"))
        return fail(e, NULL, "verifiedOnly", "INVALID_VALUE", "must be true or false");
    if ((a = arg(ud, "correlationId")) && *a) {
        if (strlen(a) > VALUE_MAX)
            return fail(e, NULL, "correlationId", "INVALID_VALUE", "is longer than 511 bytes");
        if (!(f->correlation_id = strdup(a)))
            return fail(e, NULL, "correlationId", "INTERNAL", "out of memory");
    }
    return true;
}

/* A string array member of o into list i. */
static bool json_list(adb_http_filter *f, int i, const json_t *v, const char *prefix,
                      adb_http_filter_error *e)
{
    adb__buf b = { 0 };
    int count = 0;
    size_t k;
    json_t *item;
    char msg[160];

    if (!json_is_array(v))
        return fail(e, prefix, lists[i].name, "INVALID_TYPE", "must be an array of strings");
    json_array_foreach(v, k, item) {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            adb__buf_free(&b);
            return fail(e, prefix, lists[i].name, "INVALID_TYPE", "must be an array of non-empty strings");
        }
        if (!list_add(f, i, json_string_value(item), json_string_length(item), &b, &count)) {
            adb__buf_free(&b);
            adb__fmt(msg, sizeof(msg), "takes at most %d values of at most %d bytes",
                     ADB_FILTER_VALUES_MAX, VALUE_MAX);
            return fail(e, prefix, lists[i].name, "INVALID_VALUE", msg);
        }
    }
    if (!list_close(f, i, &b, count))
        return fail(e, prefix, lists[i].name, "INTERNAL", "out of memory");
    return true;
}

bool adb_http_filter_from_json(adb_http_filter *f, const json_t *o, const char *prefix,
                               const char *own_org, adb_http_filter_error *e)
{
    const char *key;
    json_t *v;
    char sub[80];

    memset(e, 0, sizeof(*e));
    if (!o || json_is_null(o))
        return true;
    if (!json_is_object(o))
        return fail(e, NULL, prefix, "INVALID_TYPE", "must be an object");
    json_object_foreach((json_t *)o, key, v) {
        int li = -1;
        for (int i = 0; i < ADB_FILTER_LISTS; i++)
            if (!strcmp(key, lists[i].name))
                li = i;
        if (li >= 0) {
            if (!json_list(f, li, v, prefix, e))
                return false;
        } else if (!strcmp(key, "dateRange")) {
            adb__fmt(sub, sizeof(sub), "%s.dateRange", prefix);
            if (!json_is_object(v))
                return fail(e, prefix, "dateRange", "INVALID_TYPE", "must be an object");
            const char *s = json_string_value(json_object_get(v, "startDate"));
            const char *t = json_string_value(json_object_get(v, "endDate"));
            if (!(f->has_start = date_of(s, &f->start_us)))
                return fail(e, sub, "startDate", "INVALID_FORMAT", "must be RFC 3339 with an offset");
            if (!(f->has_end = date_of(t, &f->end_us)))
                return fail(e, sub, "endDate", "INVALID_FORMAT", "must be RFC 3339 with an offset");
            if (f->start_us > f->end_us)
                return fail(e, sub, "endDate", "INVALID_VALUE", "must not be before startDate");
        } else if (!strcmp(key, "organizationIds")) {
            size_t k;
            json_t *item;
            if (!json_is_array(v))
                return fail(e, prefix, key, "INVALID_TYPE", "must be an array of strings");
            json_array_foreach(v, k, item) {
                if (!json_is_string(item) ||
                    !own_org_only(json_string_value(item), json_string_length(item), own_org)) {
                    e->forbidden = json_is_string(item);
                    return fail(e, prefix, key, e->forbidden ? "FORBIDDEN" : "INVALID_TYPE",
                                "may only name the key's own organization");
                }
            }
        } else if (!strcmp(key, "correlationId")) {
            if (!json_is_string(v) || json_string_length(v) > VALUE_MAX)
                return fail(e, prefix, key, "INVALID_TYPE", "must be a string of at most 511 bytes");
            free(f->correlation_id);
            if (!(f->correlation_id = strdup(json_string_value(v))))
                return fail(e, prefix, key, "INTERNAL", "out of memory");
        } else if (!strcmp(key, "verifiedOnly")) {
            /* every stored event has a hash: filters nothing, as the list (docs/api.md) */
            if (!json_is_boolean(v))
                return fail(e, prefix, key, "INVALID_TYPE", "must be a boolean");
        } else if (!strcmp(key, "hasSessionContext")) {
            if (!json_is_boolean(v))
                return fail(e, prefix, key, "INVALID_TYPE", "must be a boolean");
            f->has_session_context = json_is_true(v);
        } else if (!strcmp(key, "tags")) {
            /* auditdb keeps no tag index: refused rather than ignored, so that
             * an export never silently holds more than was asked for */
            if (!json_is_array(v) || json_array_size(v) > 0)
                return fail(e, prefix, key, "UNSUPPORTED_FILTER", "filtering by tags is not supported");
        } else {
            return fail(e, prefix, key, "UNKNOWN_FIELD", "is not a filter this server knows");
        }
    }
    return true;
}

json_t *adb_http_filter_to_json(const adb_http_filter *f)
{
    json_t *o = json_object();
    char ts[ADB_TS_TEXT_MAX];

    if (!o)
        return NULL;
    if (f->has_start || f->has_end) {
        json_t *dr = json_object();
        if (f->has_start) {
            adb__timestamp_format(f->start_us, ts);
            json_object_set_new(dr, "startDate", json_string(ts));
        }
        if (f->has_end) {
            adb__timestamp_format(f->end_us, ts);
            json_object_set_new(dr, "endDate", json_string(ts));
        }
        json_object_set_new(o, "dateRange", dr);
    }
    for (int i = 0; i < ADB_FILTER_LISTS; i++)
        if (f->list_json[i])
            json_object_set(o, lists[i].name, f->list_json[i]);
    if (f->correlation_id)
        json_object_set_new(o, "correlationId", json_string(f->correlation_id));
    if (f->has_session_context >= 0)
        json_object_set_new(o, "hasSessionContext", json_boolean(f->has_session_context));
    return o;
}

void adb_http_filter_where(const adb_http_filter *f, adb_http_sql *q)
{
    char ts[ADB_TS_TEXT_MAX];

    if (f->has_start) {
        adb__timestamp_format(f->start_us, ts);
        adb__buf_printf(&q->text, " AND \"timestamp\" >= $%d::timestamptz", adb_http_sql_param(q, ts));
    }
    if (f->has_end) {
        adb__timestamp_format(f->end_us, ts);
        adb__buf_printf(&q->text, " AND \"timestamp\" <= $%d::timestamptz", adb_http_sql_param(q, ts));
    }
    for (int i = 0; i < ADB_FILTER_LISTS; i++)
        if (f->list[i])
            adb__buf_printf(&q->text, " AND %s = ANY($%d::text[])", lists[i].col,
                            adb_http_sql_param(q, f->list[i]));
    if (f->correlation_id)
        adb__buf_printf(&q->text, " AND correlation_id = $%d", adb_http_sql_param(q, f->correlation_id));
    if (f->has_session_context >= 0)
        adb__buf_puts(&q->text, f->has_session_context
                                      ? " AND coalesce(details ? 'sessionContext', false)"
                                      : " AND NOT coalesce(details ? 'sessionContext', false)");
}
