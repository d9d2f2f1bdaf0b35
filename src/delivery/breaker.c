/*
 * breaker.c - destination health and the circuit breaker, persisted in
 * destination_health (docs/delivery.md, "Health and breakers").
 *
 * Convoy's model: closed until the failure rate over a window reaches a
 * threshold with a minimum volume of attempts in it; open for a cool-down;
 * then half-open with ONE probe at a time across every thread and serve
 * instance (the health row is locked FOR UPDATE while the slot is taken, the
 * slot is a time in metadata.probeUntil); the probe's success closes it, its
 * failure opens it again. Svix's rule on top: a destination failing without
 * a single success for disable_after_s (5 days) is disabled, as is one that
 * answers 410; disabling writes an alerts row, holds the destination's
 * pending queue items and logs an audit event of the organization.
 *
 * Every time is the delivery clock's (clock.c), passed in as now_ms, so a
 * test can move it. Every transition is a destination_health_transition row
 * with its time and reason. Statements run on c (the owner's connection of a
 * delivery thread, or a request's), each naming the organization.
 */
#include "../alert/alert.h"
#include "delivery.h"
#include "../core/util.h"
#include "../event/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADB_STR_(x) #x
#define ADB_STR(x) ADB_STR_(x)
#define SAMPLES_MAX 100    /* response times kept in metadata.responseTimesMs */
#define DELIVERY_PRINCIPAL "auditdb-delivery"

/* ---- settings ------------------------------------------------------------- */

static int cfg_int(const json_t *o, const char *name, int def, long long min, long long max)
{
    json_t *v = o ? json_object_get(o, name) : NULL;
    if (!json_is_integer(v))
        return def;
    long long x = json_integer_value(v);
    return x < min || x > max ? def : (int)x;
}

void adb__breaker_config_of(const json_t *dest_config, adb__breaker_config *out)
{
    const json_t *o = json_is_object(dest_config)
                          ? json_object_get(dest_config, "circuitBreaker") : NULL;
    if (!json_is_object(o))
        o = NULL;
    out->failure_rate_pct = cfg_int(o, "failureRateThreshold", 50, 1, 100);
    out->window_s = cfg_int(o, "windowSeconds", 300, 1, 86400);
    out->min_volume = cfg_int(o, "minimumVolume", 10, 1, 100000);
    out->cooldown_s = cfg_int(o, "cooldownSeconds", 60, 1, 86400);
    out->probe_timeout_s = cfg_int(o, "probeTimeoutSeconds", 120, 1, 86400);
    out->disable_after_s = cfg_int(o, "disableAfterSeconds", 5 * 86400, 60, 365 * 86400);
}

static const struct {
    const char *name;
    long long min, max;
} KNOBS[] = {
    { "failureRateThreshold", 1, 100 }, { "windowSeconds", 1, 86400 },
    { "minimumVolume", 1, 100000 },     { "cooldownSeconds", 1, 86400 },
    { "probeTimeoutSeconds", 1, 86400 }, { "disableAfterSeconds", 60, 365 * 86400 },
};

bool adb__breaker_config_check(const json_t *cb, char *field, size_t flen, char *msg, size_t mlen)
{
    const char *key;
    json_t *v;

    if (!cb || json_is_null(cb))
        return true;
    if (!json_is_object(cb)) {
        adb__fmt(field, flen, "config.circuitBreaker");
        adb__fmt(msg, mlen, "config.circuitBreaker must be an object");
        return false;
    }
    json_object_foreach((json_t *)cb, key, v) {
        size_t i = 0;
        while (i < sizeof(KNOBS) / sizeof(KNOBS[0]) && strcmp(KNOBS[i].name, key) != 0)
            i++;
        adb__fmt(field, flen, "config.circuitBreaker.%.40s", key);
        if (i == sizeof(KNOBS) / sizeof(KNOBS[0])) {
            adb__fmt(msg, mlen, "unknown member of config.circuitBreaker");
            return false;
        }
        if (!json_is_integer(v) || json_integer_value(v) < KNOBS[i].min ||
            json_integer_value(v) > KNOBS[i].max) {
            adb__fmt(msg, mlen, "%s must be an integer from %lld to %lld", field, KNOBS[i].min,
                     KNOBS[i].max);
            return false;
        }
    }
    return true;
}

/* ---- statements ------------------------------------------------------------ */

