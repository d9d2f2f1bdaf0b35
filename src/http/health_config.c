/*
 * health_config.c - GET and PUT /api/v1/health/config: the settings of the
 * health checks (health_config.h). GET shows them with the bounds that are
 * fixed; PUT, an operator's alone (docs/auth.md), checks every member it is
 * given and applies all of them or none, under one lock, so a check never
 * sees half of a change; each change is recorded in security_events and,
 * before it applies, in the configuration history (config_change_event, a
 * process-wide row: docs/monitoring.md, "Configuration changes").
 */
#include "http.h"
#include "health_config.h"
#include "health_history.h"
#include "ratelimit.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../monitor/config_change.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_TIMEOUT_MS 250 /* docs/auth.md, "Rate limits"; not changeable */
#define SCHEDULE "on request: each health request runs its checks; none run in the background"

const char *const adb_health_component_names[ADB_HEALTH_NCOMP] = { "database", "redis", "audit" };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* PUTs one at a time, across their history row's write; the checks take mu only */
static pthread_mutex_t put_mu = PTHREAD_MUTEX_INITIALIZER;
static adb_health_settings current = { ADB_HEALTH_PROBE_BOUND_MS, 80, 0, { true, true, true } };

void adb_health_settings_get(adb_health_settings *out)
{
    pthread_mutex_lock(&mu);
    *out = current;
    pthread_mutex_unlock(&mu);
}

/* The settings as the client's getHealthConfig reads them; never a secret
 * (no connection string, URL or key). A PUT of this very object changes
 * nothing, so a caller may read, edit one member and send it back. */
static json_t *config_json(adb_http_request *req, const adb_health_settings *s)
{
    char err[ADB_ERRMSG_MAX];
    double ms;
    bool redis = adb_ratelimit_redis_check(req->state->ratelimit, &ms, err, sizeof(err)) >= 0;
    json_t *enabled = json_array();

    for (int i = 0; i < ADB_HEALTH_NCOMP; i++)
        if (s->enabled[i])
            json_array_append_new(enabled, json_string(adb_health_component_names[i]));
    return json_pack("{s:i, s:i, s:i, s:{s:i, s:i}, s:o, s:{s:{s:i, s:s}, s:{s:b, s:i}}, s:s, s:i}",
                     "checkInterval", 0, "timeout", s->timeout_ms, "retryAttempts", 1,
                     "alertThresholds", "writerQueueDegradedPercent", s->queue_degraded_percent,
                     "databaseLatencyDegradedMs", s->db_latency_degraded_ms,
                     "enabledChecks", enabled,
                     "dependencyChecks", "postgresql", "timeoutMs", ADB_HEALTH_PROBE_BOUND_MS, "mode",
                     req->state->embedded ? "embedded" : "external", "redis", "configured", redis,
                     "timeoutMs", REDIS_TIMEOUT_MS,
                     "schedule", SCHEDULE, "historySize", ADB_HEALTH_HISTORY_MAX);
}

/* GET /api/v1/health/config */
enum MHD_Result adb_http_health_config(adb_http_request *req)
{
    adb_health_settings s;

    adb_health_settings_get(&s);
    return adb_http_send_json(req, MHD_HTTP_OK, config_json(req, &s));
}

/* ---- PUT ------------------------------------------------------------------ */

typedef struct put_errors {
    json_t *list;        /* [{code, field, message}] */
    char first[200];     /* the first one's message: the answer's message */
} put_errors;

static void add_error(put_errors *e, const char *field, const char *code, const char *message)
{
    if (!e->first[0])
        adb__fmt(e->first, sizeof(e->first), "%s", message);
    json_array_append_new(e->list, json_pack("{s:s, s:s, s:s}", "code", code, "field", field,
                                             "message", message));
}

/* An integer member within [lo, hi], else an error naming it. */
static void int_member(put_errors *e, const char *field, json_t *v, int lo, int hi, const char *why,
                       int *out)
{
    char msg[200];

    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *out = (int)json_integer_value(v);
        return;
    }
    adb__fmt(msg, sizeof(msg), "%s must be an integer from %d to %d%s", field, lo, hi, why);
    add_error(e, field, json_is_integer(v) ? "OUT_OF_RANGE" : "INVALID_TYPE", msg);
}

