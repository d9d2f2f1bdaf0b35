/*
 * event.c - from a parsed JSON object to a validated, normalized event.
 *
 * Presets fill in defaults first, then every rule of the original applies
 * (required fields, types, enums, lengths, details depth) and each failure
 * is recorded with its field. Normalization makes the event equal to what
 * PostgreSQL will hand back: timestamps in UTC truncated to microseconds,
 * details as canonical JSON (numbers as numeric prints them), top-level
 * fields we do not know moved into details.
 */
#include "event.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const adb_event_field_info adb__event_fields[ADB_F__COUNT] = {
    [ADB_F_ACTION] = { "action", "action", 255 },
    [ADB_F_STATUS] = { "status", "status", 50 },
    [ADB_F_PRINCIPAL_ID] = { "principalId", "principal_id", 255 },
    [ADB_F_ORGANIZATION_ID] = { "organizationId", "organization_id", 255 },
    [ADB_F_TARGET_RESOURCE_TYPE] = { "targetResourceType", "target_resource_type", 255 },
    [ADB_F_TARGET_RESOURCE_ID] = { "targetResourceId", "target_resource_id", 255 },
    [ADB_F_OUTCOME_DESCRIPTION] = { "outcomeDescription", "outcome_description", 10000 },
    [ADB_F_CORRELATION_ID] = { "correlationId", "correlation_id", 255 },
    [ADB_F_DATA_CLASSIFICATION] = { "dataClassification", "data_classification", 20 },
    [ADB_F_RETENTION_POLICY] = { "retentionPolicy", "retention_policy", 50 },
    [ADB_F_EVENT_VERSION] = { "eventVersion", "event_version", 20 },
    [ADB_F_HASH_ALGORITHM] = { "hashAlgorithm", "hash_algorithm", 50 },
    [ADB_F_TTL] = { "ttl", "ttl", 255 },
};

/* Fields only the server sets: refused in input. */
static const char *const server_fields[] = { "id", "signature", "chainSeq", "prevChainHash",
                                              "chainHash", "archivedAt", "processingLatency",
                                              "commitKey", NULL };

static const char *const statuses[] = { "attempt", "success", "failure", NULL };
static const char *const classifications[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI", NULL };
static const char *const versions[] = { "1.0", "1.1", "2.0", NULL };

void adb__validation_default(adb__validation *v)
{
    memset(v, 0, sizeof(*v));
    v->now_us = 0; /* 0: read the clock */
    v->max_future_us = INT64_C(300) * 1000000;          /* 5 minutes of clock skew */
    v->max_past_us = INT64_C(3660) * 86400 * 1000000;   /* about ten years: imports */
    v->max_details_bytes = 64 * 1024;
    v->max_details_depth = 3;
}

void adb__errors_add(adb_event_errors *errs, const char *code, const char *field,
                     const char *fmt, ...)
{
    va_list ap;
    adb_event_error *e;

    if (errs->count >= ADB_EVENT_MAX_ERRORS)
        return;
    e = &errs->e[errs->count++];
    adb__fmt(e->code, sizeof(e->code), "%s", code);
    adb__fmt(e->field, sizeof(e->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    /* a bounded copy (or a "%.40s") may cut a name inside a UTF-8 sequence:
     * every answer that carries these must stay valid UTF-8 JSON */
    adb__utf8_repair(e->field);
    adb__utf8_repair(e->message);
}

const char *adb__retention_for(const char *classification)
{
    if (!classification)
        return "standard";
    if (!strcmp(classification, "PHI"))
        return "phi_extended";
    if (!strcmp(classification, "CONFIDENTIAL"))
        return "confidential";
    if (!strcmp(classification, "PUBLIC"))
        return "minimal";
    return "standard";
}

/* ---- time --------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool adb__timestamp_parse(const char *s, size_t len, int64_t *us)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac_us = 0;
    size_t i;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    i = 19;
    if (i < len && s[i] == '.') {
        size_t nd = 0;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 6)
                frac_us = frac_us * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0 || nd > 9)
            return false;
        for (size_t k = nd; k < 6; k++)
            frac_us *= 10;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        i++;
        if (len - i < 2 || !digits(s + i, 2, &oh))
            return false;
        i += 2;
        if (i < len && s[i] == ':') {
            if (len - i < 3 || !digits(s + i + 1, 2, &om))
                return false;
            i += 3;
        } else if (len - i >= 2 && digits(s + i, 2, &om)) {
            i += 2;
        }
        if (oh > 23 || om > 59)
            return false;
    } else {
        return false; /* an offset is required: no local-time guessing */
    }
    if (i != len)
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    *us = t * 1000000 + frac_us;
    /* the offset may move a date past the supported range */
    return *us >= days_from_civil(1, 1, 1) * INT64_C(86400000000) &&
           *us < days_from_civil(10000, 1, 1) * INT64_C(86400000000);
}

/* Writes v as exactly width decimal digits (zero-padded). */
static char *digits_out(char *w, long long v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        w[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return w + width;
}

void adb__timestamp_format(int64_t us, char out[ADB_TS_TEXT_MAX])
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    char *w = out;

    /* by hand, not snprintf: this runs for every event written and verified */
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = 0;
    w = digits_out(w, y, 4);
    *w++ = '-';
    w = digits_out(w, m, 2);
    *w++ = '-';
    w = digits_out(w, d, 2);
    *w++ = 'T';
    w = digits_out(w, rem / 3600, 2);
    *w++ = ':';
    w = digits_out(w, rem / 60 % 60, 2);
    *w++ = ':';
    w = digits_out(w, rem % 60, 2);
    *w++ = '.';
    w = digits_out(w, frac, 6);
    *w++ = 'Z';
    *w = '\0';
}

int adb__month_index(int64_t us)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t y;
    unsigned m, d;

    civil_from_days(days, &y, &m, &d);
    return (int)(y * 12 + m - 1);
}

