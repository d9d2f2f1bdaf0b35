/*
 * metrics.c - Prometheus counters: requests by route and status, latency
 * histograms, and the library's writer and pool figures at scrape time.
 */
#include "metrics.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../core/adb_internal.h"
#include "../log/integrator.h"
#include "../monitor/dbmon.h"
#include "../detect/published.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 128
static const double buckets_ms[] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000 };
#define NBUCKETS (sizeof(buckets_ms) / sizeof(buckets_ms[0]))

typedef struct series {
    char method[8];
    char route[64];
    unsigned status;
    long long count;
} series;

typedef struct histo {
    char route[64];
    long long le[NBUCKETS];
    long long count;
    double sum_ms;
} histo;

/* One second of the recent window (/health/detailed's figures). */
typedef struct second {
    long long at;       /* monotonic second it counts, 0: none */
    long long n, errors;
    double sum_ms;
} second;

#define WINDOW_S 60

struct adb_http_metrics {
    pthread_mutex_t mu;
    second w[WINDOW_S];
    long long connections;
    series s[MAX_SERIES];
    int ns;
    histo h[MAX_SERIES];
    int nh;
    long long verify_failures;
};

adb_http_metrics *adb_http_metrics_new(void)
{
    adb_http_metrics *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void adb_http_metrics_free(adb_http_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void adb_http_metrics_request(adb_http_metrics *m, const char *method, const char *route,
                              unsigned status, double ms)
{
    const char *r = route ? route : "unmatched";
    int i;

    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->ns; i++)
        if (m->s[i].status == status && !strcmp(m->s[i].route, r) && !strcmp(m->s[i].method, method))
            break;
    if (i == m->ns && m->ns < MAX_SERIES) {
        adb__fmt(m->s[i].method, sizeof(m->s[i].method), "%s", method);
        adb__fmt(m->s[i].route, sizeof(m->s[i].route), "%s", r);
        m->s[i].status = status;
        m->ns++;
    }
    if (i < m->ns)
        m->s[i].count++;
    for (i = 0; i < m->nh; i++)
        if (!strcmp(m->h[i].route, r))
            break;
    if (i == m->nh && m->nh < MAX_SERIES) {
        adb__fmt(m->h[i].route, sizeof(m->h[i].route), "%s", r);
        m->nh++;
    }
    if (i < m->nh) {
        for (size_t b = 0; b < NBUCKETS; b++)
            if (ms <= buckets_ms[b])
                m->h[i].le[b]++;
        m->h[i].count++;
        m->h[i].sum_ms += ms;
    }
    long long now_s = (long long)(adb__now_ms() / 1000.0);
    second *sec = &m->w[now_s % WINDOW_S];
    if (sec->at != now_s)
        *sec = (second){ .at = now_s };
    sec->n++;
    sec->errors += status >= 500;
    sec->sum_ms += ms;
    pthread_mutex_unlock(&m->mu);
}

void adb_http_metrics_connection(adb_http_metrics *m, int delta)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->connections += delta;
    pthread_mutex_unlock(&m->mu);
}

void adb_http_metrics_recent(adb_http_metrics *m, double uptime_s, adb_http_recent *out)
{
    long long now_s = (long long)(adb__now_ms() / 1000.0), n = 0, errors = 0;
    double sum = 0;

    memset(out, 0, sizeof(*out));
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < WINDOW_S; i++) {
        const second *sec = &m->w[i];
        if (sec->at > now_s - WINDOW_S && sec->at <= now_s) {
            n += sec->n;
            errors += sec->errors;
            sum += sec->sum_ms;
        }
    }
    out->connections = m->connections;
    pthread_mutex_unlock(&m->mu);
    double span = uptime_s < WINDOW_S ? uptime_s : WINDOW_S;
    out->requests_per_s = span > 0 ? (double)n / span : 0;
    out->avg_ms = n > 0 ? sum / (double)n : 0;
    out->error_rate = n > 0 ? (double)errors / (double)n : 0;
}

void adb_http_metrics_verify_failures(adb_http_metrics *m, long long n)
{
    pthread_mutex_lock(&m->mu);
    m->verify_failures += n;
    pthread_mutex_unlock(&m->mu);
}

