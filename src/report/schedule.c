/*
 * schedule.c - the checks of a schedule in the client's ScheduleConfig shape
 * (docs/reports.md, "Schedules"). The next run itself is computed by
 * PostgreSQL (adb_report_next_run, migrations/0031), with its time zone
 * rules; this file refuses what that function must never see.
 */
#include "schedule.h"
#include "../core/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX 64
#define CRON_MAX 128

void adb__sched_fail(adb__sched_error *e, const char *field, const char *code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return;
    adb__fmt(e->field, sizeof(e->field), "%s", field);
    adb__fmt(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool adb__iso_datetime_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 10 || n > 40 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return false;
    int mo = (s[5] - '0') * 10 + s[6] - '0', d = (s[8] - '0') * 10 + s[9] - '0';
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (n == 10)
        return true;
    s += 10;
    if ((*s != 'T' && *s != 't') || !digits(s + 1, 2) || s[3] != ':' || !digits(s + 4, 2))
        return false;
    if ((s[1] - '0') * 10 + s[2] - '0' > 23 || (s[4] - '0') * 10 + s[5] - '0' > 59)
        return false;
    s += 6;
    if (*s == ':') {
        if (!digits(s + 1, 2) || (s[1] - '0') * 10 + s[2] - '0' > 60)
            return false;
        s += 3;
        if (*s == '.') {
            s++;
            int k = 0;
            while (isdigit((unsigned char)*s) && k < 9)
                s++, k++;
            if (!k)
                return false;
        }
    }
    if (*s == 'Z' || *s == 'z')
        return s[1] == '\0';
    if ((*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2))
        return s[6] == '\0';
    return false;
}

/* one cron field: lists of '*', N, A-B, with an optional /S */
static bool cron_field(const char *f, size_t len, int lo, int hi, char *err, size_t errlen,
                       const char *name)
{
    char buf[CRON_MAX];
    char *save = NULL, *part;

    if (len == 0 || len >= sizeof(buf)) {
        adb__fmt(err, errlen, "the %s field is empty or too long", name);
        return false;
    }
    memcpy(buf, f, len);
    buf[len] = '\0';
    if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,")) {
        adb__fmt(err, errlen, "the %s field has an empty list item", name);
        return false;
    }
    for (part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(part, '/');
        long long a, b, step = 1;
        if (slash) {
            *slash = '\0';
            if (!adb__parse_int(slash + 1, 1, hi, &step)) {
                adb__fmt(err, errlen, "the %s field's step must be an integer from 1 to %d", name, hi);
                return false;
            }
        }
        (void)step;
        if (!strcmp(part, "*"))
            continue;
        char *dash = strchr(part, '-');
        if (dash) {
            *dash = '\0';
            if (!adb__parse_int(part, lo, hi + (hi == 6), &a) ||
                !adb__parse_int(dash + 1, lo, hi + (hi == 6), &b) || a > b) {
                adb__fmt(err, errlen, "the %s field's range must be within %d-%d, low to high", name,
                         lo, hi);
                return false;
            }
        } else if (!adb__parse_int(part, lo, hi + (hi == 6), &a)) {
            adb__fmt(err, errlen, "the %s field's values must be integers from %d to %d", name, lo, hi);
            return false;
        }
    }
    return true;
}

bool adb__cron_valid(const char *expr, char *err, size_t errlen)
{
    static const struct { const char *name; int lo, hi; } fields[] = {
        { "minute", 0, 59 }, { "hour", 0, 23 }, { "day-of-month", 1, 31 },
        { "month", 1, 12 }, { "day-of-week", 0, 6 },
    };
    const char *p = expr;
    int n = 0;

    if (!expr || strlen(expr) > CRON_MAX) {
        adb__fmt(err, errlen, "a cron expression has at most %d characters", CRON_MAX);
        return false;
    }
    for (const char *c = expr; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr("*/,- ", *c)) {
            adb__fmt(err, errlen, "a cron expression has digits, '*', '/', ',', '-' and spaces only");
            return false;
        }
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (n >= 5) {
            n++;
            break;
        }
        if (!cron_field(start, (size_t)(p - start), fields[n].lo, fields[n].hi, err, errlen,
                        fields[n].name))
            return false;
        n++;
    }
    if (n != 5) {
        adb__fmt(err, errlen, "a cron expression has 5 fields (minute hour day-of-month month "
                              "day-of-week)");
        return false;
    }
    return true;
}

static bool int_member(const json_t *s, const char *k, long long lo, long long hi, long long def,
                       json_t *out, adb__sched_error *e)
{
    json_t *v = json_object_get(s, k);
    char field[64];

    adb__fmt(field, sizeof(field), "schedule.%s", k);
    if (!v || json_is_null(v)) {
        if (def >= lo)
            json_object_set_new(out, k, json_integer(def));
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        adb__sched_fail(e, field, "INVALID_VALUE", "%s must be an integer from %lld to %lld", k, lo, hi);
        return false;
    }
    json_object_set(out, k, v);
    return true;
}

static bool bool_member(const json_t *s, const char *k, json_t *out, adb__sched_error *e)
{
    json_t *v = json_object_get(s, k);
    char field[64];

    adb__fmt(field, sizeof(field), "schedule.%s", k);
    if (!v || json_is_null(v)) {
        json_object_set_new(out, k, json_false());
        return true;
    }
    if (!json_is_boolean(v)) {
        adb__sched_fail(e, field, "INVALID_TYPE", "%s must be true or false", k);
        return false;
    }
    json_object_set(out, k, v);
    return true;
}