#define TS(n) "to_timestamp($" #n "::float8 / 1000)"
#define MS(col) "coalesce(round(extract(epoch FROM " col ") * 1000)::bigint, 0)"

static PGresult *run(PGconn *c, const char *sql, int n, const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

static bool run_ok(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = run(c, sql, n, p);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

/* Opens a transaction unless the caller has one; *own says whether we did. */
static bool tx_begin(PGconn *c, bool *own)
{
    *own = PQtransactionStatus(c) == PQTRANS_IDLE;
    if (!*own)
        return PQtransactionStatus(c) == PQTRANS_INTRANS;
    return run_ok(c, "BEGIN", 0, NULL);
}

static bool tx_end(PGconn *c, bool own, bool ok)
{
    if (!own)
        return ok;
    if (ok)
        return run_ok(c, "COMMIT", 0, NULL);
    PQclear(PQexec(c, "ROLLBACK"));
    return false;
}

/* The health row of a destination as the breaker reads it. */
typedef struct hrow {
    char state[16];
    int64_t opened_ms, failing_ms, window_ms, probe_until_ms;
    long long window_total, window_failures, consecutive, total_failures, total;
    bool disabled;
    json_t *meta;   /* owned */
    char version[40];   /* the destination's (ADB_DEST_VERSION_SQL) */
} hrow;

static const char SELECT_ROW[] =
    "SELECT h.circuit_breaker_state, " MS("h.circuit_breaker_opened_at") ", "
    MS("h.failing_since") ", " MS("h.window_started_at") ", "
    "coalesce((h.metadata->>'probeUntil')::bigint, 0), h.window_total, h.window_failures,"
    " h.consecutive_failures, h.total_failures, h.total_deliveries, h.metadata::text,"
    " d.disabled = 'true', " ADB_DEST_VERSION_SQL
    " FROM destination_health h JOIN delivery_destinations d ON d.id = h.destination_id"
    " WHERE h.destination_id = $1::int AND h.organization_id = $2 AND d.deleted_at IS NULL";

/* Reads the row (locked when lock), creating it first when missing.
 * ADB_ERR_NOT_FOUND when org has no such destination. */
static adb_status row_read(PGconn *c, const char *org, const char *idt, int64_t now_ms, bool lock,
                           hrow *out)
{
    char now[24], sql[sizeof(SELECT_ROW) + 32];
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);
    const char *pi[] = { idt, org, now };
    PGresult *r = NULL;

    adb__fmt(sql, sizeof(sql), "%s%s", SELECT_ROW, lock ? " FOR UPDATE OF h" : "");
    for (int pass = 0; pass < 2; pass++) {
        r = run(c, sql, 2, pi);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            return ADB_ERR_DB_QUERY;
        }
        if (PQntuples(r) == 1 || pass == 1)
            break;
        PQclear(r);
        /* the first look at this destination: its row, if it is org's */
        r = run(c,
                "INSERT INTO destination_health (destination_id, organization_id, status,"
                " last_check_at)"
                " SELECT id, organization_id, CASE WHEN disabled = 'true' THEN 'disabled'"
                " ELSE 'healthy' END, " TS(3)
                " FROM delivery_destinations WHERE id = $1::int AND organization_id = $2"
                " AND deleted_at IS NULL ON CONFLICT (destination_id) DO NOTHING",
                3, pi);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ADB_ERR_NOT_FOUND;
    }
    memset(out, 0, sizeof(*out));
    adb__fmt(out->state, sizeof(out->state), "%s", PQgetvalue(r, 0, 0));
    out->opened_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->failing_ms = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    out->window_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    out->probe_until_ms = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    out->window_total = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    out->window_failures = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
    out->consecutive = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
    out->total_failures = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
    out->total = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
    out->meta = json_loads(PQgetvalue(r, 0, 10), 0, NULL);
    if (!json_is_object(out->meta)) {
        json_decref(out->meta);
        out->meta = json_object();
    }
    out->disabled = PQgetvalue(r, 0, 11)[0] == 't';
    adb__fmt(out->version, sizeof(out->version), "%s", PQgetvalue(r, 0, 12));
    PQclear(r);
    return out->meta ? ADB_OK : ADB_ERR_NOMEM;
}