int64_t adb__now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- helpers ------------------------------------------------------------ */

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static int depth_of(const adb_json *v)
{
    int max = 0;

    if (v->type != ADB_JSON_ARRAY && v->type != ADB_JSON_OBJECT)
        return 0;
    for (size_t i = 0; i < v->count; i++) {
        int d = depth_of(v->items[i]);
        if (d > max)
            max = d;
    }
    return max + 1;
}

/* The value of an event field: from the event, else from the preset's defaults. */
static const adb_json *lookup(const adb_json *obj, const adb__preset *preset, const char *name)
{
    const adb_json *v = adb__json_get(obj, name);

    if (!v && preset && preset->defaults)
        v = adb__json_get(adb__json_root(preset->defaults), name);
    return v;
}

static bool is_known_top(const char *key)
{
    if (!strcmp(key, "timestamp") || !strcmp(key, "details") || !strcmp(key, "sessionContext") ||
        !strcmp(key, "hash") || !strcmp(key, "idempotencyKey"))
        return true;
    for (int f = 0; f < ADB_F__COUNT; f++)
        if (!strcmp(key, adb__event_fields[f].api_name))
            return true;
    return in_list(key, server_fields);
}

/* ---- details ------------------------------------------------------------ */

typedef struct member {
    const char *key;
    size_t key_len;
    const adb_json *value;
    const char *origin; /* for error messages */
} member;