json_t *adb__schedule_check(const json_t *s, adb__sched_error *e)
{
    static const char *const freqs[] = { "once", "hourly", "daily", "weekly", "monthly",
                                         "quarterly", "yearly", "custom", NULL };
    static const char *const days[] = { "sunday", "monday", "tuesday", "wednesday", "thursday",
                                        "friday", "saturday", NULL };
    static const char *const known[] = { "frequency", "cronExpression", "startDate", "endDate",
                                         "timezone", "hour", "minute", "dayOfWeek", "dayOfMonth",
                                         "monthOfYear", "skipWeekends", "skipHolidays",
                                         "holidayCalendar", "maxMissedRuns", "catchUpMissedRuns",
                                         NULL };
    const char *key, *freq, *v;
    json_t *val, *out;
    char why[160];

    if (!json_is_object(s)) {
        adb__sched_fail(e, "schedule", "INVALID_TYPE", "schedule must be an object");
        return NULL;
    }
    json_object_foreach((json_t *)s, key, val) {
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok) {
            char field[96];
            adb__fmt(field, sizeof(field), "schedule.%.60s", key);
            adb__sched_fail(e, field, "UNKNOWN_FIELD", "schedule has no member %.60s", key);
            return NULL;
        }
    }
    freq = json_string_value(json_object_get(s, "frequency"));
    bool fok = false;
    for (int i = 0; freq && freqs[i]; i++)
        fok = fok || !strcmp(freq, freqs[i]);
    if (!fok) {
        adb__sched_fail(e, "schedule.frequency", freq ? "INVALID_VALUE" : "REQUIRED",
                        "frequency must be once, hourly, daily, weekly, monthly, quarterly, yearly "
                        "or custom");
        return NULL;
    }
    out = json_object();
    json_object_set_new(out, "frequency", json_string(freq));
    val = json_object_get(s, "timezone");
    if (val && !json_is_null(val)) {
        v = json_string_value(val);
        if (!v || !*v || strlen(v) > TZ_MAX) {
            adb__sched_fail(e, "schedule.timezone", "INVALID_VALUE",
                            "timezone must be an IANA time zone name (e.g. Europe/Berlin)");
            goto fail;
        }
        json_object_set(out, "timezone", val);
    } else {
        json_object_set_new(out, "timezone", json_string("UTC"));
    }
    if (!int_member(s, "hour", 0, 23, 0, out, e) || !int_member(s, "minute", 0, 59, 0, out, e) ||
        !int_member(s, "dayOfMonth", 1, 31, -1, out, e) ||
        !int_member(s, "monthOfYear", 1, 12, -1, out, e) ||
        !int_member(s, "maxMissedRuns", 0, 100, 3, out, e) ||
        !bool_member(s, "skipWeekends", out, e) || !bool_member(s, "skipHolidays", out, e) ||
        !bool_member(s, "catchUpMissedRuns", out, e))
        goto fail;
    if (json_is_true(json_object_get(out, "skipHolidays"))) {
        adb__sched_fail(e, "schedule.skipHolidays", "UNSUPPORTED",
                        "holiday calendars are not supported: skipHolidays must be false");
        goto fail;
    }
    val = json_object_get(s, "dayOfWeek");
    if (val && !json_is_null(val)) {
        bool dok = false;
        v = json_string_value(val);
        for (int i = 0; v && days[i]; i++)
            dok = dok || !strcmp(v, days[i]);
        if (!dok) {
            adb__sched_fail(e, "schedule.dayOfWeek", "INVALID_VALUE",
                            "dayOfWeek must be sunday, monday, ... or saturday");
            goto fail;
        }
        json_object_set(out, "dayOfWeek", val);
    } else if (!strcmp(freq, "weekly")) {
        adb__sched_fail(e, "schedule.dayOfWeek", "REQUIRED", "a weekly schedule needs dayOfWeek");
        goto fail;
    }
    if (!strcmp(freq, "monthly") && !json_object_get(out, "dayOfMonth")) {
        adb__sched_fail(e, "schedule.dayOfMonth", "REQUIRED", "a monthly schedule needs dayOfMonth");
        goto fail;
    }
    val = json_object_get(s, "cronExpression");
    if (val && !json_is_null(val)) {
        if (!json_is_string(val) || !adb__cron_valid(json_string_value(val), why, sizeof(why))) {
            adb__sched_fail(e, "schedule.cronExpression", "INVALID_VALUE", "%s",
                            json_is_string(val) ? why : "cronExpression must be a string");
            goto fail;
        }
        json_object_set(out, "cronExpression", val);
    } else if (!strcmp(freq, "custom")) {
        adb__sched_fail(e, "schedule.cronExpression", "REQUIRED",
                        "a custom schedule needs cronExpression");
        goto fail;
    }
    const char *dates[] = { "startDate", "endDate" };
    for (int i = 0; i < 2; i++) {
        val = json_object_get(s, dates[i]);
        if (!val || json_is_null(val))
            continue;
        if (!adb__iso_datetime_valid(json_string_value(val))) {
            char field[64];
            adb__fmt(field, sizeof(field), "schedule.%s", dates[i]);
            adb__sched_fail(e, field, "INVALID_VALUE", "%s must be an ISO 8601 date-time with a zone",
                            dates[i]);
            goto fail;
        }
        json_object_set(out, dates[i], val);
    }
    val = json_object_get(s, "holidayCalendar");
    if (val && !json_is_null(val)) {
        if (!json_is_string(val) || json_string_length(val) > 100) {
            adb__sched_fail(e, "schedule.holidayCalendar", "INVALID_VALUE",
                            "holidayCalendar must be a string of at most 100 characters");
            goto fail;
        }
        json_object_set(out, "holidayCalendar", val);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}
