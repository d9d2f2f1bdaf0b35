/*
 * body_members.c - optional members of a JSON request body, checked with
 * the 400 that names the member (http.h).
 */
#include <string.h>

#include "http.h"
#include "../core/util.h"

/* s is one of the comma-separated values of list. */
static bool one_of(const char *list, const char *s)
{
    size_t n = strlen(s);
    for (const char *a = list; *a;) {
        size_t k = strcspn(a, ",");
        if (k == n && !strncmp(a, s, n))
            return true;
        a += k + (a[k] ? 1 : 0);
    }
    return false;
}

bool adb_http_member_str(adb_http_request *req, json_t *body, const char *name,
                         const char *allowed, size_t max, const char **out,
                         enum MHD_Result *res)
{
    json_t *v = json_object_get(body, name);
    char msg[200];
    if (!v)
        return true;
    const char *s = json_string_value(v);
    bool ok = s && (allowed ? one_of(allowed, s) : strlen(s) <= max);
    if (!ok) {
        if (allowed)
            adb__fmt(msg, sizeof(msg), "%s must be one of: %s", name, allowed);
        else
            adb__fmt(msg, sizeof(msg), "%s must be a string of at most %zu bytes", name, max);
        *res = adb_http_send_invalid(req, name, s ? "INVALID_VALUE" : "INVALID_TYPE", msg);
        return false;
    }
    *out = s;
    return true;
}

bool adb_http_member_bool(adb_http_request *req, json_t *body, const char *name, bool def,
                          bool *out, enum MHD_Result *res)
{
    json_t *v = json_object_get(body, name);
    char msg[96];
    *out = def;
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        adb__fmt(msg, sizeof(msg), "%s must be a boolean", name);
        *res = adb_http_send_invalid(req, name, "INVALID_TYPE", msg);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

json_t *adb_http_body_object(adb_http_request *req, const char *const *known, const char *usage,
                             enum MHD_Result *res)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    const char *key;
    json_t *v;

    if (!json_is_object(body)) {
        json_decref(body);
        *res = adb_http_send_invalid(req, "", "INVALID_JSON",
                                     usage ? usage : "the body must be a JSON object");
        return NULL;
    }
    json_object_foreach(body, key, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok) {
            char field[80], msg[120];
            adb__fmt(field, sizeof(field), "%.64s", key);
            adb__utf8_repair(field); /* a name cut inside a character */
            adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
            *res = adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}