static int cmp_member(const void *a, const void *b)
{
    const member *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Appends c to a growing buffer (doubling). */
static bool put_char(char **buf, size_t *len, size_t *cap, char c)
{
    if (*len + 1 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return false;
        *buf = nb;
        *cap = ncap;
    }
    (*buf)[(*len)++] = c;
    return true;
}

/* Gathers details members, sessionContext and unknown top-level fields into
 * one canonical object. Returns false on a validation problem (recorded) or
 * out of memory (*oom). */
static bool build_details(adb__event *ev, const adb_json *obj, const adb__preset *preset,
                          const adb__validation *v, adb_event_errors *errs, bool *oom)
{
    const adb_json *details = lookup(obj, preset, "details");
    const adb_json *session = lookup(obj, preset, "sessionContext");
    size_t cap = obj->count + 1 + (details && details->type == ADB_JSON_OBJECT ? details->count : 0);
    member *m = calloc(cap ? cap : 1, sizeof(*m));
    size_t n = 0;
    bool ok = true;
    char *buf = NULL;
    size_t len = 0, bcap = 0;

    *oom = false;
    if (!m) {
        *oom = true;
        return false;
    }
    if (details && details->type != ADB_JSON_NULL) {
        if (details->type != ADB_JSON_OBJECT) {
            adb__errors_add(errs, "INVALID_TYPE", "details", "details must be an object");
            ok = false;
        } else {
            for (size_t i = 0; i < details->count; i++)
                m[n++] = (member){ details->keys[i], details->key_lens[i], details->items[i], "details" };
        }
    }
    if (session && session->type != ADB_JSON_NULL) {
        if (session->type != ADB_JSON_OBJECT) {
            adb__errors_add(errs, "INVALID_TYPE", "sessionContext", "sessionContext must be an object");
            ok = false;
        } else {
            m[n++] = (member){ "sessionContext", strlen("sessionContext"), session, "sessionContext" };
        }
    }
    for (size_t i = 0; i < obj->count; i++) {
        if (is_known_top(obj->keys[i]))
            continue;
        m[n++] = (member){ obj->keys[i], obj->key_lens[i], obj->items[i], "top level" };
    }
    if (!ok || n == 0)
        goto out;
    qsort(m, n, sizeof(*m), cmp_member);
    for (size_t i = 1; i < n; i++) {
        if (cmp_member(&m[i - 1], &m[i]) == 0) {
            adb__errors_add(errs, "INVALID_VALUE", m[i].key,
                            "field \"%.40s\" is given both in %s and in %s", m[i].key,
                            m[i - 1].origin, m[i].origin);
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        if (1 + depth_of(m[i].value) > v->max_details_depth) {
            char field[64];
            adb__fmt(field, sizeof(field), "details.%s", m[i].key);
            adb__errors_add(errs, "EXCEEDS_MAX_DEPTH", field,
                            "details nest deeper than %d levels", v->max_details_depth);
            ok = false;
        }
    }
    if (!ok)
        goto out;
    if (!put_char(&buf, &len, &bcap, '{'))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && !put_char(&buf, &len, &bcap, ',')) ||
            !adb__json_write_string(m[i].key, m[i].key_len, &buf, &len, &bcap) ||
            !put_char(&buf, &len, &bcap, ':') ||
            !adb__json_write_canonical(m[i].value, &buf, &len, &bcap))
            goto nomem;
    }
    if (!put_char(&buf, &len, &bcap, '}') || !put_char(&buf, &len, &bcap, '\0'))
        goto nomem;
    len--; /* the NUL is not part of the text */
    if (len > v->max_details_bytes) {
        adb__errors_add(errs, "EXCEEDS_MAX_LENGTH", "details",
                        "details take %zu bytes, more than %zu", len, v->max_details_bytes);
        free(buf);
        ok = false;
        goto out;
    }
    ev->details = buf;
    ev->details_len = len;
    goto out;
nomem:
    free(buf);
    *oom = true;
    ok = false;
out:
    free(m);
    return ok;
}

/* ---- the event ---------------------------------------------------------- */

bool adb__hash_alg_binds_id(const char *alg)
{
    return alg && (!strcmp(alg, ADB_HASH_ALG_C14N) || !strcmp(alg, ADB_HASH_ALG_C14N_V2));
}

void adb__event_free(adb__event *ev)
{
    if (!ev)
        return;
    OPENSSL_cleanse(ev->commit_key, sizeof(ev->commit_key));
    for (int i = 0; i < ADB_F__COUNT; i++)
        free(ev->f[i]);
    free(ev->details);
    free(ev->idempotency_key);
    free(ev);
}

static bool set_field(adb__event *ev, adb_event_field f, const char *s, size_t len)
{
    free(ev->f[f]);
    ev->f[f] = malloc(len + 1);
    if (!ev->f[f])
        return false;
    memcpy(ev->f[f], s, len);
    ev->f[f][len] = '\0';
    return true;
}

