/*
 * rule.c - a detection rule's definition parsed and checked once (rule.h;
 * docs/alerts.md "Detection rules"), and a record matched against it.
 * Matching is case-insensitive (Sigma's default for strings).
 */
#include "rule.h"
#include "../core/util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const FIELD_NAMES[ADB_DF_COUNT] = {
    "action", "status", "principal", "resource", "resourceId",
    "classification", "outcome", "type", "ip", "key",
};
static const char *const SOURCE_NAMES[ADB_DS_COUNT] = { "events", "security_events", "integrity" };

const char *adb__dfield_name(adb__dfield f)
{
    return (unsigned)f < ADB_DF_COUNT ? FIELD_NAMES[f] : NULL;
}

const char *adb__dsource_name(adb__dsource s)
{
    return (unsigned)s < ADB_DS_COUNT ? SOURCE_NAMES[s] : NULL;
}

static bool field_by_name(const char *s, size_t n, adb__dfield *out)
{
    for (int i = 0; i < ADB_DF_COUNT; i++)
        if (strlen(FIELD_NAMES[i]) == n && strncmp(FIELD_NAMES[i], s, n) == 0) {
            *out = (adb__dfield)i;
            return true;
        }
    return false;
}

#define FAIL(fld, ...)                                                                           \
    do {                                                                                         \
        adb__fmt(field, fieldlen, "%s", fld);                                                    \
        adb__fmt(err, errlen, __VA_ARGS__);                                                      \
        goto fail;                                                                               \
    } while (0)

/* "30s", "5m", "1h", "1d" -> ms; -1 when malformed */
static int64_t parse_span(const char *s)
{
    char *end;
    long long n;

    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    n = strtoll(s, &end, 10);
    if (n <= 0 || n > 100000 || end[0] == '\0' || end[1] != '\0')
        return -1;
    switch (end[0]) {
    case 's': return n * 1000;
    case 'm': return n * 60000;
    case 'h': return n * 3600000;
    case 'd': return n * 86400000;
    default: return -1;
    }
}