static void thresholds(put_errors *e, json_t *v, adb_health_settings *s)
{
    const char *k;
    json_t *m;
    char field[96], msg[200];

    if (!json_is_object(v)) {
        add_error(e, "alertThresholds", "INVALID_TYPE", "alertThresholds must be an object");
        return;
    }
    json_object_foreach(v, k, m) {
        adb__fmt(field, sizeof(field), "alertThresholds.%.60s", k);
        adb__utf8_repair(field);
        if (!strcmp(k, "writerQueueDegradedPercent"))
            int_member(e, field, m, 1, 100, " (percent of the writer's queue)", &s->queue_degraded_percent);
        else if (!strcmp(k, "databaseLatencyDegradedMs"))
            int_member(e, field, m, 0, ADB_HEALTH_PROBE_BOUND_MS, " (0: never degraded for latency)",
                       &s->db_latency_degraded_ms);
        else {
            adb__fmt(msg, sizeof(msg), "%s is not a threshold of auditdb's checks "
                     "(writerQueueDegradedPercent, databaseLatencyDegradedMs)", field);
            add_error(e, field, "UNKNOWN_FIELD", msg);
        }
    }
}

static void enabled_checks(put_errors *e, json_t *v, adb_health_settings *s)
{
    size_t i;
    json_t *name;
    bool seen[ADB_HEALTH_NCOMP] = { false, false, false };
    char field[32], msg[160];

    if (!json_is_array(v) || json_array_size(v) == 0) {
        add_error(e, "enabledChecks", "INVALID_TYPE",
                  "enabledChecks must be a non-empty array of components: database, redis, audit");
        return;
    }
    json_array_foreach(v, i, name) {
        int k = -1;
        for (int c = 0; c < ADB_HEALTH_NCOMP; c++)
            if (json_is_string(name) && !strcmp(json_string_value(name), adb_health_component_names[c]))
                k = c;
        adb__fmt(field, sizeof(field), "enabledChecks[%zu]", i);
        if (k < 0 || seen[k]) {
            adb__fmt(msg, sizeof(msg), "%s %s", field, k < 0 ? "is not a component (database, redis, audit)"
                                                             : "names a component twice");
            add_error(e, field, k < 0 ? "INVALID_VALUE" : "DUPLICATE", msg);
            continue;
        }
        seen[k] = true;
    }
    memcpy(s->enabled, seen, sizeof(seen));
}

/* Checks every member of the body against the settings now in force
 * (*s on entry) and writes the accepted values into *s. Members whose
 * value auditdb cannot change are taken when equal to what GET shows
 * (shown: built before the lock, as it asks Redis whether it is used). */
static void check_body(json_t *shown, json_t *in, adb_health_settings *s, put_errors *e)
{
    const char *k;
    json_t *v;
    char msg[240];

    json_object_foreach(in, k, v) {
        json_t *fixed = json_object_get(shown, k);
        if (!strcmp(k, "timeout"))
            int_member(e, "timeout", v, 1, ADB_HEALTH_PROBE_BOUND_MS,
                       " ms: the database probe never waits longer, so that health answers within a second",
                       &s->timeout_ms);
        else if (!strcmp(k, "alertThresholds"))
            thresholds(e, v, s);
        else if (!strcmp(k, "enabledChecks"))
            enabled_checks(e, v, s);
        else if (fixed && json_equal(fixed, v))
            continue; /* the value in force: nothing to change */
        else if (fixed) {
            char *want = json_dumps(fixed, JSON_COMPACT | JSON_ENCODE_ANY);
            adb__fmt(msg, sizeof(msg), "%s cannot be changed in auditdb (it is %.120s)%s", k, want ? want : "?",
                     !strcmp(k, "checkInterval") ? ": checks run on each health request, none in the background" : "");
            free(want);
            add_error(e, k, "NOT_CHANGEABLE", msg);
        } else {
            char field[72];
            adb__fmt(field, sizeof(field), "%.64s", k);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "%s is not a setting of the health checks (timeout, alertThresholds, "
                     "enabledChecks can be changed)", field);
            add_error(e, field, "UNKNOWN_FIELD", msg);
        }
    }
    if (s->db_latency_degraded_ms >= s->timeout_ms && s->db_latency_degraded_ms > 0) {
        adb__fmt(msg, sizeof(msg), "alertThresholds.databaseLatencyDegradedMs (%d) must be below timeout (%d)",
                 s->db_latency_degraded_ms, s->timeout_ms);
        add_error(e, "alertThresholds.databaseLatencyDegradedMs", "OUT_OF_RANGE", msg);
    }
}

/* "timeout 800->500; enabledChecks database,redis,audit->database": what
 * changed, for the answer and the self-audit record (settings only). */
static void enabled_text(const adb_health_settings *s, char *out, size_t len)
{
    out[0] = '\0';
    for (int i = 0; i < ADB_HEALTH_NCOMP; i++)
        if (s->enabled[i])
            adb__fmt(out + strlen(out), len - strlen(out), "%s%s", out[0] ? "," : "", adb_health_component_names[i]);
}

