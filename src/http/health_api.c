/*
 * health_api.c - the health service under /api/v1/health, in the shapes
 * smart-logs' client reads (docs/api.md, "Health service"; who may call
 * what: docs/auth.md). Every answer comes from checks run at the request:
 * a database round trip bounded to 800 ms (adb_pool_ping), Redis bounded
 * to 250 ms, the writer's queue and the pool read from memory; so, run on
 * the probes' threads (server.c), they answer within a second even while
 * PostgreSQL is frozen. Each result is kept in an in-memory ring
 * (health_history.c) for history and metrics.
 */
#include "http.h"
#include "health_config.h"
#include "health_history.h"
#include "ratelimit.h"
#include "log_health.h"
#include "../core/util.h"
#include "../event/event.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* a check's 800 ms bound and its one reconnect (docs/pool.md); Redis's 250 ms
 * (docs/auth.md, "Rate limits"). The thresholds an operator may change
 * (the database check's timeout, when the writer or the database is
 * degraded, which components are judged) are read from health_config.c
 * at each check. */
#define DB_TIMEOUT_MS ADB_HEALTH_PROBE_BOUND_MS
#define REDIS_TIMEOUT_MS 250

enum { C_DATABASE, C_REDIS, C_AUDIT, NCOMP };
#define comp_names adb_health_component_names

typedef struct component {
    const char *status;   /* healthy, degraded, unhealthy */
    double ms;            /* how long the check took */
    char message[ADB_ERRMSG_MAX + 96];
    bool failed;          /* message says what failed */
    bool configured;      /* false: Redis is not used */
    json_t *details;      /* owned */
} component;

typedef struct health_run {
    component c[NCOMP];
    const char *overall;
    char ts[40];
} health_run;

static const char *environment(void)
{
    const char *e = getenv("AUDITDB_ENVIRONMENT");
    return e && *e ? e : "production";
}

static double uptime_s(adb_http_request *req)
{
    return (adb__now_ms() - req->state->started_ms) / 1000.0;
}

/* Unix milliseconds as 2026-01-02T03:04:05.678Z (the client's datetime). */
static void iso_ms(double unix_ms, char out[40])
{
    time_t secs = (time_t)(unix_ms / 1000.0);
    struct tm tm;

    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03dZ", (int)fmod(unix_ms, 1000.0));
}

static double unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000L);
}

static void check_database(adb_http_state *st, component *c)
{
    char err[ADB_ERRMSG_MAX];
    adb_pool_stats ps;
    double latency = 0, t0 = adb__now_ms();
    adb_status rc = adb_pool_ping(st->pool, &latency, err, sizeof(err));

    adb_health_settings hs;

    c->ms = adb__now_ms() - t0;
    adb_health_settings_get(&hs);
    adb_pool_get_stats(st->pool, &ps);
    c->configured = true;
    /* the probe is bounded to 800 ms; an operator's timeout may be shorter */
    if (rc == ADB_OK && latency > hs.timeout_ms) {
        rc = ADB_ERR_DB_CONNECT;
        adb__fmt(err, sizeof(err), "PostgreSQL answered in %.0f ms, past the check's timeout of %d ms", latency,
                 hs.timeout_ms);
    }
    bool slow = rc == ADB_OK && hs.db_latency_degraded_ms > 0 && latency >= hs.db_latency_degraded_ms;
    c->status = rc != ADB_OK ? "unhealthy" : slow ? "degraded" : "healthy";
    c->failed = rc != ADB_OK; /* slow: degraded, but it answered (ready, connectivity) */
    if (slow)
        adb__fmt(c->message, sizeof(c->message), "PostgreSQL answered in %.0f ms, slower than the %d ms "
                 "threshold (alertThresholds.databaseLatencyDegradedMs)", latency, hs.db_latency_degraded_ms);
    else
        adb__fmt(c->message, sizeof(c->message), "%s", rc == ADB_OK ? "PostgreSQL answered" : err);
    c->details = json_pack("{s:s, s:f, s:{s:i, s:i, s:i, s:I, s:I}}", "mode",
                           st->embedded ? "embedded" : "external", "latencyMs", rc == ADB_OK ? latency : 0.0,
                           "pool", "open", ps.open, "idle", ps.idle, "max", ps.max, "reconnects",
                           (json_int_t)ps.reconnects, "timeouts", (json_int_t)ps.timeouts);
}