static bool transition(PGconn *c, const char *idt, const char *org, const char *now,
                       const char *from, const char *to, const char *reason)
{
    const char *p[] = { idt, org, now, from, to, reason };
    return run_ok(c,
                  "INSERT INTO destination_health_transition (destination_id, organization_id,"
                  " at, from_state, to_state, reason) VALUES ($1::int, $2, " TS(3) ", $4, $5, $6)",
                  6, p);
}

/* ---- admission ------------------------------------------------------------ */

adb_status adb__breaker_admit(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms,
                              bool *admit, int64_t *retry_at_ms)
{
    return adb__breaker_admit_v(h, c, d, now_ms, admit, retry_at_ms, NULL, 0, NULL);
}

adb_status adb__breaker_admit_v(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms,
                                bool *admit, int64_t *retry_at_ms, char *version, size_t vlen,
                                bool *closed)
{
    adb__breaker_config cfg;
    char idt[16], now[24];
    hrow row;
    bool own;
    adb_status st;

    (void)h;
    *admit = false;
    *retry_at_ms = now_ms;
    adb__breaker_config_of(d->config, &cfg);
    adb__fmt(idt, sizeof(idt), "%d", d->id);
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);

    /* the common case without a lock: closed and enabled */
    st = row_read(c, d->org, idt, now_ms, false, &row);
    if (st != ADB_OK)
        return st;
    json_decref(row.meta);
    if (version)
        adb__fmt(version, vlen, "%s", row.version);
    if (row.disabled) {
        *retry_at_ms = ADB_BREAKER_HOLD;
        return ADB_OK;
    }
    if (closed)
        *closed = false;
    if (strcmp(row.state, "closed") == 0) {
        *admit = true;
        if (closed)
            *closed = true;
        return ADB_OK;
    }
    if (strcmp(row.state, "open") == 0 && now_ms < row.opened_ms + cfg.cooldown_s * 1000LL) {
        *retry_at_ms = row.opened_ms + cfg.cooldown_s * 1000LL;
        return ADB_OK;
    }
    if (strcmp(row.state, "half-open") == 0 && now_ms < row.probe_until_ms) {
        *retry_at_ms = row.probe_until_ms;
        return ADB_OK;
    }

    /* the probe slot may be free: decide again under the row's lock */
    if (!tx_begin(c, &own))
        return ADB_ERR_DB_QUERY;
    st = row_read(c, d->org, idt, now_ms, true, &row);
    if (st != ADB_OK) {
        tx_end(c, own, false);
        return st;
    }
    json_decref(row.meta);
    bool ok = true;
    int64_t probe_until = now_ms + cfg.probe_timeout_s * 1000LL;
    char until[24];
    adb__fmt(until, sizeof(until), "%" PRId64, probe_until);
    const char *p[] = { idt, until };
    static const char TAKE[] =
        "UPDATE destination_health SET circuit_breaker_state = 'half-open', status = 'degraded',"
        " metadata = metadata || jsonb_build_object('probeUntil', $2::bigint), updated_at = now()"
        " WHERE destination_id = $1::int";
    if (row.disabled) {
        *retry_at_ms = ADB_BREAKER_HOLD;
    } else if (strcmp(row.state, "closed") == 0) {
        *admit = true;
    } else if (strcmp(row.state, "open") == 0) {
        if (now_ms < row.opened_ms + cfg.cooldown_s * 1000LL) {
            *retry_at_ms = row.opened_ms + cfg.cooldown_s * 1000LL;
        } else {
            char why[160];
            adb__fmt(why, sizeof(why), "cool-down of %d s elapsed: one probe admitted",
                     cfg.cooldown_s);
            ok = run_ok(c, TAKE, 2, p) &&
                 transition(c, idt, d->org, now, "open", "half-open", why);
            *admit = ok;
        }
    } else if (now_ms < row.probe_until_ms) {   /* half-open, a probe under way */
        *retry_at_ms = row.probe_until_ms;
    } else {                                    /* half-open, the last probe never reported */
        ok = run_ok(c, TAKE, 2, p);
        *admit = ok;
    }
    if (!tx_end(c, own, ok)) {
        *admit = false;
        return ADB_ERR_DB_QUERY;
    }
    return ADB_OK;
}

/* ---- disabling ------------------------------------------------------------- */

/* Inside a transaction: the destination disabled, its health 'disabled', the
 * transition, its pending items held and the alert. */