/* The detection engine's figures (docs/alerts.md "The engine"): its counters,
 * its rate since the previous scrape, and how far it is behind the committed
 * chains (one read of the chain heads against the engine's cursors). Nothing
 * when serve runs no engine. */
static void detect_figures(adb__buf *o, adb *db)
{
    adb__detect_figures f;
    if (!adb__detect_figures_get(&f))
        return;
    long long lag = -1, behind = -1;
    adb_status st;
    PGconn *c = adb_pool_acquire(adb_get_pool(db), &st, NULL, 0);
    if (c) {
        PGresult *r = PQexec(c, "SELECT coalesce(sum(h.last_seq - coalesce(c.position, 0)), 0)::bigint,"
                                " count(*) FROM audit_chain_head h LEFT JOIN detection_cursor c"
                                " ON c.organization_id = h.organization_id AND c.source = 'events'"
                                " WHERE h.last_seq > coalesce(c.position, 0)");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            lag = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            behind = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        }
        PQclear(r);
        adb_pool_release(adb_get_pool(db), c);
    }
    adb__buf_printf(o, "# HELP auditdb_detect_rounds_total Detection rounds (an organization and source each).\n"
             "# TYPE auditdb_detect_rounds_total counter\nauditdb_detect_rounds_total %lld\n"
             "# HELP auditdb_detect_round_failures_total Detection rounds rolled back (retried).\n"
             "# TYPE auditdb_detect_round_failures_total counter\nauditdb_detect_round_failures_total %lld\n"
             "# HELP auditdb_detect_events_evaluated_total Committed rows the rules were evaluated on.\n"
             "# TYPE auditdb_detect_events_evaluated_total counter\nauditdb_detect_events_evaluated_total %lld\n"
             "# HELP auditdb_detect_events_per_second Rows evaluated per second since the previous scrape.\n"
             "# TYPE auditdb_detect_events_per_second gauge\nauditdb_detect_events_per_second %.1f\n"
             "# HELP auditdb_detect_hits_total Windows whose rule condition held.\n"
             "# TYPE auditdb_detect_hits_total counter\nauditdb_detect_hits_total %lld\n"
             "# HELP auditdb_detect_alerts_total Alerts raised or folded by the rules.\n"
             "# TYPE auditdb_detect_alerts_total counter\nauditdb_detect_alerts_total %lld\n"
             "# HELP auditdb_detect_late_events_total Events older than the lateness window, not counted.\n"
             "# TYPE auditdb_detect_late_events_total counter\nauditdb_detect_late_events_total %lld\n"
             "# HELP auditdb_detect_refused_groups_total New groups refused at the live-counter cap.\n"
             "# TYPE auditdb_detect_refused_groups_total counter\nauditdb_detect_refused_groups_total %lld\n"
             "# HELP auditdb_detect_live_groups Live (rule, group, window) counters.\n"
             "# TYPE auditdb_detect_live_groups gauge\nauditdb_detect_live_groups %lld\n"
             "# HELP auditdb_detect_feed_events Committed events held in memory for the engine's rounds.\n"
             "# TYPE auditdb_detect_feed_events gauge\nauditdb_detect_feed_events %lld\n"
             "# HELP auditdb_detect_feed_dropped_total Committed events not held (the feed's cap): read from the table instead.\n"
             "# TYPE auditdb_detect_feed_dropped_total counter\nauditdb_detect_feed_dropped_total %lld\n"
             "# HELP auditdb_detect_feed_taken_total Events rounds took from memory instead of the table.\n"
             "# TYPE auditdb_detect_feed_taken_total counter\nauditdb_detect_feed_taken_total %lld\n",
             f.s.rounds, f.s.failures, f.s.evaluated, f.events_per_s, f.s.hits, f.s.alerts, f.s.late,
             f.s.dropped, f.s.live_groups, f.s.feed_held, f.s.feed_dropped, f.s.feed_taken);
    if (lag >= 0)
        adb__buf_printf(o, "# HELP auditdb_detect_lag_events Committed events beyond the engine's cursors as last written (every 5 s or when idle).\n"
                 "# TYPE auditdb_detect_lag_events gauge\nauditdb_detect_lag_events %lld\n"
                 "# HELP auditdb_detect_lagging_organizations Organizations with events not evaluated yet.\n"
                 "# TYPE auditdb_detect_lagging_organizations gauge\nauditdb_detect_lagging_organizations %lld\n",
                 lag, behind);
}