static void check_redis(adb_http_state *st, component *c)
{
    char err[ADB_ERRMSG_MAX];
    double ms = 0;
    int r = adb_ratelimit_redis_check(st->ratelimit, &ms, err, sizeof(err));

    c->ms = r < 0 ? 0 : ms;
    c->configured = r >= 0;
    c->status = r == 0 ? "degraded" : "healthy"; /* only the shared rate limits need it */
    c->failed = r == 0;
    if (r < 0)
        adb__fmt(c->message, sizeof(c->message), "not configured: rate limits are kept per instance");
    else if (r > 0)
        adb__fmt(c->message, sizeof(c->message), "Redis answered");
    else
        adb__fmt(c->message, sizeof(c->message), "%s; rate limits are kept per instance meanwhile", err);
    c->details = json_pack("{s:b, s:s}", "configured", r >= 0, "use", "rate limits shared by instances");
}

/* The writer that commits events: its queue, read from memory; and the
 * verifiable log that follows it. */
static void check_audit(adb_http_state *st, bool db_up, component *c)
{
    adb_writer_stats ws;
    double t0 = adb__now_ms();

    adb_writer_get_stats(st->db, &ws);
    c->ms = adb__now_ms() - t0;
    c->configured = true;
    adb_health_settings hs;
    adb_health_settings_get(&hs);
    int fill = ws.queue_max > 0 ? (int)(100LL * ws.queue_depth / ws.queue_max) : 0;
    bool full = fill >= hs.queue_degraded_percent, log_failing = false;
    char log_why[200] = "";
    /* figures of every organization: no organization's id or error here
     * (health:read is an organization's permission) */
    json_t *log = adb_http_log_health(st->db, false, &log_failing, log_why, sizeof(log_why));
    c->status = !db_up ? "unhealthy" : full || log_failing ? "degraded" : "healthy";
    c->failed = !db_up || full || log_failing;
    if (!db_up)
        adb__fmt(c->message, sizeof(c->message), "events cannot be committed: the database does not answer");
    else if (full)
        adb__fmt(c->message, sizeof(c->message), "the writer's queue is %d %% full or more: creates may be "
                 "refused with 503", hs.queue_degraded_percent);
    else if (log_failing)
        adb__fmt(c->message, sizeof(c->message), "%s", log_why);
    else
        adb__fmt(c->message, sizeof(c->message), "the writer commits events");
    c->details = json_pack("{s:i, s:i, s:i, s:o}", "queueDepth", ws.queue_depth, "queueCapacity",
                           ws.queue_max, "queueFillPercent", fill, "log", log);
}

/* Runs the checks (all of them bounded), records them, and sets overall:
 * unhealthy if one is, else degraded if one is. */
static void run_checks(adb_http_request *req, health_run *r)
{
    adb_http_state *st = req->state;

    memset(r, 0, sizeof(*r));
    check_database(st, &r->c[C_DATABASE]);
    check_redis(st, &r->c[C_REDIS]);
    check_audit(st, strcmp(r->c[C_DATABASE].status, "unhealthy") != 0, &r->c[C_AUDIT]);
    adb_http_iso_now(r->ts);
    r->overall = "healthy";
    adb_health_settings hs;
    adb_health_settings_get(&hs);
    for (int i = 0; i < NCOMP; i++) {
        const char *s = r->c[i].status;
        adb_http_health_record(st->health, comp_names[i], s, r->c[i].ms);
        if (!hs.enabled[i]) /* not judged (enabledChecks) */
            continue;
        if (!strcmp(s, "unhealthy"))
            r->overall = "unhealthy";
        else if (!strcmp(s, "degraded") && strcmp(r->overall, "unhealthy") != 0)
            r->overall = "degraded";
    }
}

static void run_free(health_run *r)
{
    for (int i = 0; i < NCOMP; i++)
        json_decref(r->c[i].details);
}

/* One component: the client's ComponentHealth and the original's
 * HealthCheck at once (lastCheck for the one, lastChecked for the other). */
static json_t *component_json(const health_run *r, int i)
{
    const component *c = &r->c[i];
    json_t *o = json_pack("{s:s, s:s, s:f, s:s, s:s, s:s, s:O}", "name", comp_names[i], "status",
                          c->status, "responseTime", c->ms, "message", c->message, "lastCheck", r->ts,
                          "lastChecked", r->ts, "details", c->details);
    if (o && c->failed)
        json_object_set_new(o, "errorMessage", json_string(c->message));
    return o;
}

static int component_index(const char *name)
{
    for (int i = 0; i < NCOMP; i++)
        if (!strcmp(name, comp_names[i]))
            return i;
    return -1;
}