static bool disable_in_tx(PGconn *c, const char *org, const char *idt, const char *now,
                          const char *from_state, const char *reason, const char *by,
                          long long *held)
{
    const char *p[] = { idt, org, now, reason };
    const char *pb[] = { idt, org, now, by };
    PGresult *r;

    if (!run_ok(c,
                "UPDATE delivery_destinations SET disabled = 'true', disabled_at = " TS(3) ","
                " disabled_by = $4, updated_at = now() WHERE id = $1::int AND organization_id = $2",
                4, pb))
        return false;
    if (!run_ok(c,
                "UPDATE destination_health SET status = 'disabled', disabled_at = " TS(3) ","
                " disabled_reason = $4, circuit_breaker_opened_at = CASE"
                " WHEN circuit_breaker_state = 'open' THEN circuit_breaker_opened_at"
                " ELSE " TS(3) " END, circuit_breaker_state = 'open',"
                " metadata = metadata - 'probeUntil', updated_at = now()"
                " WHERE destination_id = $1::int AND organization_id = $2",
                4, p))
        return false;
    if (!transition(c, idt, org, now, from_state, "disabled", reason))
        return false;
    r = run(c,
            "UPDATE delivery_queue SET status = 'held', updated_at = now()"
            " WHERE destination_id = $1::int AND organization_id = $2 AND status = 'pending'",
            2, p);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (held)
        *held = ok ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    if (!ok)
        return false;
    json_t *m = json_pack("{s:s, s:i, s:s, s:s, s:I}", "kind", "delivery_destination_disabled",
                          "destinationId", atoi(idt), "reason", reason, "by", by,
                          "atMs", (json_int_t)strtoll(now, NULL, 10));
    char *mt = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!mt)
        return false;
    char desc[600];
    adb__fmt(desc, sizeof(desc),
             "delivery destination %s was disabled: %s. Its pending deliveries are held; enable"
             " it again (POST /api/v1/delivery/destinations/%s/enable or auditdb deliveries"
             " enable %s) to deliver them.", idt, reason, idt, idt);
    char key[64], corr[64], aerr[256];
    adb__fmt(key, sizeof(key), "delivery-destination/%s/disabled", idt);
    adb__fmt(corr, sizeof(corr), "delivery-destination-%s", idt);
    adb__alert_trigger t = { .org = org, .source = "auditdb-delivery", .dedup_key = key,
                             .severity = "HIGH", .type = "SYSTEM",
                             .title = "delivery destination disabled", .description = desc,
                             .correlation_id = corr, .metadata_json = mt,
                             .at_ms = strtoll(now, NULL, 10) };
    ok = adb__alert_raise(c, &t, NULL, NULL, aerr, sizeof(aerr)) == ADB_OK;
    free(mt);
    return ok;
}

/* The notice to the organization: an audit event of its own, through the
 * library's log path (after the commit; a failure to log it is not the
 * disable's failure: the alert row is there). */
static void notice(adb *h, const char *org, int id, const char *action, const char *reason,
                   const char *by, long long held)
{
    char ts[ADB_TS_TEXT_MAX], idt[16];
    adb_log_options lo = { .organization_id = org };
    adb_log_result res;

    if (!h)
        return;
    adb__timestamp_format(adb__now_us(), ts);
    adb__fmt(idt, sizeof(idt), "%d", id);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:I}}",
                           "timestamp", ts, "action", action, "status", "success",
                           "principalId", DELIVERY_PRINCIPAL, "organizationId", org,
                           "targetResourceType", "DeliveryDestination", "targetResourceId",
                           idt, "dataClassification", "INTERNAL", "details", "reason", reason,
                           "by", by, "deliveriesAffected", (json_int_t)held);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (text)
        (void)adb_log_json(h, text, strlen(text), &lo, &res);
    free(text);
}

adb_status adb__health_disable(adb *h, PGconn *c, const char *org, int id, const char *reason,
                               const char *by, int64_t now_ms)
{
    char idt[16], now[24];
    hrow row;
    bool own;
    long long held = 0;

    adb__fmt(idt, sizeof(idt), "%d", id);
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);
    if (!tx_begin(c, &own))
        return ADB_ERR_DB_QUERY;
    adb_status st = row_read(c, org, idt, now_ms, true, &row);
    if (st != ADB_OK) {
        tx_end(c, own, false);
        return st;
    }
    json_decref(row.meta);
    if (row.disabled)
        return tx_end(c, own, true) ? ADB_OK : ADB_ERR_DB_QUERY;
    bool ok = disable_in_tx(c, org, idt, now, row.state, reason, by, &held);
    if (!tx_end(c, own, ok))
        return ADB_ERR_DB_QUERY;
    notice(h, org, id, "delivery.destination.disabled", reason, by, held);
    return ADB_OK;
}