static json_t *changes(const adb_health_settings *a, const adb_health_settings *b, char *text, size_t len)
{
    json_t *names = json_array();
    char ea[40], eb[40];
    struct { const char *name; int from, to; } ints[] = {
        { "timeout", a->timeout_ms, b->timeout_ms },
        { "alertThresholds.writerQueueDegradedPercent", a->queue_degraded_percent, b->queue_degraded_percent },
        { "alertThresholds.databaseLatencyDegradedMs", a->db_latency_degraded_ms, b->db_latency_degraded_ms },
    };

    text[0] = '\0';
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (ints[i].from == ints[i].to)
            continue;
        json_array_append_new(names, json_string(ints[i].name));
        adb__fmt(text + strlen(text), len - strlen(text), "%s%s %d->%d", text[0] ? "; " : "", ints[i].name,
                 ints[i].from, ints[i].to);
    }
    enabled_text(a, ea, sizeof(ea));
    enabled_text(b, eb, sizeof(eb));
    if (strcmp(ea, eb) != 0) {
        json_array_append_new(names, json_string("enabledChecks"));
        adb__fmt(text + strlen(text), len - strlen(text), "%senabledChecks %s->%s", text[0] ? "; " : "", ea, eb);
    }
    return names;
}

/* The settings that can change, as the configuration history keeps them. */
static json_t *settings_doc(const adb_health_settings *s)
{
    json_t *enabled = json_array();

    for (int i = 0; i < ADB_HEALTH_NCOMP; i++)
        if (s->enabled[i])
            json_array_append_new(enabled, json_string(adb_health_component_names[i]));
    return json_pack("{s:i, s:i, s:i, s:o}", "timeout", s->timeout_ms,
                     "writerQueueDegradedPercent", s->queue_degraded_percent,
                     "databaseLatencyDegradedMs", s->db_latency_degraded_ms, "enabledChecks",
                     enabled);
}

/* The process-wide configuration history row of a change from a to b,
 * committed on the owner's connection; false when it could not be
 * written (the change is then refused). */
static bool record_change(adb_http_request *req, const adb_health_settings *a,
                          const adb_health_settings *b)
{
    char err[ADB_ERRMSG_MAX], by[40];
    adb__config_change_rec cc = { 0 };
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(req->state->db), &st, err, sizeof(err));
    json_t *prev = settings_doc(a), *next = settings_doc(b);
    bool ok = false;

    adb__fmt(by, sizeof(by), "apikey:%s", req->who.key_id[0] ? req->who.key_id : "unknown");
    if (c && prev && next) {
        PGresult *r = PQexec(c, "BEGIN");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        ok = ok && adb__config_change_json_tx(c, &cc, NULL, "health_config", prev, next, by, NULL,
                                              err, sizeof(err)) == ADB_OK;
        r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
        PQclear(r);
    }
    if (c)
        adb_pool_release(adb__pool(req->state->db), c);
    adb__config_change_rec_done(NULL, &cc, false); /* process-wide: the row is its record */
    json_decref(prev);
    json_decref(next);
    return ok;
}

/* PUT /api/v1/health/config: the client's updateHealthConfig. Answers the
 * settings now in force (GET's shape) with `changed`, the members changed. */
enum MHD_Result adb_http_health_config_put(adb_http_request *req)
{
    json_error_t je;
    json_t *in = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    put_errors e = { json_array(), "" };
    adb_health_settings before, after;
    char text[400];

    if (!json_is_object(in)) {
        json_decref(in);
        json_decref(e.list);
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR",
                                   "the body must be a JSON object such as {\"timeout\":500}",
                                   json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", "INVALID_JSON", "field",
                                             "", "message", "the body must be a JSON object"));
    }
    /* checked and applied under the lock: two PUTs never interleave, and a
     * change applies whole or not at all */
    adb_health_settings_get(&before);
    json_t *shown = config_json(req, &before);
    bool recorded = true;
    pthread_mutex_lock(&put_mu);
    pthread_mutex_lock(&mu);
    before = after = current;
    pthread_mutex_unlock(&mu);
    check_body(shown, in, &after, &e);
    /* no change without its row: written before the change applies, PUTs
     * serialized so that rows follow the order of the changes; the checks
     * go on meanwhile with the settings before */
    json_t *changed = json_array_size(e.list) == 0 ? changes(&before, &after, text, sizeof(text))
                                                   : NULL;
    if (json_array_size(changed) > 0)
        recorded = record_change(req, &before, &after);
    if (json_array_size(e.list) == 0 && recorded) {
        pthread_mutex_lock(&mu);
        current = after;
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_unlock(&put_mu);
    json_decref(shown);
    json_decref(in);
    if (json_array_size(e.list) > 0)
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", e.first,
                                   json_pack("{s:o}", "errors", e.list));
    json_decref(e.list);
    if (!recorded) {
        json_decref(changed);
        return adb_http_send_unavailable(req);
    }
    if (json_array_size(changed) > 0)
        adb_http_security_event(req, "health_config_changed", "MEDIUM", text);
    json_t *body = config_json(req, &after);
    json_object_set_new(body, "changed", changed);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}
