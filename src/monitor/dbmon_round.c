/*
 * dbmon_round.c - the periodic round of database monitoring in serve: reads
 * the figures on one of the owner's connections, raises each finding as an
 * alert of the process-wide pseudo-organization ADB_PROCESS_ORG (one
 * transaction: all of a round's alerts or none), and keeps the figures for
 * /metrics. A finding still there next round folds into its open alert
 * (same deduplication key), so an alert counts the rounds that saw it.
 * Cheap: catalog and statistics views, and EXPLAINs (no statement runs).
 */
#include "dbmon.h"
#include "../alert/alert.h"
#include "../core/adb_internal.h"
#include "../core/ticker.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* process-wide figures, as the database is (one per process) */
static pthread_mutex_t fig_mu = PTHREAD_MUTEX_INITIALIZER;
static adb__dbmon_figures fig;
static json_t *last_findings;

static adb__dbmon_opts cur_opts;
static bool cur_set;

void adb__dbmon_set_opts(const adb__dbmon_opts *o)
{
    pthread_mutex_lock(&fig_mu);
    cur_opts = *o;
    cur_set = true;
    pthread_mutex_unlock(&fig_mu);
}

void adb__dbmon_get_opts(adb__dbmon_opts *out)
{
    pthread_mutex_lock(&fig_mu);
    if (cur_set)
        *out = cur_opts;
    else
        adb__dbmon_opts_default(out);
    pthread_mutex_unlock(&fig_mu);
}

void adb__dbmon_figures_get(adb *h, adb__dbmon_figures *out)
{
    (void)h;
    pthread_mutex_lock(&fig_mu);
    *out = fig;
    pthread_mutex_unlock(&fig_mu);
}

json_t *adb__dbmon_last_findings(adb *h)
{
    (void)h;
    pthread_mutex_lock(&fig_mu);
    json_t *f = last_findings ? json_incref(last_findings) : json_array();
    pthread_mutex_unlock(&fig_mu);
    return f;
}

static void log_line(adb *h, const char *level, const char *event, const char *message)
{
    FILE *f = h->o.log;
    if (!f)
        return;
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", ts, "level", level, "component",
                          "dbmon", "event", event, "message", message);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text) {
        fprintf(f, "%s\n", text);
        fflush(f);
    }
    free(text);
    json_decref(j);
}

static long long count_true(const json_t *a, const char *member)
{
    long long n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        json_t *v = json_object_get(e, member);
        n += json_is_true(v) || json_is_string(v);
    }
    return n;
}

/* The kinds of finding this round looked at: a kind whose source the server
 * does not offer (slow statements without pg_stat_statements, suggestions
 * without hypopg) was not looked at, so its alerts are left as they are. */
static json_t *kinds_looked_at(const adb__dbmon_caps *caps)
{
    json_t *k = json_pack("[s, s, s, s, s]", "dbmon/xid-age/", "dbmon/autovacuum-lag/", "dbmon/bloat/",
                          "dbmon/duplicate-index/", "dbmon/unused-index/");
    if (k && caps->pss)
        json_array_append_new(k, json_string("dbmon/slow-query/"));
    if (k && caps->pss && caps->hypopg)
        json_array_append_new(k, json_string("dbmon/missing-index/"));
    return k;
}

/* Raises every finding in one transaction on c, and resolves the open alerts
 * of the kinds looked at whose finding is gone (*resolved); the number
 * raised, -1 on a failure (rolled back, why in err). */
static int raise_all(PGconn *c, const json_t *findings, const adb__dbmon_caps *caps, int *resolved,
                     char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "BEGIN");
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!good) {
        adb__fmt(err, errlen, "could not begin: %s", PQerrorMessage(c));
        return -1;
    }
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(findings, i, e) {
        char *meta = json_dumps(json_object_get(e, "metadata"), JSON_COMPACT);
        adb__alert_trigger t = {
            .org = ADB_PROCESS_ORG,
            .source = "auditdb-dbmon",
            .dedup_key = json_string_value(json_object_get(e, "key")),
            .severity = json_string_value(json_object_get(e, "severity")),
            .type = json_string_value(json_object_get(e, "type")),
            .title = json_string_value(json_object_get(e, "title")),
            .description = json_string_value(json_object_get(e, "description")),
            .metadata_json = meta,
        };
        adb_status st = adb__alert_raise(c, &t, NULL, NULL, err, errlen);
        free(meta);
        if (st != ADB_OK) {
            r = PQexec(c, "ROLLBACK");
            PQclear(r);
            return -1;
        }
        n++;
    }
    /* a finding that is gone (the index built, the table vacuumed) resolves its alert */
    json_t *looked = kinds_looked_at(caps), *keys = json_array();
    json_array_foreach(findings, i, e)
        json_array_append(keys, json_object_get(e, "key"));
    adb_status rst = looked && keys
        ? adb__alert_resolve_absent(c, ADB_PROCESS_ORG, "auditdb-dbmon", looked, keys, "auditdb-dbmon",
                                    "the finding is gone: the last database monitoring round did not find it",
                                    resolved, err, errlen)
        : ADB_ERR_NOMEM;
    json_decref(looked);
    json_decref(keys);
    if (rst != ADB_OK) {
        r = PQexec(c, "ROLLBACK");
        PQclear(r);
        return -1;
    }
    r = PQexec(c, "COMMIT");
    good = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!good) {
        adb__fmt(err, errlen, "could not commit: %s", PQerrorMessage(c));
        return -1;
    }
    return n;
}