adb_status adb__health_enable(adb *h, PGconn *c, const char *org, int id, const char *by,
                              int64_t now_ms, long long *released)
{
    char idt[16], now[24];
    hrow row;
    bool own;

    if (released)
        *released = 0;
    adb__fmt(idt, sizeof(idt), "%d", id);
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);
    if (!tx_begin(c, &own))
        return ADB_ERR_DB_QUERY;
    adb_status st = row_read(c, org, idt, now_ms, true, &row);
    if (st != ADB_OK) {
        tx_end(c, own, false);
        return st;
    }
    json_decref(row.meta);
    const char *p[] = { idt, org, now };
    bool ok = run_ok(c,
                     "UPDATE delivery_destinations SET disabled = 'false', disabled_at = NULL,"
                     " disabled_by = NULL, updated_at = now()"
                     " WHERE id = $1::int AND organization_id = $2",
                     2, p) &&
              run_ok(c,
                     "UPDATE destination_health SET status = 'healthy', disabled_at = NULL,"
                     " disabled_reason = NULL, circuit_breaker_state = 'closed',"
                     " circuit_breaker_opened_at = NULL, consecutive_failures = 0,"
                     " failing_since = NULL, window_started_at = " TS(3) ", window_total = 0,"
                     " window_failures = 0, metadata = metadata - 'probeUntil',"
                     " updated_at = now() WHERE destination_id = $1::int AND organization_id = $2",
                     3, p);
    if (ok && (row.disabled || strcmp(row.state, "closed") != 0)) {
        char why[300];
        adb__fmt(why, sizeof(why), "enabled by %s", by);
        ok = transition(c, idt, org, now, row.disabled ? "disabled" : row.state, "closed", why);
    }
    if (ok) {
        PGresult *r = run(c,
                          "UPDATE delivery_queue SET status = 'pending', scheduled_at = " TS(3) ","
                          " next_retry_at = NULL, updated_at = now()"
                          " WHERE destination_id = $1::int AND organization_id = $2"
                          " AND status = 'held'",
                          3, p);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (ok && released)
            *released = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        if (ok)
            ok = run_ok(c, "SELECT pg_notify('auditdb_delivery', $1)", 1, p);
    }
    if (!tx_end(c, own, ok))
        return ADB_ERR_DB_QUERY;
    if (row.disabled)
        notice(h, org, id, "delivery.destination.enabled", "enabled again", by,
               released ? *released : 0);
    return ADB_OK;
}

/* ---- after an attempt ------------------------------------------------------ */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Appends ms to metadata.responseTimesMs (the last SAMPLES_MAX) and computes
 * the average and the nearest-rank p95/p99 over them. */
static void samples(json_t *meta, int ms, int *avg, int *p95, int *p99)
{
    json_t *a = json_object_get(meta, "responseTimesMs");
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(meta, "responseTimesMs", a);
    }
    json_array_append_new(a, json_integer(ms));
    while (json_array_size(a) > SAMPLES_MAX)
        json_array_remove(a, 0);
    size_t n = json_array_size(a);
    int v[SAMPLES_MAX];
    long long sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && k < SAMPLES_MAX; i++) {
        json_t *e = json_array_get(a, i);
        if (json_is_integer(e)) {
            v[k] = (int)json_integer_value(e);
            sum += v[k++];
        }
    }
    if (!k) {
        *avg = *p95 = *p99 = ms;
        return;
    }
    qsort(v, k, sizeof(int), cmp_int);
    *avg = (int)((sum + (long long)k / 2) / (long long)k);
    size_t r95 = (k * 95 + 99) / 100, r99 = (k * 99 + 99) / 100;   /* nearest rank, 1-based */
    *p95 = v[(r95 ? r95 : 1) - 1];
    *p99 = v[(r99 ? r99 : 1) - 1];
}