static enum MHD_Result not_found(adb_http_request *req, const char *what, const char *name,
                                 const char *const *known, int nknown)
{
    char msg[160], shown[72];
    json_t *k = json_array();

    adb__fmt(shown, sizeof(shown), "%.64s", name);
    adb__utf8_repair(shown);
    adb__fmt(msg, sizeof(msg), "no %s named \"%s\"", what, shown);
    for (int i = 0; i < nknown; i++)
        json_array_append_new(k, json_string(known[i]));
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg,
                               json_pack("{s:s, s:o}", what, shown, "known", k));
}

/* The options smart-logs' client sends with check and detailed (its
 * HealthCheckConfig), each checked: componentChecks lists the components
 * to answer for (the whole is judged on them), includeDetails=false leaves
 * out each component's details. Dependencies are always checked and the
 * bounds are fixed (800 ms, 250 ms): a timeout is taken (1-60000 ms) but
 * never needed. */
typedef struct health_opts {
    bool want[NCOMP];
    bool details;
} health_opts;

static bool flag_arg(adb_http_request *req, const char *name, bool dflt, bool *out, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    char msg[96];

    *out = dflt;
    if (!v || !strcmp(v, "true") || !strcmp(v, "false")) {
        *out = v ? !strcmp(v, "true") : dflt;
        return true;
    }
    adb__fmt(msg, sizeof(msg), "%s must be true or false", name);
    *res = adb_http_send_invalid(req, name, "INVALID_VALUE", msg);
    return false;
}

static bool health_options(adb_http_request *req, health_opts *o, enum MHD_Result *res)
{
    const char *t = adb_http_arg(req, "timeout"), *cc = adb_http_arg(req, "componentChecks");
    long long ms;
    bool deps;

    adb_health_settings hs;

    adb_health_settings_get(&hs);
    for (int i = 0; i < NCOMP; i++)
        o->want[i] = hs.enabled[i]; /* enabledChecks, unless componentChecks names them */
    if (!flag_arg(req, "includeDetails", true, &o->details, res) ||
        !flag_arg(req, "checkDependencies", true, &deps, res))
        return false;
    if (t && !adb__parse_int(t, 1, 60000, &ms)) {
        *res = adb_http_send_invalid(req, "timeout", "INVALID_VALUE", "timeout must be a number of milliseconds, 1 to 60000");
        return false;
    }
    if (cc && *cc) {
        for (int i = 0; i < NCOMP; i++)
            o->want[i] = false;
        for (const char *p = cc; *p;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            int k = -1;
            for (int i = 0; i < NCOMP; i++)
                if (strlen(comp_names[i]) == n && !strncmp(p, comp_names[i], n))
                    k = i;
            if (k < 0) {
                *res = adb_http_send_invalid(req, "componentChecks", "INVALID_VALUE",
                               "componentChecks lists components: database, redis, audit");
                return false;
            }
            o->want[k] = true;
            p = e ? e + 1 : p + n;
        }
    }
    return true;
}

/* The overall status of the components asked for. */
static const char *overall_of(const health_run *r, const health_opts *o)
{
    const char *overall = "healthy";

    for (int i = 0; i < NCOMP; i++) {
        if (!o->want[i])
            continue;
        if (!strcmp(r->c[i].status, "unhealthy"))
            overall = "unhealthy";
        else if (!strcmp(r->c[i].status, "degraded") && strcmp(overall, "unhealthy") != 0)
            overall = "degraded";
    }
    return overall;
}

/* ---- public: check, ready, alive, version ------------------------------- */

/* GET /api/v1/health: the client's HealthStatus; 503 when unhealthy. */
enum MHD_Result adb_http_health_check(adb_http_request *req)
{
    health_run r;
    health_opts o;
    enum MHD_Result res = MHD_NO;

    if (!health_options(req, &o, &res))
        return res;
    run_checks(req, &r);
    json_t *checks = json_object();
    for (int i = 0; i < NCOMP; i++) /* statuses only: the figures need a key */
        if (o.want[i])
            json_object_set_new(checks, comp_names[i], json_string(r.c[i].status));
    const char *overall = overall_of(&r, &o);
    json_t *body = json_pack("{s:s, s:s, s:s, s:f, s:s, s:o}", "status", overall, "timestamp", r.ts,
                             "environment", environment(), "uptime", uptime_s(req), "version",
                             adb_version(), "checks", checks);
    bool down = !strcmp(overall, "unhealthy");
    run_free(&r);
    return adb_http_send_json(req, down ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, body);
}