adb_status adb__dbmon_round(adb *h, const adb__dbmon_opts *o, char *err, size_t errlen)
{
    adb_status st = ADB_OK;
    double t0 = adb__now_ms();
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, err, errlen);
    json_t *db = NULL, *tables = NULL, *indexes = NULL, *slow = NULL, *sugg = NULL, *found = NULL;
    adb__dbmon_caps caps;
    int raised = 0, resolved = 0;

    if (!c)
        goto out;
    adb__dbmon_caps_read(c, &caps);
    if (!(db = adb__dbmon_database(c, err, errlen)) || !(tables = adb__dbmon_tables(c, err, errlen)) ||
        !(indexes = adb__dbmon_indexes(c, err, errlen)) ||
        !(slow = adb__dbmon_slow_queries(c, &caps, o->slow_ms, 50, err, errlen)) ||
        !(sugg = adb__dbmon_suggestions(c, &caps, o, err, errlen)) ||
        !(found = adb__dbmon_findings(db, tables, indexes, slow, sugg, o))) {
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    if ((raised = raise_all(c, found, &caps, &resolved, err, errlen)) < 0) {
        st = ADB_ERR_DB_QUERY;
        raised = resolved = 0;
    }
out:
    if (c)
        adb_pool_release(adb__pool(h), c);
    pthread_mutex_lock(&fig_mu);
    fig.rounds++;
    fig.last_round_ms = adb__now_ms() - t0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    fig.last_round_at_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (st != ADB_OK)
        fig.round_failures++;
    if (db) {
        fig.pss = caps.pss;
        fig.hypopg = caps.hypopg;
        fig.xid_age = (long long)json_integer_value(json_object_get(db, "xidAge"));
        fig.database_bytes = (int64_t)json_integer_value(json_object_get(db, "sizeBytes"));
    }
    if (tables) {
        fig.tables_vacuum_due = count_true(tables, "autovacuumDue");
        long long dead = 0;
        size_t i;
        json_t *e;
        json_array_foreach(tables, i, e)
            dead += (long long)json_integer_value(json_object_get(e, "deadTuples"));
        fig.dead_tuples = dead;
    }
    if (indexes) {
        fig.unused_indexes = count_true(indexes, "unused");
        fig.duplicate_indexes = count_true(indexes, "duplicateOf");
    }
    if (slow)
        fig.slow_queries = (long long)json_array_size(slow);
    if (sugg)
        fig.suggestions = (long long)json_array_size(sugg);
    if (found) {
        fig.findings = (long long)json_array_size(found);
        json_decref(last_findings);
        last_findings = json_incref(found);
    }
    fig.alerts_raised += raised;
    fig.alerts_resolved += resolved;
    pthread_mutex_unlock(&fig_mu);
    json_decref(db);
    json_decref(tables);
    json_decref(indexes);
    json_decref(slow);
    json_decref(sugg);
    json_decref(found);
    return st;
}

struct adb__dbmon {
    adb *h;
    adb__dbmon_opts o;
    adb__ticker *ticker;
    bool failing; /* the last round failed: said once, not every round */
};

static void tick(void *arg)
{
    adb__dbmon *m = arg;
    char err[512] = "";
    if (adb__dbmon_round(m->h, &m->o, err, sizeof(err)) != ADB_OK) {
        if (!m->failing)
            log_line(m->h, "error", "round_failed", adb__oneline(err));
        m->failing = true;
    } else if (m->failing) {
        log_line(m->h, "info", "round_ok", "database monitoring rounds succeed again");
        m->failing = false;
    }
}

adb__dbmon *adb__dbmon_start(adb *h, const adb__dbmon_opts *o, char *err, size_t errlen)
{
    adb__dbmon *m = calloc(1, sizeof(*m));
    if (!m) {
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    m->h = h;
    m->o = *o;
    if (!(m->ticker = adb__ticker_start(o->interval_s > 0 ? o->interval_s : 300, tick, m))) {
        adb__fmt(err, errlen, "could not start the database monitoring thread");
        free(m);
        return NULL;
    }
    return m;
}

void adb__dbmon_stop(adb__dbmon *m)
{
    if (!m)
        return;
    adb__ticker_stop(m->ticker);
    free(m);
}
