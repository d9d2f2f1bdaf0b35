/*
 * raise.c - adb__alert_raise: a trigger checked here, then PostgreSQL's
 * auditdb_alert_raise (migrations/0034_alerts.sql) opens, folds or records
 * it as silenced in the caller's transaction, so that the rules hold for
 * every caller, SQL ones included (the archival dead-letter queue).
 */
#include "alert.h"

#include "../core/clock.h"
#include "../core/util.h"
#include "../event/event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

bool adb__alert_severity_known(const char *s)
{
    static const char *const sev[] = { "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };
    return one_of(s, sev);
}

bool adb__alert_type_known(const char *s)
{
    static const char *const types[] = { "SECURITY", "COMPLIANCE", "PERFORMANCE", "SYSTEM",
                                         "METRICS", "DELIVERY", "CUSTOM", NULL };
    return one_of(s, types);
}

int64_t adb__alert_now_ms(void)
{
    return adb__clock_ms(ADB_ALERT_CLOCK_ENV);
}

/* The trigger checked: false with why in err. */
static bool trigger_ok(const adb__alert_trigger *t, char *err, size_t errlen)
{
    struct {
        const char *name, *value;
        size_t max;
    } req[] = { { "org", t->org, 255 },           { "source", t->source, 100 },
                { "dedup_key", t->dedup_key, 500 }, { "title", t->title, 500 },
                { "description", t->description, 8000 } };

    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (!req[i].value || !*req[i].value) {
            adb__fmt(err, errlen, "alert trigger: %s is required", req[i].name);
            return false;
        }
        if (strlen(req[i].value) > req[i].max) {
            adb__fmt(err, errlen, "alert trigger: %s is longer than %zu bytes", req[i].name,
                     req[i].max);
            return false;
        }
    }
    if (!adb__alert_severity_known(t->severity)) {
        adb__fmt(err, errlen, "alert trigger: unknown severity (INFO LOW MEDIUM HIGH CRITICAL)");
        return false;
    }
    if (!adb__alert_type_known(t->type)) {
        adb__fmt(err, errlen, "alert trigger: unknown type (SECURITY COMPLIANCE PERFORMANCE "
                 "SYSTEM METRICS DELIVERY CUSTOM)");
        return false;
    }
    if (t->rule_id && strlen(t->rule_id) > 255) {
        adb__fmt(err, errlen, "alert trigger: rule_id is longer than 255 bytes");
        return false;
    }
    if (t->correlation_id && strlen(t->correlation_id) > 255) {
        adb__fmt(err, errlen, "alert trigger: correlation_id is longer than 255 bytes");
        return false;
    }
    if (t->metadata_json) {
        json_t *m = json_loads(t->metadata_json, 0, NULL);
        bool obj = json_is_object(m);
        json_decref(m);
        if (!obj) {
            adb__fmt(err, errlen, "alert trigger: metadata must be a JSON object");
            return false;
        }
    }
    return true;
}

adb_status adb__alert_raise(PGconn *c, const adb__alert_trigger *t, adb__alert_outcome *out,
                            char id_out[ADB_ALERT_ID_MAX], char *err, size_t errlen)
{
    char at[ADB_TS_TEXT_MAX], now[ADB_TS_TEXT_MAX], ver[16];
    adb_status st = ADB_ERR_DB_QUERY;
    char *samples = NULL;
    json_t *arr;

    if (!t || !trigger_ok(t, err, errlen))
        return ADB_ERR_INVALID;
    arr = json_array();
    for (size_t i = 0; arr && i < t->nsamples && json_array_size(arr) < ADB_ALERT_SAMPLES_MAX; i++)
        if (t->sample_event_ids[i] && *t->sample_event_ids[i])
            json_array_append_new(arr, json_string(t->sample_event_ids[i]));
    samples = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!samples) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    int64_t now_ms = adb__alert_now_ms();
    adb__timestamp_format((t->at_ms > 0 ? t->at_ms : now_ms) * 1000, at);
    adb__timestamp_format(now_ms * 1000, now);
    adb__fmt(ver, sizeof(ver), "%d", t->rule_version);
    const char *p[] = { t->org, t->source, t->dedup_key, t->rule_id, t->rule_id ? ver : NULL,
                        t->severity, t->type, t->title, t->description, t->correlation_id,
                        t->metadata_json, samples, at, now };
    PGresult *r = PQexecParams(c,
                               "SELECT alert_id, outcome FROM auditdb_alert_raise($1, $2, $3, $4,"
                               " $5::integer, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb,"
                               " $13::timestamptz, $14::timestamptz)",
                               14, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not raise the alert: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        goto out;
    }
    const char *o = PQgetvalue(r, 0, 1);
    if (out)
        *out = !strcmp(o, "opened") ? ADB_ALERT_OPENED
             : !strcmp(o, "folded") ? ADB_ALERT_FOLDED : ADB_ALERT_SILENCED;
    if (id_out)
        adb__fmt(id_out, ADB_ALERT_ID_MAX, "%s", PQgetvalue(r, 0, 0));
    st = ADB_OK;
out:
    PQclear(r);
    free(samples);
    return st;
}