/* Once the schema was seen current it stays so for this process: its set of
 * migrations is fixed and none is ever undone. So later readiness checks
 * need no pooled connection, which a busy pool could make them wait for
 * (up to AUDITDB_POOL_TIMEOUT_MS) instead of answering within a second. */
static atomic_bool migrations_current;

/* GET /api/v1/health/ready: the client's ReadinessStatus. Ready when the
 * database answers and no migration is pending; Redis is reported (cache)
 * but does not decide, as /ready (docs/http.md). */
enum MHD_Result adb_http_health_ready(adb_http_request *req)
{
    adb_http_state *st = req->state;
    char ts[40], err[ADB_ERRMSG_MAX] = "", merr[ADB_ERRMSG_MAX] = "", msg[ADB_ERRMSG_MAX + 64];
    component db = { 0 }, redis = { 0 };
    bool mig_ok = false;
    double mig_ms = 0;

    check_database(st, &db);
    check_redis(st, &redis);
    adb_http_health_record(st->health, "database", db.status, db.ms);
    adb_http_health_record(st->health, "redis", redis.status, redis.ms);
    if (!db.failed && atomic_load(&migrations_current)) {
        mig_ok = true; /* seen current once: stays so (below) */
    } else if (!db.failed) { /* only once the database answered: never a wait on a silent one */
        double t0 = adb__now_ms();
        adb_status rc = ADB_OK;
        int pending = 0;
        PGconn *c = adb_pool_acquire(st->pool, &rc, err, sizeof(err));
        if (c) {
            rc = adb_migrate_check(c, st->migrations, &pending, err, sizeof(err));
            adb_pool_release(st->pool, c);
        }
        mig_ok = c && rc == ADB_OK && pending == 0;
        if (mig_ok)
            atomic_store(&migrations_current, true);
        if (c && rc == ADB_OK && pending > 0)
            adb__fmt(merr, sizeof(merr), "%d migration(s) pending", pending);
        else if (!mig_ok)
            adb__fmt(merr, sizeof(merr), "%s", err);
        mig_ms = adb__now_ms() - t0;
    } else {
        adb__fmt(merr, sizeof(merr), "not checked: the database does not answer");
    }
    bool ready = !db.failed && mig_ok;
    adb_http_iso_now(ts);
    json_t *checks = json_array();
    json_array_append_new(checks, json_pack("{s:s, s:b, s:s, s:f}", "name", "database", "ready", !db.failed,
                                            "message", db.message, "duration", db.ms));
    json_array_append_new(checks, json_pack("{s:s, s:b, s:s, s:f}", "name", "migrations", "ready", mig_ok,
                                            "message", mig_ok ? "the schema is current" : merr,
                                            "duration", mig_ms));
    adb__fmt(msg, sizeof(msg), "%s (does not decide readiness)", redis.message);
    json_array_append_new(checks, json_pack("{s:s, s:b, s:s, s:f}", "name", "cache", "ready", !redis.failed,
                                            "message", msg, "duration", redis.ms));
    json_t *body = json_pack("{s:b, s:s, s:o, s:{s:b, s:b, s:b, s:b}}", "ready", ready, "timestamp", ts,
                             "checks", checks, "dependencies", "database", !db.failed, "cache",
                             !redis.failed, "externalServices", true, "migrations", mig_ok);
    json_decref(db.details);
    json_decref(redis.details);
    return adb_http_send_json(req, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* GET /api/v1/health/alive: the client's LivenessStatus. lastActivity is
 * when this server last finished answering a request. */
enum MHD_Result adb_http_health_alive(adb_http_request *req)
{
    char ts[40], last[40];
    long long la = atomic_load(&req->state->last_activity_ms);

    adb_http_iso_now(ts);
    if (la > 0)
        iso_ms((double)la, last);
    else
        adb__fmt(last, sizeof(last), "%s", ts); /* this request is the first */
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:b, s:s, s:f, s:s, s:s}", "alive", true, "timestamp", ts,
                                        "uptime", uptime_s(req), "lastActivity", last, "message",
                                        "the process answers"));
}

/* The moment this file was compiled, from the compiler's __DATE__ and
 * __TIME__ (UTC when SOURCE_DATE_EPOCH is set or the build runs in UTC). */