/* The common case in one statement: a success to an enabled destination
 * whose breaker is closed changes no state, only the counters, the window and
 * the response times, and needs no transition, alert or disable. The row is
 * locked for this statement only (not across round trips), so threads that
 * deliver to one destination do not queue behind each other's round trips.
 * The same arithmetic as the full path below (tests/unit/test_breaker.c
 * checks both). false: not that case (or no row yet): take the full path. */
static bool record_success_fast(PGconn *c, const char *org, const char *idt, const char *now,
                                const int *ms, int k, int window_s)
{
    char msv[16 * 100 + 8], ws[16], kt[16];
    size_t off = 0;
    int first = k > SAMPLES_MAX ? k - SAMPLES_MAX : 0;
    msv[off++] = '[';
    for (int i = first; i < k; i++)
        off += (size_t)snprintf(msv + off, sizeof(msv) - off, "%s%d", i > first ? "," : "", ms[i]);
    adb__fmt(msv + off, sizeof(msv) - off, "]");
    adb__fmt(ws, sizeof(ws), "%d", window_s);
    adb__fmt(kt, sizeof(kt), "%d", k);
    const char *p[] = { idt, org, now, msv, ws, kt };
    PGresult *r = run(c,
        "WITH cur AS ("
        "  SELECT h.destination_id, h.total_deliveries, h.total_failures, h.window_started_at,"
        "   (SELECT coalesce(jsonb_agg(e ORDER BY o), '[]'::jsonb) FROM ("
        "      SELECT e, o FROM jsonb_array_elements("
        "        CASE WHEN jsonb_typeof(h.metadata->'responseTimesMs') = 'array'"
        "        THEN h.metadata->'responseTimesMs' ELSE '[]'::jsonb END || $4::jsonb)"
        "        WITH ORDINALITY AS t(e, o) ORDER BY o DESC LIMIT " ADB_STR(SAMPLES_MAX) ") s) AS rt"
        "  FROM destination_health h JOIN delivery_destinations d ON d.id = h.destination_id"
        "  WHERE h.destination_id = $1::int AND h.organization_id = $2 AND d.deleted_at IS NULL"
        "  AND d.disabled = 'false' AND h.circuit_breaker_state = 'closed' AND h.status <> 'disabled'"
        "  FOR UPDATE OF h),"
        " t AS (SELECT cur.*, (SELECT round(avg(v))::int FROM (SELECT (e::text)::int v FROM jsonb_array_elements(cur.rt) e"
        "          WHERE jsonb_typeof(e) = 'number') x) AS av,"
        "   (SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY v) FROM (SELECT (e::text)::int v"
        "          FROM jsonb_array_elements(cur.rt) e WHERE jsonb_typeof(e) = 'number') x) AS p95,"
        "   (SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY v) FROM (SELECT (e::text)::int v"
        "          FROM jsonb_array_elements(cur.rt) e WHERE jsonb_typeof(e) = 'number') x) AS p99,"
        "   cur.window_started_at IS NULL OR cur.window_started_at <= " TS(3) " - make_interval(secs => $5::int)"
        "     OR extract(epoch FROM cur.window_started_at) = 0 AS fresh"
        "   FROM cur)"
        " UPDATE destination_health h SET status = 'healthy', last_check_at = " TS(3) ","
        "  total_deliveries = t.total_deliveries + $6::int, consecutive_failures = 0,"
        "  success_rate = round(100.0 * (t.total_deliveries + $6::int - t.total_failures)"
        "                 / (t.total_deliveries + $6::int), 2)::text,"
        "  average_response_time = coalesce(t.av, 0), p95_response_time = coalesce(t.p95, 0),"
        "  p99_response_time = coalesce(t.p99, 0), last_success_at = " TS(3) ", failing_since = NULL,"
        "  window_started_at = CASE WHEN t.fresh THEN " TS(3) " ELSE h.window_started_at END,"
        "  window_total = CASE WHEN t.fresh THEN $6::int ELSE h.window_total + $6::int END,"
        "  window_failures = CASE WHEN t.fresh THEN 0 ELSE h.window_failures END,"
        "  circuit_breaker_opened_at = NULL,"
        "  metadata = h.metadata || jsonb_build_object('responseTimesMs', t.rt), updated_at = now()"
        " FROM t WHERE h.destination_id = t.destination_id RETURNING 1",
        6, p);
    bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return done;
}