/* "HH:MM" -> minutes; -1 when malformed */
static int parse_hhmm(const char *s)
{
    if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static bool is_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bool adb__rule_parse(const char *json, adb__rule *r, char *field, size_t fieldlen, char *err,
                     size_t errlen)
{
    static const char *const SEVERITIES[] = { "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };
    static const char *const TYPES[] = { "SECURITY", "COMPLIANCE", "PERFORMANCE", "SYSTEM",
                                         "METRICS", "DELIVERY", "CUSTOM", NULL };
    static const char *const KNOWN[] = { "title", "description", "severity", "alertType", "source",
                                         "selections", "correlation", "timeOfDay", NULL };
    json_error_t je;
    json_t *root = NULL, *v, *corr, *sels;
    const char *key;
    char path[160];

    memset(r, 0, sizeof(*r));
    field[0] = err[0] = '\0';
    if (!json || !(root = json_loads(json, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(root))
        FAIL("definition", "the definition must be a JSON object");
    json_object_foreach(root, key, v)
        if (!one_of(key, KNOWN))
            FAIL(key, "unknown member");

    v = json_object_get(root, "title");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
        FAIL("title", "title must be a string of 1 to 200 characters");
    adb__fmt(r->title, sizeof(r->title), "%s", json_string_value(v));
    if ((v = json_object_get(root, "description")) && !json_is_null(v) &&
        (!json_is_string(v) || json_string_length(v) > 2000))
        FAIL("description", "description must be a string of at most 2000 characters");
    v = json_object_get(root, "severity");
    if (!json_is_string(v) || !one_of(json_string_value(v), SEVERITIES))
        FAIL("severity", "severity must be one of INFO, LOW, MEDIUM, HIGH, CRITICAL");
    adb__fmt(r->severity, sizeof(r->severity), "%s", json_string_value(v));
    v = json_object_get(root, "alertType");
    if (!v)
        adb__fmt(r->alert_type, sizeof(r->alert_type), "SECURITY");
    else if (!json_is_string(v) || !one_of(json_string_value(v), TYPES))
        FAIL("alertType", "alertType must be one of SECURITY, COMPLIANCE, PERFORMANCE, SYSTEM, "
             "METRICS, DELIVERY, CUSTOM");
    else
        adb__fmt(r->alert_type, sizeof(r->alert_type), "%s", json_string_value(v));
    v = json_object_get(root, "source");
    r->source = ADB_DS_EVENTS;
    if (v) {
        int s;
        for (s = 0; s < ADB_DS_COUNT; s++)
            if (json_is_string(v) && strcmp(json_string_value(v), SOURCE_NAMES[s]) == 0)
                break;
        if (s == ADB_DS_COUNT)
            FAIL("source", "source must be events, security_events or integrity");
        r->source = (adb__dsource)s;
    }

    /* selections: {"name": {"field|modifier": value or [values]}} */
    sels = json_object_get(root, "selections");
    if (!json_is_object(sels) || json_object_size(sels) == 0 ||
        json_object_size(sels) > ADB_RULE_MAX_SELECTIONS)
        FAIL("selections", "selections must be an object of 1 to %d named selections",
             ADB_RULE_MAX_SELECTIONS);
    json_object_foreach(sels, key, v) {
        adb__dselection *s = &r->sel[r->nsel++];
        const char *mk;
        json_t *mv;

        adb__fmt(path, sizeof(path), "selections.%.60s", key);
        if (!is_name(key, sizeof(s->name) - 1))
            FAIL(path, "a selection's name must be 1 to 47 letters, digits, '_', '-' or '.'");
        adb__fmt(s->name, sizeof(s->name), "%s", key);
        if (!json_is_object(v) || json_object_size(v) == 0 ||
            json_object_size(v) > ADB_RULE_MAX_MATCHERS)
            FAIL(path, "a selection must be an object of 1 to %d field matchers",
                 ADB_RULE_MAX_MATCHERS);
        json_object_foreach(v, mk, mv) {
            adb__dmatcher *m = &s->m[s->nm++];
            const char *bar = strchr(mk, '|');
            size_t flen = bar ? (size_t)(bar - mk) : strlen(mk);

            adb__fmt(path, sizeof(path), "selections.%.40s.%.60s", key, mk);
            if (!field_by_name(mk, flen, &m->field))
                FAIL(path, "unknown field (action, status, principal, resource, resourceId, "
                     "classification, outcome, type, ip, key)");
            if (!bar)
                m->mod = ADB_DM_EQ;
            else if (strcmp(bar + 1, "contains") == 0)
                m->mod = ADB_DM_CONTAINS;
            else if (strcmp(bar + 1, "startswith") == 0)
                m->mod = ADB_DM_STARTSWITH;
            else if (strcmp(bar + 1, "endswith") == 0)
                m->mod = ADB_DM_ENDSWITH;
            else if (strcmp(bar + 1, "exists") == 0)
                m->mod = ADB_DM_EXISTS;
            else
                FAIL(path, "unknown modifier (contains, startswith, endswith, exists)");
            if (m->mod == ADB_DM_EXISTS) {
                if (!json_is_boolean(mv))
                    FAIL(path, "|exists takes true or false");
                m->exists = json_is_true(mv);
                continue;
            }
            json_t *one = mv;
            size_t n = json_is_array(mv) ? json_array_size(mv) : 1;
            if (n == 0 || n > ADB_RULE_MAX_VALUES)
                FAIL(path, "a matcher takes a string or 1 to %d strings", ADB_RULE_MAX_VALUES);
            for (size_t i = 0; i < n; i++) {
                if (json_is_array(mv))
                    one = json_array_get(mv, i);
                if (!json_is_string(one) || json_string_length(one) == 0 ||
                    json_string_length(one) > ADB_RULE_VALUE_MAX ||
                    strlen(json_string_value(one)) != json_string_length(one))
                    FAIL(path, "a matcher's values must be strings of 1 to %d characters",
                         ADB_RULE_VALUE_MAX);
                if (!(m->values[m->nvalues] = lower_dup(json_string_value(one))))
                    FAIL(path, "out of memory");
                m->nvalues++;
            }
        }
    }

    corr = json_object_get(root, "correlation");
    if (!json_is_object(corr))
        FAIL("correlation", "correlation must be an object");
    json_object_foreach(corr, key, v) {
        static const char *const CK[] = { "type", "rules", "group-by", "timespan", "condition",
                                          "field", NULL };
        adb__fmt(path, sizeof(path), "correlation.%.60s", key);
        if (!one_of(key, CK))
            FAIL(path, "unknown member");
    }
    v = json_object_get(corr, "type");
    if (!json_is_string(v))
        FAIL("correlation.type", "type must be event_count, value_count, temporal or "
             "temporal_ordered");
    if (strcmp(json_string_value(v), "event_count") == 0)
        r->type = ADB_DC_EVENT_COUNT;
    else if (strcmp(json_string_value(v), "value_count") == 0)
        r->type = ADB_DC_VALUE_COUNT;
    else if (strcmp(json_string_value(v), "temporal") == 0)
        r->type = ADB_DC_TEMPORAL;
    else if (strcmp(json_string_value(v), "temporal_ordered") == 0)
        r->type = ADB_DC_TEMPORAL_ORDERED;
    else
        FAIL("correlation.type", "type must be event_count, value_count, temporal or "
             "temporal_ordered");

    v = json_object_get(corr, "rules");
    if (!v) { /* all selections */
        for (size_t i = 0; i < r->nsel; i++)
            r->corr_sel[r->ncorr++] = (int)i;
    } else {
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > ADB_RULE_MAX_SELECTIONS)
            FAIL("correlation.rules", "rules must name 1 to %d selections",
                 ADB_RULE_MAX_SELECTIONS);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            size_t k;
            adb__fmt(path, sizeof(path), "correlation.rules[%zu]", i);
            if (!json_is_string(e))
                FAIL(path, "must name a selection");
            for (k = 0; k < r->nsel; k++)
                if (strcmp(r->sel[k].name, json_string_value(e)) == 0)
                    break;
            if (k == r->nsel)
                FAIL(path, "names no selection of this rule");
            for (size_t j = 0; j < r->ncorr; j++)
                if (r->corr_sel[j] == (int)k)
                    FAIL(path, "names a selection twice");
            r->corr_sel[r->ncorr++] = (int)k;
        }
    }
    if (r->type == ADB_DC_TEMPORAL && r->ncorr < 2)
        FAIL("correlation.rules", "temporal needs at least 2 selections");
    if (r->type == ADB_DC_TEMPORAL_ORDERED && r->ncorr < 2)
        FAIL("correlation.rules", "temporal_ordered needs at least 2 selections");

    v = json_object_get(corr, "group-by");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) > ADB_RULE_MAX_GROUP)
            FAIL("correlation.group-by", "group-by must be an array of at most %d fields",
                 ADB_RULE_MAX_GROUP);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            adb__fmt(path, sizeof(path), "correlation.group-by[%zu]", i);
            if (!json_is_string(e) ||
                !field_by_name(json_string_value(e), json_string_length(e), &r->group[r->ngroup]))
                FAIL(path, "unknown field");
            r->ngroup++;
        }
    }
    v = json_object_get(corr, "field");
    if (r->type == ADB_DC_VALUE_COUNT) {
        if (!json_is_string(v) ||
            !field_by_name(json_string_value(v), json_string_length(v), &r->value_field))
            FAIL("correlation.field", "value_count needs the field whose distinct values it counts");
    } else if (v) {
        FAIL("correlation.field", "only value_count takes a field");
    }
    v = json_object_get(corr, "timespan");
    r->timespan_ms = parse_span(json_string_value(v));
    if (r->timespan_ms <= 0 || r->timespan_ms > ADB_RULE_TIMESPAN_MAX_MS)
        FAIL("correlation.timespan", "timespan must be like 30s, 5m, 1h or 1d, at most 1d");
    if (86400000LL % r->timespan_ms != 0)
        FAIL("correlation.timespan", "timespan must divide a day (windows are aligned to UTC "
             "midnight)");

    v = json_object_get(corr, "condition");
    if (!v) {
        if (r->type != ADB_DC_TEMPORAL && r->type != ADB_DC_TEMPORAL_ORDERED)
            FAIL("correlation.condition", "condition is required");
    } else {
        json_t *cv;
        if (!json_is_object(v) || json_object_size(v) == 0)
            FAIL("correlation.condition", "condition must be an object of gt, gte, lt, lte, eq");
        json_object_foreach(v, key, cv) {
            adb__fmt(path, sizeof(path), "correlation.condition.%.20s", key);
            if (!json_is_integer(cv) || json_integer_value(cv) < 0 ||
                json_integer_value(cv) > 1000000000)
                FAIL(path, "must be a whole number from 0 to 1000000000");
            int64_t n = json_integer_value(cv);
            if (strcmp(key, "gt") == 0 || strcmp(key, "gte") == 0) {
                if (r->has_lo)
                    FAIL(path, "a second lower bound");
                r->has_lo = true;
                r->lo = key[2] == 'e' ? n : n + 1;
            } else if (strcmp(key, "lt") == 0 || strcmp(key, "lte") == 0) {
                if (r->has_hi)
                    FAIL(path, "a second upper bound");
                if (key[2] != 'e' && n == 0)
                    FAIL(path, "lt 0 never holds");
                r->has_hi = true;
                r->hi = key[2] == 'e' ? n : n - 1;
            } else if (strcmp(key, "eq") == 0) {
                if (r->has_lo || r->has_hi)
                    FAIL(path, "eq with another bound");
                r->has_lo = r->has_hi = true;
                r->lo = r->hi = n;
            } else {
                FAIL(path, "unknown operator (gt, gte, lt, lte, eq)");
            }
        }
        if (r->has_lo && r->has_hi && r->lo > r->hi)
            FAIL("correlation.condition", "the range is empty");
        if (r->has_lo && r->lo == 0 && !r->has_hi)
            FAIL("correlation.condition", "a condition that holds with no event never fires");
        if (r->type == ADB_DC_TEMPORAL || r->type == ADB_DC_TEMPORAL_ORDERED)
            FAIL("correlation.condition", "temporal rules hold when every selection was seen: "
                 "no condition");
    }
    if (r->type == ADB_DC_TEMPORAL || r->type == ADB_DC_TEMPORAL_ORDERED) {
        r->has_lo = true; /* the count of selections seen, in order for _ordered */
        r->lo = (int64_t)r->ncorr;
    }

    v = json_object_get(root, "timeOfDay");
    if (v && !json_is_null(v)) {
        json_t *a = json_object_get(v, "start"), *b = json_object_get(v, "end");
        if (!json_is_object(v) || json_object_size(v) != 2)
            FAIL("timeOfDay", "timeOfDay must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\"}");
        if ((r->tod_start = parse_hhmm(json_string_value(a))) < 0)
            FAIL("timeOfDay.start", "start must be HH:MM");
        if ((r->tod_end = parse_hhmm(json_string_value(b))) < 0)
            FAIL("timeOfDay.end", "end must be HH:MM");
        if (r->tod_start == r->tod_end)
            FAIL("timeOfDay", "start and end must differ");
        r->has_tod = true;
    }
    json_decref(root);
    return true;