static void build_date(char out[40])
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *d = __DATE__, *t = __TIME__; /* "Dec  7 2026", "05:22:01" */
    char mon[4] = { d[0], d[1], d[2], 0 };
    const char *m = strstr(months, mon);
    int day = (d[4] == ' ' ? 0 : d[4] - '0') * 10 + (d[5] - '0');

    adb__fmt(out, 40, "%.4s-%02d-%02dT%.8s.000Z", d + 7, m ? (int)(m - months) / 3 + 1 : 1, day, t);
}

/* GET /api/v1/health/version: the client's VersionInfo. */
enum MHD_Result adb_http_health_version(adb_http_request *req)
{
    char built[40];

    build_date(built);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:s, s:s, s:s}", "version", adb_version(), "buildDate",
                                        built, "environment", environment(), "apiVersion", "v1"));
}

/* ---- health:read ---------------------------------------------------------- */

static json_t *detailed_json(adb_http_request *req, const health_run *r, const health_opts *o)
{
    json_t *services = json_object(), *details = json_object();

    for (int i = 0; i < NCOMP; i++) {
        if (!o->want[i])
            continue;
        json_t *c = component_json(r, i);
        if (!o->details)
            json_object_del(c, "details");
        json_object_set_new(services, comp_names[i], c);
        json_object_set_new(details, comp_names[i], json_string(r->c[i].message));
    }
    return json_pack("{s:s, s:s, s:s, s:f, s:s, s:o, s:o}", "status", overall_of(r, o), "timestamp", r->ts,
                     "environment", environment(), "uptime", uptime_s(req), "version", adb_version(),
                     "services", services, "details", details);
}

/* GET /api/v1/health/detailed: the client's DetailedHealthStatus; 503 when
 * not healthy, as the original's /health/detailed. */
enum MHD_Result adb_http_health_detailed(adb_http_request *req)
{
    health_run r;
    health_opts o;
    enum MHD_Result res = MHD_NO;

    if (!health_options(req, &o, &res))
        return res;
    run_checks(req, &r);
    json_t *body = detailed_json(req, &r, &o);
    bool healthy = !strcmp(overall_of(&r, &o), "healthy");
    run_free(&r);
    return adb_http_send_json(req, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* POST /api/v1/health/check: runs the checks now; 200 with their result
 * (the check ran; its findings are in the body). */
enum MHD_Result adb_http_health_run(adb_http_request *req)
{
    health_run r;
    health_opts all = { { true, true, true }, true };
    adb_health_settings hs;

    adb_health_settings_get(&hs);
    for (int i = 0; i < NCOMP; i++)
        all.want[i] = hs.enabled[i];
    run_checks(req, &r);
    json_t *body = detailed_json(req, &r, &all);
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* GET /api/v1/health/components/{name}: the client's ComponentHealth. */
enum MHD_Result adb_http_health_component(adb_http_request *req)
{
    int i = component_index(req->param[0]);
    health_run r;

    if (i < 0)
        return not_found(req, "component", req->param[0], comp_names, NCOMP);
    run_checks(req, &r);
    json_t *body = component_json(&r, i);
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* The services auditdb itself calls: PostgreSQL, and Redis when configured.
 * No URL is shown: a connection string may hold a password. */
static const char *const dep_names[] = { "postgresql", "redis" };

static json_t *dependency_json(const health_run *r, int dep)
{
    const component *c = &r->c[dep == 0 ? C_DATABASE : C_REDIS];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "name", dep_names[dep], "type",
                          dep == 0 ? "database" : "cache", "status", c->status, "lastChecked", r->ts,
                          "responseTime", c->ms);
    if (o && c->failed)
        json_object_set_new(o, "errorMessage", json_string(c->message));
    return o;
}

/* GET /api/v1/health/dependencies: the client's ServiceDependency[]. */
enum MHD_Result adb_http_health_dependencies(adb_http_request *req)
{
    health_run r;
    json_t *list = json_array();

    run_checks(req, &r);
    json_array_append_new(list, dependency_json(&r, 0));
    if (r.c[C_REDIS].configured)
        json_array_append_new(list, dependency_json(&r, 1));
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, list);
}

/* GET /api/v1/health/dependencies/{name}: one ServiceDependency. */
enum MHD_Result adb_http_health_dependency(adb_http_request *req)
{
    const char *name = req->param[0];
    int dep = !strcmp(name, "postgresql") || !strcmp(name, "database") ? 0
              : !strcmp(name, "redis") || !strcmp(name, "cache")     ? 1
                                                                      : -1;
    health_run r;

    run_checks(req, &r);
    if (dep < 0 || (dep == 1 && !r.c[C_REDIS].configured)) {
        bool redis = r.c[C_REDIS].configured;
        run_free(&r);
        return not_found(req, "dependency", name, dep_names, redis ? 2 : 1);
    }
    json_t *body = dependency_json(&r, dep);
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* A date query parameter (RFC 3339) as Unix ms; *ok false on a bad one
 * (the answer is made). */
static bool date_arg(adb_http_request *req, const char *name, double *out, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    int64_t us;
    char msg[120];

    if (!v)
        return true;
    if (!adb__timestamp_parse(v, strlen(v), &us)) {
        adb__fmt(msg, sizeof(msg), "%s must be an ISO 8601 date-time (2026-01-02T03:04:05.000Z)", name);
        *res = adb_http_send_invalid(req, name, "INVALID_FORMAT", msg);
        return false;
    }
    *out = (double)us / 1000.0;
    return true;
}

/* GET /api/v1/health/history?startDate&endDate&component: the recorded
 * checks of this process (the ring: the last 1024), oldest first. */
enum MHD_Result adb_http_health_get_history(adb_http_request *req)
{
    double from = -INFINITY, to = INFINITY;
    const char *comp = adb_http_arg(req, "component");
    enum MHD_Result res = MHD_NO;
    size_t n;

    if (!date_arg(req, "startDate", &from, &res) || !date_arg(req, "endDate", &to, &res))
        return res;
    if (to < from)
        return adb_http_send_invalid(req, "endDate", "INVALID_RANGE", "endDate is before startDate");
    if (comp && component_index(comp) < 0)
        return not_found(req, "component", comp, comp_names, NCOMP);
    adb_health_sample *s = adb_http_health_samples(req->state->health, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char ts[40];
        if (s[i].at_ms < from || s[i].at_ms > to || (comp && strcmp(comp, s[i].component) != 0))
            continue;
        iso_ms(s[i].at_ms, ts);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:f}", "timestamp", ts, "status", s[i].status,
                                              "component", s[i].component, "responseTime", s[i].response_ms));
    }
    free(s);
    return adb_http_send_json(req, MHD_HTTP_OK, list);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)ceil(p * (double)n);
    return sorted[k == 0 ? 0 : k - 1];
}

