/*
 * config.c - an organization's alert configuration (alert_config; docs/alerts.md
 * "Configuration"): the client's AlertsConfiguration plus `notification`,
 * its defaults, and the check of a document merged over the stored one.
 */
#include "alert.h"

#include "../core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WINDOWS_MAX 20
#define DEST_IDS_MAX 20

json_t *adb__alert_config_defaults(void)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:[], s:{s:s, s:i, s:i, s:i, s:b}}",
                     "failureRateThreshold", 50, "consecutiveFailureThreshold", 5,
                     "queueBacklogThreshold", 1000, "responseTimeThreshold", 5000,
                     "debounceWindow", 30, "escalationDelay", 60, "suppressionWindows",
                     "notification", "destinations", "default", "groupWaitSeconds",
                     ADB_ALERT_GROUP_WAIT_S, "groupIntervalSeconds", ADB_ALERT_GROUP_INTERVAL_S,
                     "repeatIntervalSeconds", ADB_ALERT_REPEAT_INTERVAL_S,
                     "sendResolved", 1); /* Alertmanager's webhook default */
}

static bool fail(char field[64], char *msg, size_t msglen, const char *f, const char *m)
{
    adb__fmt(field, 64, "%s", f);
    adb__fmt(msg, msglen, "%s", m);
    return false;
}

/* A number member within [min, max] (integer: no fraction). */
static bool number(json_t *o, const char *name, double min, double max, bool integer,
                   char field[64], char *msg, size_t msglen)
{
    json_t *v = json_object_get(o, name);
    char m[160];

    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (isfinite(d) && d >= min && d <= max && (!integer || d == floor(d)))
            return true;
    }
    adb__fmt(m, sizeof(m), "%s must be %s from %g to %g", name, integer ? "an integer" : "a number",
             min, max);
    return fail(field, msg, msglen, name, m);
}

static bool hhmm(const char *s)
{
    return s && strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' &&
           s[1] <= '9' && (s[0] < '2' || s[1] <= '3') && s[3] >= '0' && s[3] <= '5' &&
           s[4] >= '0' && s[4] <= '9';
}

bool adb__alert_config_check(json_t *cfg, char field[64], char *msg, size_t msglen)
{
    static const char *const known[] = { "failureRateThreshold", "consecutiveFailureThreshold",
                                         "queueBacklogThreshold", "responseTimeThreshold",
                                         "debounceWindow", "escalationDelay", "suppressionWindows",
                                         "notification", NULL };
    const char *k;
    json_t *v;

    json_object_foreach(cfg, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok) {
            char m[120];
            adb__fmt(m, sizeof(m), "unknown member \"%.64s\"", k);
            return fail(field, msg, msglen, k, m);
        }
    }
    if (!number(cfg, "failureRateThreshold", 0, 100, false, field, msg, msglen) ||
        !number(cfg, "consecutiveFailureThreshold", 1, 1000000, true, field, msg, msglen) ||
        !number(cfg, "queueBacklogThreshold", 0, 1e12, false, field, msg, msglen) ||
        !number(cfg, "responseTimeThreshold", 0, 1e9, false, field, msg, msglen) ||
        !number(cfg, "debounceWindow", 0, 10080, false, field, msg, msglen) ||
        !number(cfg, "escalationDelay", 0, 10080, false, field, msg, msglen))
        return false;
    json_t *w = json_object_get(cfg, "suppressionWindows");
    if (!json_is_array(w) || json_array_size(w) > WINDOWS_MAX)
        return fail(field, msg, msglen, "suppressionWindows",
                    "suppressionWindows must be an array of at most 20 windows");
    size_t i;
    json_array_foreach(w, i, v) {
        char f[64];
        const char *s;
        adb__fmt(f, sizeof(f), "suppressionWindows[%zu]", i);
        if (!json_is_object(v) || json_object_size(v) != 4)
            return fail(field, msg, msglen, f, "a window is {start, end, timezone, reason}");
        if (!hhmm(json_string_value(json_object_get(v, "start"))) ||
            !hhmm(json_string_value(json_object_get(v, "end"))))
            return fail(field, msg, msglen, f, "start and end are HH:MM (00:00 to 23:59)");
        s = json_string_value(json_object_get(v, "timezone"));
        if (!s || !*s || strlen(s) > 64)
            return fail(field, msg, msglen, f, "timezone is an IANA time zone name");
        s = json_string_value(json_object_get(v, "reason"));
        if (!s || !*s || strlen(s) > 500)
            return fail(field, msg, msglen, f, "reason is a string of 1 to 500 bytes");
    }
    json_t *n = json_object_get(cfg, "notification");
    if (!json_is_object(n))
        return fail(field, msg, msglen, "notification", "notification must be an object");
    json_object_foreach(n, k, v) {
        if (strcmp(k, "destinations") && strcmp(k, "groupWaitSeconds") &&
            strcmp(k, "groupIntervalSeconds") && strcmp(k, "repeatIntervalSeconds") &&
            strcmp(k, "sendResolved")) {
            char f[80];
            adb__fmt(f, sizeof(f), "notification.%.64s", k);
            return fail(field, msg, msglen, f, "unknown member");
        }
    }
    if (!number(n, "groupWaitSeconds", 0, 86400, true, field, msg, msglen) ||
        !number(n, "groupIntervalSeconds", 1, 86400, true, field, msg, msglen) ||
        !number(n, "repeatIntervalSeconds", 60, 604800, true, field, msg, msglen)) {
        char f[64];
        adb__fmt(f, sizeof(f), "notification.%s", field);
        adb__fmt(field, 64, "%s", f);
        return false;
    }
    if (!json_is_boolean(json_object_get(n, "sendResolved")))
        return fail(field, msg, msglen, "notification.sendResolved",
                    "sendResolved must be true or false");
    json_t *d = json_object_get(n, "destinations");
    const char *ds = json_string_value(d);
    if (ds && (!strcmp(ds, "default") || !strcmp(ds, "none")))
        return true;
    if (!json_is_array(d) || json_array_size(d) < 1 || json_array_size(d) > DEST_IDS_MAX)
        return fail(field, msg, msglen, "notification.destinations",
                    "destinations is \"default\", \"none\" or a list of 1 to 20 destination ids");
    json_array_foreach(d, i, v) {
        long long id = 0;
        bool ok = json_is_string(v) ? adb__parse_int(json_string_value(v), 1, 2147483647, &id)
                  : json_is_integer(v) && json_integer_value(v) >= 1 &&
                    json_integer_value(v) <= 2147483647;
        if (!ok)
            return fail(field, msg, msglen, "notification.destinations",
                        "destinations lists destination ids");
    }
    return true;
}

json_t *adb__alert_config_merge(const json_t *stored, const json_t *patch)
{
    json_t *out = adb__alert_config_defaults();
    const char *k;
    json_t *v;

    if (!out)
        return NULL;
    json_object_foreach((json_t *)stored, k, v) {
        if (!strcmp(k, "notification") && json_is_object(v))
            json_object_update(json_object_get(out, "notification"), v);
        else
            json_object_set(out, k, v);
    }
    json_object_foreach((json_t *)patch, k, v) {
        if (!strcmp(k, "notification") && json_is_object(v) && json_is_object(json_object_get(out, k)))
            json_object_update(json_object_get(out, "notification"), v);
        else
            json_object_set(out, k, v);
    }
    return out;
}