char *adb_http_metrics_render(adb_http_metrics *m, adb *db, const adb_http_conn_stats *cs,
                              size_t *len)
{
    adb__buf o = { 0 };
    adb_writer_stats ws;
    adb_pool_stats ps;

    pthread_mutex_lock(&m->mu);
    adb__buf_printf(&o, "# HELP auditdb_http_requests_total HTTP requests by method, route and status.\n"
             "# TYPE auditdb_http_requests_total counter\n");
    for (int i = 0; i < m->ns; i++)
        adb__buf_printf(&o, "auditdb_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %lld\n",
             m->s[i].method, m->s[i].route, m->s[i].status, m->s[i].count);
    adb__buf_printf(&o, "# HELP auditdb_http_request_duration_seconds Time from the first byte to the response.\n"
             "# TYPE auditdb_http_request_duration_seconds histogram\n");
    for (int i = 0; i < m->nh; i++) {
        for (size_t b = 0; b < NBUCKETS; b++)
            adb__buf_printf(&o, "auditdb_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lld\n",
                 m->h[i].route, buckets_ms[b] / 1000.0, m->h[i].le[b]);
        adb__buf_printf(&o, "auditdb_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lld\n"
                 "auditdb_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                 "auditdb_http_request_duration_seconds_count{route=\"%s\"} %lld\n",
             m->h[i].route, m->h[i].count, m->h[i].route, m->h[i].sum_ms / 1000.0, m->h[i].route,
             m->h[i].count);
    }
    adb__buf_printf(&o, "# HELP auditdb_http_connections Open client connections.\n"
             "# TYPE auditdb_http_connections gauge\nauditdb_http_connections %lld\n", m->connections);
    adb__buf_printf(&o, "# HELP auditdb_http_connections_closed_total Connections the server closed to keep"
             " room for clients: no whole request head within the head deadline, or shed near a limit.\n"
             "# TYPE auditdb_http_connections_closed_total counter\n"
             "auditdb_http_connections_closed_total{reason=\"head_timeout\"} %llu\n"
             "auditdb_http_connections_closed_total{reason=\"shed\"} %llu\n",
             (unsigned long long)cs->head_timeouts, (unsigned long long)cs->shed);
    adb__buf_printf(&o, "# HELP auditdb_verification_failures_total Problems found by verification through the API.\n"
             "# TYPE auditdb_verification_failures_total counter\n"
             "auditdb_verification_failures_total %lld\n", m->verify_failures);
    pthread_mutex_unlock(&m->mu);

    adb_writer_get_stats(db, &ws);
    adb_pool_get_stats(adb_get_pool(db), &ps);
    adb__buf_printf(&o, "# HELP auditdb_events_ingested_total Events committed by the writer.\n"
             "# TYPE auditdb_events_ingested_total counter\nauditdb_events_ingested_total %lld\n"
             "# HELP auditdb_events_duplicate_total Submissions answered from an idempotency key.\n"
             "# TYPE auditdb_events_duplicate_total counter\nauditdb_events_duplicate_total %lld\n"
             "# HELP auditdb_events_failed_total Events the writer could not store.\n"
             "# TYPE auditdb_events_failed_total counter\nauditdb_events_failed_total %lld\n"
             "# HELP auditdb_writer_batches_total Transactions written.\n"
             "# TYPE auditdb_writer_batches_total counter\nauditdb_writer_batches_total %lld\n"
             "# HELP auditdb_writer_last_batch_size Events in the last batch.\n"
             "# TYPE auditdb_writer_last_batch_size gauge\nauditdb_writer_last_batch_size %d\n"
             "# HELP auditdb_writer_queue_depth Events waiting for the writer.\n"
             "# TYPE auditdb_writer_queue_depth gauge\nauditdb_writer_queue_depth %d\n"
             "# HELP auditdb_writer_queue_capacity Events the queue holds.\n"
             "# TYPE auditdb_writer_queue_capacity gauge\nauditdb_writer_queue_capacity %d\n"
             "# HELP auditdb_writer_busy_total Submissions refused because the queue was full.\n"
             "# TYPE auditdb_writer_busy_total counter\nauditdb_writer_busy_total %lld\n"
             "# HELP auditdb_writer_chain_conflicts_total Batches written again because a chain head moved.\n"
             "# TYPE auditdb_writer_chain_conflicts_total counter\nauditdb_writer_chain_conflicts_total %lld\n",
         ws.events_written, ws.duplicates, ws.failed, ws.batches, ws.last_batch_size,
         ws.queue_depth, ws.queue_max, ws.busy_rejections, ws.chain_conflicts);
    static const int bounds[ADB_WRITER_BATCH_NBOUNDS] = ADB_WRITER_BATCH_BOUNDS;
    adb__buf_printf(&o, "# HELP auditdb_writer_batch_size Events per committed batch.\n"
             "# TYPE auditdb_writer_batch_size histogram\n");
    for (int b = 0; b < ADB_WRITER_BATCH_NBOUNDS; b++)
        adb__buf_printf(&o, "auditdb_writer_batch_size_bucket{le=\"%d\"} %lld\n", bounds[b], ws.batch_le[b]);
    adb__buf_printf(&o, "auditdb_writer_batch_size_bucket{le=\"+Inf\"} %lld\n"
             "auditdb_writer_batch_size_sum %lld\nauditdb_writer_batch_size_count %lld\n",
         ws.batches, ws.batch_events, ws.batches);
    adb__buf_printf(&o, "# HELP auditdb_db_pool_connections Connections of the pool by state.\n"
             "# TYPE auditdb_db_pool_connections gauge\n"
             "auditdb_db_pool_connections{state=\"open\"} %d\n"
             "auditdb_db_pool_connections{state=\"idle\"} %d\n"
             "auditdb_db_pool_connections{state=\"max\"} %d\n"
             "# HELP auditdb_db_pool_reconnects_total Broken connections replaced.\n"
             "# TYPE auditdb_db_pool_reconnects_total counter\nauditdb_db_pool_reconnects_total %lld\n"
             "# HELP auditdb_db_pool_timeouts_total Waits for a connection that timed out.\n"
             "# TYPE auditdb_db_pool_timeouts_total counter\nauditdb_db_pool_timeouts_total %lld\n",
         ps.open, ps.idle, ps.max, ps.reconnects, ps.timeouts);
    struct adb__integrator *in = adb__db_integrator(db);
    if (in) { /* the trees (docs/log.md "Integrator") */
        adb__integrator_stats ts;
        adb__integrator_stats_get(in, &ts);
        adb__buf_printf(&o, "# HELP auditdb_tree_leaves_total Leaves appended to the organizations' trees.\n"
                 "# TYPE auditdb_tree_leaves_total counter\nauditdb_tree_leaves_total %lld\n"
                 "# HELP auditdb_tree_read_back_total Leaves read back from the database (not handed over by the writer).\n"
                 "# TYPE auditdb_tree_read_back_total counter\nauditdb_tree_read_back_total %lld\n"
                 "# HELP auditdb_tree_failures_total Integration rounds that failed (retried).\n"
                 "# TYPE auditdb_tree_failures_total counter\nauditdb_tree_failures_total %lld\n"
                 "# HELP auditdb_tree_failing_organizations Organizations whose last AUDITDB_LOG_ALERT_AFTER rounds failed (docs/log.md).\n"
                 "# TYPE auditdb_tree_failing_organizations gauge\nauditdb_tree_failing_organizations %lld\n"
                 "# HELP auditdb_tree_integration_delay_ms From an event's commit to its tree's commit.\n"
                 "# TYPE auditdb_tree_integration_delay_ms summary\n"
                 "auditdb_tree_integration_delay_ms{quantile=\"0.5\"} %.1f\n"
                 "auditdb_tree_integration_delay_ms{quantile=\"0.99\"} %.1f\n"
                 "auditdb_tree_integration_delay_ms_count %lld\n",
             ts.leaves, ts.read_back, ts.failures, ts.failing_orgs, ts.delay_p50_ms, ts.delay_p99_ms,
             ts.delay_count);
    }
    /* database monitoring: the last round's figures (docs/monitoring.md) */
    adb__dbmon_figures df;
    adb__dbmon_figures_get(db, &df);
    adb__buf_printf(&o, "# HELP auditdb_dbmon_rounds_total Database monitoring rounds run (failed ones too).\n"
             "# TYPE auditdb_dbmon_rounds_total counter\nauditdb_dbmon_rounds_total %lld\n"
             "# HELP auditdb_dbmon_round_failures_total Database monitoring rounds that failed.\n"
             "# TYPE auditdb_dbmon_round_failures_total counter\nauditdb_dbmon_round_failures_total %lld\n"
             "# HELP auditdb_dbmon_round_duration_seconds The last round's duration.\n"
             "# TYPE auditdb_dbmon_round_duration_seconds gauge\nauditdb_dbmon_round_duration_seconds %.3f\n"
             "# HELP auditdb_dbmon_capability Whether the server offers what the monitor reads (1) or not (0).\n"
             "# TYPE auditdb_dbmon_capability gauge\n"
             "auditdb_dbmon_capability{extension=\"pg_stat_statements\"} %d\n"
             "auditdb_dbmon_capability{extension=\"hypopg\"} %d\n"
             "# HELP auditdb_db_slow_queries Statements slower on average than AUDIT_SLOW_QUERY_THRESHOLD.\n"
             "# TYPE auditdb_db_slow_queries gauge\nauditdb_db_slow_queries %lld\n"
             "# HELP auditdb_db_indexes Indexes never scanned (unused) or duplicating another (duplicate).\n"
             "# TYPE auditdb_db_indexes gauge\n"
             "auditdb_db_indexes{state=\"unused\"} %lld\nauditdb_db_indexes{state=\"duplicate\"} %lld\n"
             "# HELP auditdb_db_index_suggestions Missing indexes checked with hypothetical indexes.\n"
             "# TYPE auditdb_db_index_suggestions gauge\nauditdb_db_index_suggestions %lld\n"
             "# HELP auditdb_db_tables_vacuum_due Tables past their autovacuum threshold.\n"
             "# TYPE auditdb_db_tables_vacuum_due gauge\nauditdb_db_tables_vacuum_due %lld\n"
             "# HELP auditdb_db_dead_tuples Dead tuples in all user tables.\n"
             "# TYPE auditdb_db_dead_tuples gauge\nauditdb_db_dead_tuples %lld\n"
             "# HELP auditdb_db_xid_age Transaction-id age of the database (datfrozenxid).\n"
             "# TYPE auditdb_db_xid_age gauge\nauditdb_db_xid_age %lld\n"
             "# HELP auditdb_db_size_bytes Size of the database.\n"
             "# TYPE auditdb_db_size_bytes gauge\nauditdb_db_size_bytes %lld\n"
             "# HELP auditdb_dbmon_findings Findings of the last round.\n"
             "# TYPE auditdb_dbmon_findings gauge\nauditdb_dbmon_findings %lld\n"
             "# HELP auditdb_dbmon_alerts_raised_total Findings raised as alerts (opened or folded).\n"
             "# TYPE auditdb_dbmon_alerts_raised_total counter\nauditdb_dbmon_alerts_raised_total %lld\n"
             "# HELP auditdb_dbmon_alerts_resolved_total Open alerts resolved because their finding was gone.\n"
             "# TYPE auditdb_dbmon_alerts_resolved_total counter\nauditdb_dbmon_alerts_resolved_total %lld\n",
         df.rounds, df.round_failures, df.last_round_ms / 1000.0, df.pss ? 1 : 0, df.hypopg ? 1 : 0,
         df.slow_queries, df.unused_indexes, df.duplicate_indexes, df.suggestions,
         df.tables_vacuum_due, df.dead_tuples, df.xid_age, (long long)df.database_bytes, df.findings,
         df.alerts_raised, df.alerts_resolved);
    detect_figures(&o, db);
    return adb__buf_take(&o, len);
}