/* Figures of the samples [a, b): mean response time, the share unhealthy. */
static void span_figures(const adb_health_sample *s, size_t a, size_t b, double *mean_ms, double *err)
{
    double sum = 0;
    size_t bad = 0;

    for (size_t i = a; i < b; i++) {
        sum += s[i].response_ms;
        bad += !strcmp(s[i].status, "unhealthy");
    }
    *mean_ms = b > a ? sum / (double)(b - a) : 0;
    *err = b > a ? (double)bad / (double)(b - a) : 0;
}

/* GET /api/v1/health/metrics: figures of the recorded checks (the ring),
 * in the client's shape; trends compare its newer half with its older. */
enum MHD_Result adb_http_health_metrics(adb_http_request *req)
{
    size_t n;
    adb_health_sample *s = adb_http_health_samples(req->state->health, &n);
    double *ms = n ? malloc(n * sizeof(double)) : NULL;
    size_t counts[3] = { 0, 0, 0 }, per_bad[NCOMP] = { 0 }, per_n[NCOMP] = { 0 };
    double mean = 0, err = 0;

    if (n && !ms) {
        free(s);
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "out of memory", NULL);
    }
    for (size_t i = 0; i < n; i++) {
        int c = component_index(s[i].component);
        int k = !strcmp(s[i].status, "healthy") ? 0 : !strcmp(s[i].status, "degraded") ? 1 : 2;
        ms[i] = s[i].response_ms;
        counts[k]++;
        if (c >= 0) {
            per_n[c]++;
            per_bad[c] += k == 2;
        }
    }
    span_figures(s, 0, n, &mean, &err);
    qsort(ms, n, sizeof(double), cmp_double);
    double old_ms, old_err, new_ms, new_err;
    span_figures(s, 0, n / 2, &old_ms, &old_err);
    span_figures(s, n / 2, n, &new_ms, &new_err);
    json_t *by_comp = json_object(), *by_dep = json_object();
    for (int c = 0; c < NCOMP; c++)
        json_object_set_new(by_comp, comp_names[c], json_real(per_n[c] ? (double)per_bad[c] / (double)per_n[c] : 0));
    json_object_set_new(by_dep, "postgresql", json_real(per_n[C_DATABASE] ? (double)per_bad[C_DATABASE] / (double)per_n[C_DATABASE] : 0));
    json_object_set_new(by_dep, "redis", json_real(per_n[C_REDIS] ? (double)per_bad[C_REDIS] / (double)per_n[C_REDIS] : 0));
    double up = uptime_s(req), availability = n ? 100.0 * (double)(n - counts[2]) / (double)n : 100.0;
    json_t *body = json_pack(
        "{s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:f}, s:{s:f, s:o, s:o}, s:{s:I, s:I, s:I}, "
        "s:{s:f, s:f, s:f}, s:I}",
        "uptime", "current", up, "average", up, "availability", availability,
        "responseTime", "average", mean, "p50", percentile(ms, n, 0.50), "p95", percentile(ms, n, 0.95),
        "p99", percentile(ms, n, 0.99),
        "errorRates", "total", err, "byComponent", by_comp, "byDependency", by_dep,
        "statusDistribution", "healthy", (json_int_t)counts[0], "degraded", (json_int_t)counts[1],
        "unhealthy", (json_int_t)counts[2],
        "trends", "uptimeTrend", 100.0 * ((1 - new_err) - (1 - old_err)), "responseTimeTrend", new_ms - old_ms,
        "errorRateTrend", new_err - old_err,
        "samples", (json_int_t)n);
    free(ms);
    free(s);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* GET /api/v1/health/status: the client's ApiStatus. Each group of
 * endpoints is as healthy as what it needs (creates: the database and the
 * writer; reads: the database); rateLimit is the caller's own key. */