static bool is_hex64(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

adb__event *adb__event_from_json(const adb_json *obj, const adb__preset *preset,
                                 const adb__validation *v, adb_event_errors *errs)
{
    adb__event *ev;
    bool oom = false;
    int64_t now = v->now_us ? v->now_us : adb__now_us();

    errs->count = 0;
    if (!obj || obj->type != ADB_JSON_OBJECT) {
        adb__errors_add(errs, "INVALID_TYPE", "", "an event must be a JSON object");
        return NULL;
    }
    if (!(ev = calloc(1, sizeof(*ev))))
        return NULL;

    for (const char *const *s = server_fields; *s; s++)
        if (adb__json_get(obj, *s))
            adb__errors_add(errs, "INVALID_VALUE", *s, "%s is set by the server", *s);

    /* text fields */
    for (int f = 0; f < ADB_F__COUNT && !oom; f++) {
        const adb_event_field_info *fi = &adb__event_fields[f];
        const adb_json *val = lookup(obj, preset, fi->api_name);
        if (f == ADB_F_ORGANIZATION_ID && v->organization_id) {
            if (val && val->type == ADB_JSON_STRING && strcmp(val->str, v->organization_id) != 0) {
                adb__errors_add(errs, "INVALID_VALUE", fi->api_name,
                                "organizationId does not match the caller's organization");
                continue;
            }
            oom = !set_field(ev, (adb_event_field)f, v->organization_id, strlen(v->organization_id));
            continue;
        }
        if (!val || val->type == ADB_JSON_NULL)
            continue;
        if (val->type != ADB_JSON_STRING) {
            adb__errors_add(errs, "INVALID_TYPE", fi->api_name, "%s must be a string", fi->api_name);
            continue;
        }
        size_t chars = utf8_chars(val->str, val->len);
        if (chars > fi->max_chars) {
            adb__errors_add(errs, "EXCEEDS_MAX_LENGTH", fi->api_name,
                            "%s has %zu characters, more than %zu", fi->api_name, chars,
                            fi->max_chars);
            continue;
        }
        oom = !set_field(ev, (adb_event_field)f, val->str, val->len);
    }
    if (oom)
        goto nomem;

    /* the timestamp */
    const adb_json *ts = lookup(obj, preset, "timestamp");
    if (!ts || ts->type == ADB_JSON_NULL) {
        adb__errors_add(errs, "REQUIRED_FIELD_MISSING", "timestamp", "timestamp is required");
    } else if (ts->type != ADB_JSON_STRING) {
        adb__errors_add(errs, "INVALID_TYPE", "timestamp", "timestamp must be a string");
    } else if (!adb__timestamp_parse(ts->str, ts->len, &ev->ts_us)) {
        adb__errors_add(errs, "INVALID_FORMAT", "timestamp",
                        "timestamp must be RFC 3339 with an offset, e.g. 2024-01-01T12:00:00.000Z");
    } else if (ev->ts_us > now + v->max_future_us) {
        adb__errors_add(errs, "INVALID_VALUE", "timestamp",
                        "timestamp is more than %lld s in the future",
                        (long long)(v->max_future_us / 1000000));
    } else if (ev->ts_us < now - v->max_past_us) {
        adb__errors_add(errs, "INVALID_VALUE", "timestamp",
                        "timestamp is more than %lld days in the past",
                        (long long)(v->max_past_us / 86400000000LL));
    } else {
        adb__timestamp_format(ev->ts_us, ev->ts_text);
    }

    /* required fields: the original's three, the preset's, and the tenant */
    static const adb_event_field base_required[] = { ADB_F_ACTION, ADB_F_STATUS, ADB_F_ORGANIZATION_ID };
    for (size_t i = 0; i < sizeof(base_required) / sizeof(base_required[0]); i++) {
        adb_event_field f = base_required[i];
        const char *name = adb__event_fields[f].api_name;
        /* present as null is missing too (an earlier error on the field, a
         * wrong type or length, is reported once: there it is not null) */
        const adb_json *given = lookup(obj, preset, name);
        if (!ev->f[f] && (!given || given->type == ADB_JSON_NULL))
            adb__errors_add(errs, "REQUIRED_FIELD_MISSING", name, "%s is required", name);
        else if (ev->f[f] && !ev->f[f][0])
            adb__errors_add(errs, "EMPTY_VALUE", name, "%s must not be empty", name);
    }
    if (preset) {
        for (size_t i = 0; i < preset->nrequired; i++) {
            const char *name = preset->required[i];
            const adb_json *val = lookup(obj, preset, name);
            if (!val || val->type == ADB_JSON_NULL)
                adb__errors_add(errs, "REQUIRED_FIELD_MISSING", name,
                                "%s is required by preset \"%s\"", name, preset->name);
            else if (val->type == ADB_JSON_STRING && val->len == 0)
                adb__errors_add(errs, "EMPTY_VALUE", name, "%s must not be empty", name);
        }
    }

    /* enums and defaults */
    if (ev->f[ADB_F_STATUS] && ev->f[ADB_F_STATUS][0] && !in_list(ev->f[ADB_F_STATUS], statuses))
        adb__errors_add(errs, "INVALID_VALUE", "status",
                        "status must be one of attempt, success, failure");
    if (!ev->f[ADB_F_DATA_CLASSIFICATION]) {
        const char *dc = preset && preset->data_classification ? preset->data_classification : "INTERNAL";
        oom |= !set_field(ev, ADB_F_DATA_CLASSIFICATION, dc, strlen(dc));
    } else if (!in_list(ev->f[ADB_F_DATA_CLASSIFICATION], classifications)) {
        adb__errors_add(errs, "INVALID_VALUE", "dataClassification",
                        "dataClassification must be one of PUBLIC, INTERNAL, CONFIDENTIAL, PHI");
    }
    if (!ev->f[ADB_F_RETENTION_POLICY] && ev->f[ADB_F_DATA_CLASSIFICATION]) {
        const char *rp = adb__retention_for(ev->f[ADB_F_DATA_CLASSIFICATION]);
        oom |= !set_field(ev, ADB_F_RETENTION_POLICY, rp, strlen(rp));
    } else if (ev->f[ADB_F_RETENTION_POLICY] && !ev->f[ADB_F_RETENTION_POLICY][0]) {
        adb__errors_add(errs, "EMPTY_VALUE", "retentionPolicy", "retentionPolicy must not be empty");
    }
    if (!ev->f[ADB_F_EVENT_VERSION])
        oom |= !set_field(ev, ADB_F_EVENT_VERSION, "1.0", 3);
    else if (!in_list(ev->f[ADB_F_EVENT_VERSION], versions))
        adb__errors_add(errs, "INVALID_VALUE", "eventVersion", "eventVersion must be one of 1.0, 1.1, 2.0");

    /* hash algorithm: ours, or the smart-logs one for imported events */
    const adb_json *given_hash = adb__json_get(obj, "hash");
    if (ev->f[ADB_F_HASH_ALGORITHM] && !strcmp(ev->f[ADB_F_HASH_ALGORITHM], ADB_HASH_ALG_LEGACY) &&
        v->allow_legacy_hash) {
        if (!given_hash || given_hash->type != ADB_JSON_STRING || !is_hex64(given_hash->str, given_hash->len))
            adb__errors_add(errs, "INVALID_VALUE", "hash",
                            "an imported SHA-256 event needs its hash: 64 lowercase hex digits");
        else
            memcpy(ev->hash, given_hash->str, 65);
    } else {
        /* a client may name any of ours; what is stored is always the
         * current one (v1 and v2 are kept for events stored before) */
        const char *alg = ev->f[ADB_F_HASH_ALGORITHM];
        if (alg && strcmp(alg, ADB_HASH_ALG_C14N) != 0 && strcmp(alg, ADB_HASH_ALG_C14N_V2) != 0 &&
            strcmp(alg, ADB_HASH_ALG_C14N_V1) != 0)
            adb__errors_add(errs, "INVALID_VALUE", "hashAlgorithm",
                            v->allow_legacy_hash ? "hashAlgorithm must be " ADB_HASH_ALG_C14N " or SHA-256"
                                                 : "hashAlgorithm is chosen by the server");
        if (given_hash && given_hash->type != ADB_JSON_NULL)
            adb__errors_add(errs, "INVALID_VALUE", "hash", "hash is computed by the server");
        oom |= !set_field(ev, ADB_F_HASH_ALGORITHM, ADB_HASH_ALG_C14N, strlen(ADB_HASH_ALG_C14N));
        /* the public id, drawn here so that the canonical form covers it, and
         * the key of the commitments to its personal data */
        if (errs->count == 0 && !adb__event_id_new(ev->ts_us, ev->event_id))
            adb__errors_add(errs, "INTERNAL_ERROR", "id", "no random bytes for the event id");
        else if (errs->count == 0 && !(ev->has_commit_key = adb__event_random(ev->commit_key, sizeof(ev->commit_key))))
            adb__errors_add(errs, "INTERNAL_ERROR", "id", "no random bytes for the commitment key");
    }

    /* idempotency key: the option of the API, or a field of an imported line */
    const adb_json *ik = adb__json_get(obj, "idempotencyKey");
    if (ik && ik->type != ADB_JSON_NULL) {
        if (ik->type != ADB_JSON_STRING || ik->len == 0 || utf8_chars(ik->str, ik->len) > 255)
            adb__errors_add(errs, "INVALID_VALUE", "idempotencyKey",
                            "idempotencyKey must be a string of 1 to 255 characters");
        else if (!(ev->idempotency_key = adb__strdup(ik->str)))
            oom = true;
    }

    if (oom)
        goto nomem;
    if (!build_details(ev, obj, preset, v, errs, &oom) && oom)
        goto nomem;
    if (errs->count > 0) {
        adb__event_free(ev);
        return NULL;
    }
    return ev;
nomem:
    adb__event_free(ev);
    errs->count = 0;
    return NULL;
}