fail:
    json_decref(root);
    adb__rule_clear(r);
    return false;
}

void adb__rule_clear(adb__rule *r)
{
    for (size_t i = 0; i < ADB_RULE_MAX_SELECTIONS; i++)
        for (size_t j = 0; j < ADB_RULE_MAX_MATCHERS; j++)
            for (size_t k = 0; k < ADB_RULE_MAX_VALUES; k++) {
                free(r->sel[i].m[j].values[k]);
                r->sel[i].m[j].values[k] = NULL;
            }
}

/* case-insensitive: pat is lower case already */
static bool ci_eq(const char *s, const char *pat)
{
    for (; *s && *pat; s++, pat++)
        if (tolower((unsigned char)*s) != *pat)
            return false;
    return !*s && !*pat;
}

static bool ci_prefix(const char *s, const char *pat)
{
    for (; *pat; s++, pat++)
        if (!*s || tolower((unsigned char)*s) != *pat)
            return false;
    return true;
}

static bool ci_contains(const char *s, const char *pat)
{
    for (; *s; s++)
        if (ci_prefix(s, pat))
            return true;
    return !*pat;
}

static bool ci_suffix(const char *s, const char *pat)
{
    size_t n = strlen(s), m = strlen(pat);
    return n >= m && ci_eq(s + n - m, pat);
}