enum MHD_Result adb_http_health_status(adb_http_request *req)
{
    static const struct { const char *path; int needs[2]; } groups[] = {
        { "POST /api/v1/audit/events", { C_DATABASE, C_AUDIT } },
        { "POST /api/v1/audit/events/bulk", { C_DATABASE, C_AUDIT } },
        { "GET /api/v1/audit/events", { C_DATABASE, C_DATABASE } },
        { "POST /api/v1/audit/events/{id}/verify", { C_DATABASE, C_DATABASE } },
        { "GET /api/v1/archives", { C_DATABASE, C_DATABASE } },
    };
    health_run r;
    size_t n;
    double err_of[NCOMP] = { 0 }, n_of[NCOMP] = { 0 };
    adb_health_sample *s;
    json_t *endpoints = json_object();

    run_checks(req, &r);
    s = adb_http_health_samples(req->state->health, &n);
    for (size_t i = 0; i < n; i++) {
        int c = component_index(s[i].component);
        if (c >= 0) {
            n_of[c]++;
            err_of[c] += !strcmp(s[i].status, "unhealthy");
        }
    }
    free(s);
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        const char *st = "operational";
        double ms = 0, er = 0;
        for (int k = 0; k < 2; k++) {
            const component *c = &r.c[groups[g].needs[k]];
            int ci = groups[g].needs[k];
            if (!strcmp(c->status, "unhealthy"))
                st = "down";
            else if (!strcmp(c->status, "degraded") && strcmp(st, "down") != 0)
                st = "degraded";
            ms = ms > c->ms ? ms : c->ms;
            double e = n_of[ci] ? err_of[ci] / n_of[ci] : 0;
            er = er > e ? er : e;
        }
        json_object_set_new(endpoints, groups[g].path,
                            json_pack("{s:s, s:f, s:f, s:s}", "status", st, "responseTime", ms,
                                      "errorRate", er, "lastChecked", r.ts));
    }
    char reset[40];
    const adb_rl_decision *d = &req->rl;
    iso_ms(req->rl_checked ? (double)d->reset_at * 1000.0 : unix_now_ms(), reset);
    const char *overall = !strcmp(r.overall, "unhealthy") ? "outage"
                          : !strcmp(r.overall, "degraded") ? "degraded" : "operational";
    json_t *body = json_pack("{s:s, s:s, s:o, s:{s:i, s:i, s:i, s:s}}", "status", overall, "timestamp", r.ts,
                             "endpoints", endpoints, "rateLimit", "current",
                             req->rl_checked ? d->limit - d->remaining : 0, "limit",
                             req->rl_checked ? d->limit : 0, "remaining", req->rl_checked ? d->remaining : 0,
                             "resetTime", reset);
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* POST /api/v1/health/cache/reset: auditdb caches no health answer (each
 * request checks anew), so there is nothing to drop; says so. */
enum MHD_Result adb_http_health_cache_reset(adb_http_request *req)
{
    char ts[40];

    adb_http_iso_now(ts);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:b, s:i, s:s, s:s}", "reset", true, "entriesCleared", 0,
                                        "message", "health answers are never cached: every request "
                                                   "runs its checks anew",
                                        "timestamp", ts));
}