adb_status adb__health_record_successes(adb *h, PGconn *c, const adb__dest *d, const int *ms,
                                        int k, int64_t now_ms)
{
    adb__breaker_config cfg;
    char idt[16], now[24];
    if (k <= 0)
        return ADB_OK;
    adb__breaker_config_of(d->config, &cfg);
    adb__fmt(idt, sizeof(idt), "%d", d->id);
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);
    if (PQtransactionStatus(c) == PQTRANS_IDLE && record_success_fast(c, d->org, idt, now, ms, k, cfg.window_s))
        return ADB_OK;
    /* not closed any more (or no row yet): each through the full path */
    adb_status st = ADB_OK;
    for (int i = 0; i < k && st == ADB_OK; i++) {
        adb__attempt a;
        memset(&a, 0, sizeof(a));
        a.ok = true;
        a.retry_after_s = -1;
        a.elapsed_ms = ms[i];
        st = adb__health_record(h, c, d, &a, now_ms);
    }
    return st;
}

adb_status adb__health_record(adb *h, PGconn *c, const adb__dest *d, const adb__attempt *a,
                              int64_t now_ms)
{
    adb__breaker_config cfg;
    char idt[16], now[24];
    hrow row;
    bool own, fail = !a->ok;
    adb_status st;

    adb__breaker_config_of(d->config, &cfg);
    adb__fmt(idt, sizeof(idt), "%d", d->id);
    adb__fmt(now, sizeof(now), "%" PRId64, now_ms);
    int one = a->elapsed_ms < 0 ? 0 : a->elapsed_ms > 3.6e6 ? 3600000 : (int)(a->elapsed_ms + 0.5);
    if (!fail && !a->gone && PQtransactionStatus(c) == PQTRANS_IDLE &&
        record_success_fast(c, d->org, idt, now, &one, 1, cfg.window_s))
        return ADB_OK;
    if (!tx_begin(c, &own))
        return ADB_ERR_DB_QUERY;
    st = row_read(c, d->org, idt, now_ms, true, &row);
    if (st != ADB_OK) {
        tx_end(c, own, false);
        return st;
    }

    /* counters and the window (tumbling: a fresh one once window_s passed) */
    row.total++;
    row.consecutive = fail ? row.consecutive + 1 : 0;
    if (fail)
        row.total_failures++;
    if (!row.window_ms || now_ms - row.window_ms >= cfg.window_s * 1000LL) {
        row.window_ms = now_ms;
        row.window_total = row.window_failures = 0;
    }
    row.window_total++;
    if (fail)
        row.window_failures++;
    if (fail && !row.failing_ms)
        row.failing_ms = now_ms;
    else if (!fail)
        row.failing_ms = 0;
    int ms = a->elapsed_ms < 0 ? 0 : a->elapsed_ms > 3.6e6 ? 3600000 : (int)(a->elapsed_ms + 0.5);
    int avg, p95, p99;
    samples(row.meta, ms, &avg, &p95, &p99);
    if (fail) {
        json_object_set_new(row.meta, "lastError", json_string(a->error[0] ? a->error : "failed"));
        json_object_set_new(row.meta, "lastHttpStatus", json_integer(a->http_status));
    }

    /* the breaker */
    bool half_open = strcmp(row.state, "half-open") == 0;
    const char *to = row.state;   /* the state after this attempt */
    char why[400] = "";
    if (!row.disabled && half_open) {
        if (fail) {
            to = "open";
            adb__fmt(why, sizeof(why), "probe failed: %s", a->error[0] ? a->error : "failed");
        } else {
            to = "closed";
            adb__fmt(why, sizeof(why), "probe succeeded");
            row.window_ms = now_ms;
            row.window_total = row.window_failures = 0;
        }
        json_object_del(row.meta, "probeUntil");
    } else if (!row.disabled && strcmp(row.state, "closed") == 0 && fail &&
               row.window_total >= cfg.min_volume &&
               row.window_failures * 100 >= (long long)cfg.failure_rate_pct * row.window_total) {
        to = "open";
        adb__fmt(why, sizeof(why),
                 "failure rate %lld%% (%lld of %lld attempts in the window) reached the"
                 " threshold of %d%% (minimum volume %d, window %d s); last error: %s",
                 row.window_failures * 100 / row.window_total, row.window_failures,
                 row.window_total, cfg.failure_rate_pct, cfg.min_volume, cfg.window_s,
                 a->error[0] ? a->error : "failed");
    }
    bool moved = to != row.state;   /* set to a literal above only when it changes */
    bool open = moved ? to[0] == 'o' : strcmp(row.state, "open") == 0;
    bool still_half = !moved && half_open;
    const char *status = row.disabled ? "disabled"
                         : open ? "unhealthy"
                         : still_half || row.consecutive > 0 ? "degraded"
                                                             : "healthy";

    char *mt = json_dumps(row.meta, JSON_COMPACT);
    char tot[24], tf[24], cons[24], rate[16], av[16], q95[16], q99[16], fs[24], ws[24], wt[24],
        wf[24];
    adb__fmt(tot, sizeof(tot), "%lld", row.total);
    adb__fmt(tf, sizeof(tf), "%lld", row.total_failures);
    adb__fmt(cons, sizeof(cons), "%lld", row.consecutive);
    adb__fmt(rate, sizeof(rate), "%.2f",
             row.total ? 100.0 * (double)(row.total - row.total_failures) / (double)row.total
                       : 0.0);
    adb__fmt(av, sizeof(av), "%d", avg);
    adb__fmt(q95, sizeof(q95), "%d", p95);
    adb__fmt(q99, sizeof(q99), "%d", p99);
    adb__fmt(fs, sizeof(fs), "%" PRId64, row.failing_ms);
    adb__fmt(ws, sizeof(ws), "%" PRId64, row.window_ms);
    adb__fmt(wt, sizeof(wt), "%lld", row.window_total);
    adb__fmt(wf, sizeof(wf), "%lld", row.window_failures);
    const char *p[] = { idt, now, status, tot, tf, cons, rate, av, q95, q99,
                        fs, ws, wt, wf, to, moved ? "t" : "f", fail ? "t" : "f", mt };
    bool ok = mt && run_ok(c,
        "UPDATE destination_health SET status = $3, last_check_at = " TS(2) ","
        " total_deliveries = $4::int, total_failures = $5::int, consecutive_failures = $6::int,"
        " success_rate = $7, average_response_time = $8::int, p95_response_time = $9::int,"
        " p99_response_time = $10::int,"
        " last_failure_at = CASE WHEN $17::bool THEN " TS(2) " ELSE last_failure_at END,"
        " last_success_at = CASE WHEN $17::bool THEN last_success_at ELSE " TS(2) " END,"
        " failing_since = CASE WHEN $11::bigint = 0 THEN NULL"
        " ELSE to_timestamp($11::float8 / 1000) END,"
        " window_started_at = to_timestamp($12::float8 / 1000), window_total = $13::int,"
        " window_failures = $14::int, circuit_breaker_state = $15::text,"
        " circuit_breaker_opened_at = CASE WHEN $16::bool AND $15::text = 'open' THEN " TS(2)
        " WHEN $15::text = 'closed' THEN NULL ELSE circuit_breaker_opened_at END,"
        " metadata = $18::jsonb, updated_at = now() WHERE destination_id = $1::int",
        18, p);
    free(mt);
    if (ok && moved)
        ok = transition(c, idt, d->org, now, row.state, to, why);

    /* disabling: 410, or failure without a success for disable_after_s */
    char reason[400] = "";
    if (!row.disabled && a->gone)
        adb__fmt(reason, sizeof(reason), "the destination answered %d: it is gone",
                 a->http_status ? a->http_status : 410);
    else if (!row.disabled && fail && row.failing_ms &&
             now_ms - row.failing_ms >= cfg.disable_after_s * 1000LL)
        adb__fmt(reason, sizeof(reason),
                 "continuous failure for %" PRId64 " s (limit %d s, %lld consecutive"
                 " failures); last error: %s", (now_ms - row.failing_ms) / 1000,
                 cfg.disable_after_s, row.consecutive, a->error[0] ? a->error : "failed");
    long long held = 0;
    if (ok && reason[0])
        ok = disable_in_tx(c, d->org, idt, now, to, reason, DELIVERY_PRINCIPAL, &held);
    json_decref(row.meta);
    if (!tx_end(c, own, ok))
        return ADB_ERR_DB_QUERY;
    if (reason[0])
        notice(h, d->org, d->id, "delivery.destination.disabled", reason, DELIVERY_PRINCIPAL,
               held);
    return ADB_OK;
}