static bool matcher_ok(const adb__dmatcher *m, const char *v)
{
    if (m->mod == ADB_DM_EXISTS)
        return (v && *v) == m->exists;
    if (!v)
        return false;
    for (size_t i = 0; i < m->nvalues; i++) {
        const char *p = m->values[i];
        bool ok = m->mod == ADB_DM_EQ          ? ci_eq(v, p)
                  : m->mod == ADB_DM_CONTAINS   ? ci_contains(v, p)
                  : m->mod == ADB_DM_STARTSWITH ? ci_prefix(v, p)
                                                : ci_suffix(v, p);
        if (ok)
            return true;
    }
    return false;
}

unsigned adb__rule_match(const adb__rule *r, const adb__drecord *rec)
{
    unsigned mask = 0;

    if (r->has_tod) {
        int m = rec->minute_of_day;
        bool in = r->tod_start < r->tod_end ? m >= r->tod_start && m < r->tod_end
                                            : m >= r->tod_start || m < r->tod_end;
        if (!in)
            return 0;
    }
    for (size_t i = 0; i < r->nsel; i++) {
        const adb__dselection *s = &r->sel[i];
        size_t j;
        for (j = 0; j < s->nm; j++)
            if (!matcher_ok(&s->m[j], rec->f[s->m[j].field]))
                break;
        if (j == s->nm)
            mask |= 1u << i;
    }
    return mask;
}