/* POST /api/v1/health/connectivity {services?: ["postgresql","redis"]}:
 * connects to each now. */
enum MHD_Result adb_http_health_connectivity(adb_http_request *req)
{
    json_error_t je;
    json_t *in = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : json_object();
    json_t *wanted = in ? json_object_get(in, "services") : NULL;
    bool want[2] = { true, true };
    char msg[160];

    if (!json_is_object(in)) {
        json_decref(in);
        return adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object such as {\"services\":[\"postgresql\"]}");
    }
    if (wanted && !json_is_null(wanted)) {
        size_t i;
        json_t *v;
        if (!json_is_array(wanted)) {
            json_decref(in);
            return adb_http_send_invalid(req, "services", "INVALID_TYPE", "services must be an array of names");
        }
        want[0] = want[1] = false;
        json_array_foreach(wanted, i, v) {
            const char *name = json_string_value(v);
            int k = !name ? -1 : !strcmp(name, "postgresql") || !strcmp(name, "database") ? 0
                               : !strcmp(name, "redis") || !strcmp(name, "cache") ? 1 : -1;
            if (k < 0) {
                char field[32];
                adb__fmt(field, sizeof(field), "services[%zu]", i);
                adb__fmt(msg, sizeof(msg), "%s is not a service auditdb connects to (postgresql, redis)", field);
                json_decref(in);
                return adb_http_send_invalid(req, field, "UNKNOWN_SERVICE", msg);
            }
            want[k] = true;
        }
    }
    json_decref(in);
    health_run r;
    run_checks(req, &r);
    json_t *results = json_array();
    int total = 0, connected = 0;
    double sum = 0;
    for (int k = 0; k < 2; k++) {
        const component *c = &r.c[k == 0 ? C_DATABASE : C_REDIS];
        if (!want[k] || !c->configured)
            continue;
        bool ok = !c->failed;
        /* a check that used its whole bound timed out rather than failed */
        bool timeout = !ok && c->ms >= (k == 0 ? DB_TIMEOUT_MS : REDIS_TIMEOUT_MS) - 5;
        json_t *o = json_pack("{s:s, s:s, s:f, s:O}", "service", dep_names[k], "status",
                              ok ? "connected" : timeout ? "timeout" : "failed", "responseTime", c->ms,
                              "details", c->details);
        if (!ok)
            json_object_set_new(o, "error", json_string(c->message));
        json_array_append_new(results, o);
        total++;
        connected += ok;
        sum += c->ms;
    }
    json_t *body = json_pack("{s:s, s:o, s:{s:i, s:i, s:i, s:f}}", "timestamp", r.ts, "results", results,
                             "summary", "total", total, "connected", connected, "failed", total - connected,
                             "averageResponseTime", total ? sum / total : 0.0);
    run_free(&r);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* GET /api/v1/health/system: the process's own figures (memory, CPU time,
 * the host's load). What would identify or map the host (hostname, network
 * addresses, paths, process ids, kernel release) is left out: it helps an
 * attacker and no tenant needs it; its operator has the host itself. */
enum MHD_Result adb_http_health_system(adb_http_request *req)
{
    struct utsname un;
    struct rusage ru;
    double load[3] = { 0, 0, 0 };
    long rss_pages = 0, size_pages = 0;

    if (uname(&un) != 0)
        memset(&un, 0, sizeof(un));
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        memset(&ru, 0, sizeof(ru));
    if (getloadavg(load, 3) < 0)
        load[0] = load[1] = load[2] = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size_pages, &rss_pages) != 2)
            rss_pages = 0;
        fclose(f);
    }
    struct mallinfo2 mi = mallinfo2();
    long page = sysconf(_SC_PAGESIZE);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack(
        "{s:s, s:s, s:s, s:f, s:{s:I, s:I, s:I}, s:{s:I, s:I}, s:[f, f, f], s:s}",
        "platform", "linux", "architecture", un.machine, "runtime", "auditdb (C, glibc)",
        "uptime", uptime_s(req),
        "memoryUsage", "rss", (json_int_t)rss_pages * page, "heapTotal", (json_int_t)(mi.arena + mi.hblkhd),
        "heapUsed", (json_int_t)(mi.uordblks + mi.hblkhd),
        "cpuUsage", "user", (json_int_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec, "system",
        (json_int_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
        "loadAverage", load[0], load[1], load[2], "environment", environment()));
}
