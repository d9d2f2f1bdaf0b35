/*
 * engine.c - the detection engine's thread and its rounds (engine.h;
 * docs/alerts.md "The engine").
 *
 * Windows are tumbling and aligned to the UTC epoch: an event at t counts in
 * [floor(t / span) * span, + span), as pySigma's backends bin a correlation's
 * timespan. A condition without an upper bound (gt, gte) fires as soon as it
 * holds; one with an upper bound (lt, lte, eq, a range) when its window
 * closes, i.e. once an event at or after window end + lateness was seen. An
 * event whose window closed already is late: counted, not evaluated.
 */
#include "engine.h"
#include "feed.h"
#include "rule.h"
#include "state.h"

#include "../writer/writer.h"

#include "../alert/alert.h"
#include "../core/util.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEF_INTERVAL_MS 250
#define DEF_LATENESS_S 300
#define DEF_BATCH 5000
#define DEF_MAX_GROUPS 200000
#define SAVE_MS 5000 /* an events cursor's counters are written at most this often */
#define FEED_MAX 50000 /* committed events held in memory for the rounds (feed.h): about
                       * 200 bytes each, 2.5 s of 20,000 events/s */
#define FEED_SPAN_MS (6 * 3600 * 1000LL) /* a run's zone offset read at both ends only
                                          * when it spans less than this (no zone changes
                                          * its offset twice within it) */
#define GLOBAL_ORG "*" /* the cursor row of the security sources (all organizations) */
#define OPERATOR_ORG "_process" /* the service's pseudo-organization (docs/monitoring.md) */

/* the rules of one organization and source, as loaded for a round */
typedef struct rset {
    char org[72];
    adb__rule *r;
    size_t n;
    unsigned *corr_mask;
    char tz[64];
} rset;

/* one (organization, source): its counters and where it stands */
typedef struct ostate {
    char org[72];
    adb__dsource src;
    bool loaded;
    int64_t position, watermark;
    /* the events source writes its row (position, counters) at most every
     * SAVE_MS, or when idle: saved_position is what the row holds, saved_ms
     * when it was written (monotonic); a round that starts before replay_to
     * may meet windows whose alerts were raised before the row's counters
     * were last written, and looks their hits up first (docs/alerts.md) */
    int64_t saved_position, saved_ms, replay_to;
    long long evaluated, late, dropped;
    adb__dstate st;
} ostate;

/* a condition that started to hold in this round */
typedef struct fire {
    adb__dentry *e;
    const adb__rule *r;
    int64_t at_ms;
} fire;

struct adb__detect {
    adb__detect_options o;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    ostate **os;
    size_t nos, capos;
    adb__detect_stats stats; /* under mu */
    adb__dfeed *feed; /* the writer's committed events (NULL: read every event back) */
    /* the round's scratch */
    fire *fires;
    size_t nfires, capfires;
    bool dropped_logged;
};

static void log_line(adb__detect *d, const char *level, const char *org, const char *event,
                     const char *message)
{
    adb__json_log_line(d->o.log, "detect", level, org, event, message);
}

static void stat_add(adb__detect *d, long long *f, long long n)
{
    pthread_mutex_lock(&d->mu);
    *f += n;
    pthread_mutex_unlock(&d->mu);
}

static ostate *ostate_get(adb__detect *d, const char *org, adb__dsource src)
{
    for (size_t i = 0; i < d->nos; i++)
        if (d->os[i]->src == src && strcmp(d->os[i]->org, org) == 0)
            return d->os[i];
    if (d->nos == d->capos) {
        size_t cap = d->capos ? d->capos * 2 : 16;
        ostate **p = realloc(d->os, cap * sizeof(*p));
        if (!p)
            return NULL;
        d->os = p;
        d->capos = cap;
    }
    ostate *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    adb__fmt(s->org, sizeof(s->org), "%s", org);
    s->src = src;
    adb__dstate_init(&s->st);
    d->os[d->nos++] = s;
    return s;
}

static void rset_clear(rset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        adb__rule_clear(&rs->r[i]);
    free(rs->r);
    free(rs->corr_mask);
    memset(rs, 0, sizeof(*rs));
}

/* The current, enabled rules of org for src, and the organization's zone. */
static bool rset_load(adb__detect *d, PGconn *c, const char *org, adb__dsource src, rset *rs)
{
    const char *p[] = { org, adb__dsource_name(src) };
    PGresult *r;
    int n;

    memset(rs, 0, sizeof(*rs));
    adb__fmt(rs->org, sizeof(rs->org), "%s", org);
    r = PQexecParams(c,
                     "SELECT rule_id, version, definition::text,"
                     " coalesce((SELECT timezone FROM detection_settings s"
                     "  WHERE s.organization_id = $1), 'UTC')"
                     " FROM detection_rules WHERE organization_id = $1 AND is_current AND enabled"
                     " AND coalesce(definition->>'source', 'events') = $2 ORDER BY rule_id",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char e[400];
        adb__fmt(e, sizeof(e), "could not read the rules: %s", PQresultErrorMessage(r));
        log_line(d, "error", org, "rules_failed", adb__oneline(e));
        PQclear(r);
        return false;
    }
    n = PQntuples(r);
    adb__fmt(rs->tz, sizeof(rs->tz), "UTC");
    if (n > 0 && (!(rs->r = calloc((size_t)n, sizeof(*rs->r))) ||
                  !(rs->corr_mask = calloc((size_t)n, sizeof(*rs->corr_mask))))) {
        PQclear(r);
        rset_clear(rs);
        return false;
    }
    for (int i = 0; i < n; i++) {
        char field[96], why[256];
        adb__rule *ru = &rs->r[rs->n];
        adb__fmt(rs->tz, sizeof(rs->tz), "%s", PQgetvalue(r, i, 3));
        if (!adb__rule_parse(PQgetvalue(r, i, 2), ru, field, sizeof(field), why, sizeof(why))) {
            char e[400];
            adb__fmt(e, sizeof(e), "rule %s is not valid (%s: %s): skipped", PQgetvalue(r, i, 0),
                     field, why);
            log_line(d, "error", org, "rule_invalid", e);
            continue;
        }
        adb__fmt(ru->id, sizeof(ru->id), "%s", PQgetvalue(r, i, 0));
        ru->version = (int)strtol(PQgetvalue(r, i, 1), NULL, 10);
        ru->enabled = true;
        for (size_t k = 0; k < ru->ncorr; k++)
            rs->corr_mask[rs->n] |= 1u << ru->corr_sel[k];
        rs->n++;
    }
    PQclear(r);
    return true;
}

/* The group value: the group-by fields' values joined by '|' ("unknown" for
 * a missing one), "*" for a rule without group-by. */
static void group_of(const adb__rule *r, const adb__drecord *rec, char *out, size_t len)
{
    size_t at = 0;

    if (r->ngroup == 0) {
        adb__fmt(out, len, "*");
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < r->ngroup; i++) {
        const char *v = rec->f[r->group[i]];
        if (!v || !*v)
            v = "unknown";
        int w = snprintf(out + at, len - at, "%s%s", i ? "|" : "", v);
        if (w < 0 || (size_t)w >= len - at)
            break;
        at += (size_t)w;
    }
}

static bool add_fire(adb__detect *d, adb__dentry *e, const adb__rule *r, int64_t at)
{
    if (d->nfires == d->capfires) {
        size_t cap = d->capfires ? d->capfires * 2 : 64;
        fire *f = realloc(d->fires, cap * sizeof(*f));
        if (!f)
            return false;
        d->fires = f;
        d->capfires = cap;
    }
    d->fires[d->nfires++] = (fire){ e, r, at };
    e->fired = true;
    e->dirty = true;
    return true;
}

/* One record through every rule of rs. false: out of memory. */
static bool evaluate(adb__detect *d, ostate *os, const rset *rs, const adb__drecord *rec,
                     int64_t lateness_ms)
{
    bool late_counted = false;

    for (size_t i = 0; i < rs->n; i++) {
        const adb__rule *r = &rs->r[i];
        unsigned mask = adb__rule_match(r, rec) & rs->corr_mask[i];
        char group[512];
        bool created;
        int64_t ws, we;

        if (!mask)
            continue;
        ws = rec->ts_ms >= 0 ? rec->ts_ms / r->timespan_ms * r->timespan_ms
                             : -((-rec->ts_ms + r->timespan_ms - 1) / r->timespan_ms) * r->timespan_ms;
        we = ws + r->timespan_ms;
        if (we + lateness_ms <= os->watermark) {
            if (!late_counted)
                os->late++;
            late_counted = true;
            continue;
        }
        group_of(r, rec, group, sizeof(group));
        adb__dentry *e = adb__dstate_get(&os->st, rs->org, r->id, r->version, group, ws, we,
                                         &created);
        if (!e) {
            os->dropped++;
            continue;
        }
        e->events++;
        adb__dentry_add_sample(e, rec->event_id);
        switch (r->type) {
        case ADB_DC_EVENT_COUNT:
            e->measure = e->events;
            break;
        case ADB_DC_VALUE_COUNT: {
            const char *v = rec->f[r->value_field];
            if (v && *v)
                adb__dentry_add_value(e, adb__dhash(v, strlen(v), 0));
            e->measure = e->nvals;
            break;
        }
        case ADB_DC_TEMPORAL:
            for (size_t k = 0; k < r->ncorr; k++)
                if (mask & (1u << r->corr_sel[k]))
                    e->a |= 1LL << k;
            e->measure = __builtin_popcountll((unsigned long long)e->a);
            break;
        case ADB_DC_TEMPORAL_ORDERED:
            if (r->ncorr == 2) {
                /* a: 1 + earliest time of the first selection; b: 1 + latest of the second
                 * (exact whatever order the two arrive in) */
                if (mask & (1u << r->corr_sel[0]) && (!e->a || rec->ts_ms + 1 < e->a))
                    e->a = rec->ts_ms + 1;
                if (mask & (1u << r->corr_sel[1]) && rec->ts_ms + 1 > e->b)
                    e->b = rec->ts_ms + 1;
                e->measure = e->a && e->b && e->a <= e->b ? 2 : (e->a || e->b) ? 1 : 0;
                break;
            }
            /* more than two: steps taken in chain order (docs/alerts.md): a the steps
             * taken, b 1 + the time of the last; an event of the next selection at or
             * after that time takes the next step */
            if (e->a < (int64_t)r->ncorr && (mask & (1u << r->corr_sel[e->a])) &&
                rec->ts_ms + 1 >= e->b) {
                e->a++;
                e->b = rec->ts_ms + 1;
            }
            e->measure = e->a;
            break;
        }
        if (e->fired)
            e->dirty = true;
        else if (adb__rule_monotone(r) && adb__rule_holds(r, e->measure) &&
                 !add_fire(d, e, r, rec->ts_ms))
            return false;
    }
    if (rec->ts_ms > os->watermark)
        os->watermark = rec->ts_ms;
    return true;
}

static const adb__rule *rule_of(rset *rs, size_t nrs, const adb__dentry *e)
{
    for (size_t i = 0; i < nrs; i++)
        if (strcmp(rs[i].org, e->org) == 0)
            for (size_t k = 0; k < rs[i].n; k++)
                if (rs[i].r[k].version == e->version && strcmp(rs[i].r[k].id, e->rule_id) == 0)
                    return &rs[i].r[k];
    return NULL;
}

static void uuid_text(const uint8_t b[16], char out[37])
{
    static const char hx[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hx[b[i] >> 4];
        out[k++] = hx[b[i] & 15];
    }
    out[k] = '\0';
}

static void iso_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms - (int64_t)s * 1000));
}

/* The alert of a new hit, then its row (alert_id NULL on later updates). */
static bool raise_fire(adb__detect *d, PGconn *c, const fire *f, char alert_id[ADB_ALERT_ID_MAX])
{
    const adb__dentry *e = f->e;
    const adb__rule *r = f->r;
    char dedup[640], desc[400], ws[32], we[32], err[256];
    char samples[ADB_DSTATE_SAMPLES][37];
    const char *sp[ADB_DSTATE_SAMPLES];
    json_t *meta;
    char *mt;
    adb__alert_outcome out;
    adb_status st;

    iso_ms(e->wstart, ws);
    iso_ms(e->wend, we);
    adb__fmt(dedup, sizeof(dedup), "%s/%s", r->id, e->group);
    adb__fmt(desc, sizeof(desc), "detection rule %s (version %d): %lld in the window %s to %s",
             r->id, r->version, (long long)e->measure, ws, we);
    for (int i = 0; i < e->nsamples; i++) {
        uuid_text(e->samples[i], samples[i]);
        sp[i] = samples[i];
    }
    meta = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:I}", "ruleId", r->id, "ruleVersion",
                     r->version, "group", e->group, "windowStart", ws, "windowEnd", we, "count",
                     (json_int_t)e->measure, "events", (json_int_t)e->events);
    mt = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    adb__alert_trigger t = {
        .org = e->org,
        .source = "auditdb-detect",
        .dedup_key = dedup,
        .rule_id = r->id,
        .rule_version = r->version,
        .severity = r->severity,
        .type = r->alert_type,
        .title = r->title,
        .description = desc,
        .metadata_json = mt,
        .sample_event_ids = sp,
        .nsamples = e->nsamples,
        .at_ms = f->at_ms,
    };
    st = adb__alert_raise(c, &t, &out, alert_id, err, sizeof(err));
    free(mt);
    if (st != ADB_OK) {
        char m[400];
        adb__fmt(m, sizeof(m), "could not raise the alert of rule %s: %s: %s", r->id,
                 adb_status_name(st), err);
        log_line(d, "error", e->org, "raise_failed", m);
        return false;
    }
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The alert a hit already raised (replayed rounds): 1 with its id, 0 none, -1 failure. */
static int hit_alert(PGconn *c, const adb__dentry *e, char alert_id[ADB_ALERT_ID_MAX])
{
    char ver[16], ws[24];
    adb__fmt(ver, sizeof(ver), "%d", e->version);
    adb__fmt(ws, sizeof(ws), "%" PRId64, e->wstart);
    const char *p[] = { e->org, e->rule_id, ver, e->group, ws };
    PGresult *r = PQexecParams(c,
                               "SELECT alert_id FROM detection_hits WHERE organization_id = $1"
                               " AND rule_id = $2 AND rule_version = $3::int AND group_key = $4"
                               " AND window_start = 'epoch'::timestamptz + $5::bigint * interval '1 ms'"
                               " AND alert_id IS NOT NULL",
                               5, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r) == 1;
    if (rc == 1)
        adb__fmt(alert_id, ADB_ALERT_ID_MAX, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static bool write_hit(PGconn *c, const adb__dentry *e, const char *alert_id)
{
    char ver[16], ws[24], we[24], cnt[24];
    adb__fmt(ver, sizeof(ver), "%d", e->version);
    adb__fmt(ws, sizeof(ws), "%" PRId64, e->wstart);
    adb__fmt(we, sizeof(we), "%" PRId64, e->wend);
    adb__fmt(cnt, sizeof(cnt), "%" PRId64, e->measure);
    const char *p[] = { e->org, e->rule_id, ver, e->group, ws, we, cnt, alert_id };
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO detection_hits (organization_id, rule_id, rule_version, group_key,"
        " window_start, window_end, event_count, alert_id)"
        " VALUES ($1, $2, $3::int, $4, 'epoch'::timestamptz + $5::bigint * interval '1 ms',"
        " 'epoch'::timestamptz + $6::bigint * interval '1 ms', $7::bigint, $8)"
        " ON CONFLICT (organization_id, rule_id, rule_version, group_key, window_start)"
        " DO UPDATE SET event_count = EXCLUDED.event_count, updated_at = now(),"
        " alert_id = coalesce(detection_hits.alert_id, EXCLUDED.alert_id)",
        8, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* Locks and reads the cursor row: 1 locked and loaded, 0 locked by another
 * instance (skip), -1 failure. Reloads os's counters when os is behind. */
static int lock_cursor(adb__detect *d, PGconn *c, ostate *os)
{
    char mine[24];
    adb__fmt(mine, sizeof(mine), "%" PRId64, os->loaded ? os->saved_position : (int64_t)-1);
    const char *p[] = { os->org, adb__dsource_name(os->src), mine };
    PGresult *r;
    if (!os->loaded) { /* once: afterwards the row exists */
        r = PQexecParams(c,
                         "INSERT INTO detection_cursor (organization_id, source)"
                         " VALUES ($1, $2) ON CONFLICT DO NOTHING",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    /* the counters only when memory is not where the row is (another instance
     * moved it, or a first round): they are the row's largest column */
    r = PQexecParams(c,
                     "SELECT position, watermark_ms,"
                     " CASE WHEN position = $3::bigint THEN NULL ELSE state END,"
                     " evaluated, late_events, dropped_groups"
                     " FROM detection_cursor WHERE organization_id = $1 AND source = $2"
                     " FOR UPDATE SKIP LOCKED",
                     3, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        os->loaded = false; /* another instance's turn (or the row is gone): read it again */
        return 0;
    }
    int64_t pos = 0;
    for (int i = 0; i < 8; i++)
        pos = pos << 8 | (uint8_t)PQgetvalue(r, 0, 0)[i];
    if (!os->loaded || pos != os->saved_position) {
        int64_t wm = 0, ev = 0, late = 0, dr = 0;
        for (int i = 0; i < 8; i++) {
            wm = wm << 8 | (uint8_t)PQgetvalue(r, 0, 1)[i];
            ev = ev << 8 | (uint8_t)PQgetvalue(r, 0, 3)[i];
            late = late << 8 | (uint8_t)PQgetvalue(r, 0, 4)[i];
            dr = dr << 8 | (uint8_t)PQgetvalue(r, 0, 5)[i];
        }
        if (PQgetisnull(r, 0, 2))
            adb__dstate_free(&os->st);
        else if (!adb__dstate_load(&os->st, (const uint8_t *)PQgetvalue(r, 0, 2),
                                   (size_t)PQgetlength(r, 0, 2))) {
            log_line(d, "error", os->org, "state_invalid",
                     "the persisted counters could not be read: started empty");
        }
        os->position = pos;
        os->watermark = wm;
        os->evaluated = ev;
        os->late = late;
        os->dropped = dr;
        os->saved_position = pos;
        os->saved_ms = now_ms();
        os->replay_to = 0;
        if (os->src == ADB_DS_EVENTS) {
            /* rounds before a crash (or of another instance) may have gone as far as
             * the committed head, and raised their alerts, without writing this row */
            const char *hp[] = { os->org };
            PGresult *h = PQexecParams(c, "SELECT last_seq FROM audit_chain_head"
                                          " WHERE organization_id = $1", 1, NULL, hp, NULL, NULL, 0);
            if (PQresultStatus(h) != PGRES_TUPLES_OK) {
                PQclear(h);
                PQclear(r);
                os->loaded = false;
                return -1;
            }
            if (PQntuples(h) == 1)
                os->replay_to = strtoll(PQgetvalue(h, 0, 0), NULL, 10);
            PQclear(h);
        }
        os->loaded = true;
    }
    PQclear(r);
    return 1;
}

/* Reads the next rows of os's source into res (owned by the caller). */
static PGresult *fetch(adb__detect *d, PGconn *c, ostate *os, const char *tz)
{
    char pos[24], lim[16];
    adb__fmt(pos, sizeof(pos), "%" PRId64, os->position);
    adb__fmt(lim, sizeof(lim), "%d", d->o.batch);
    if (os->src == ADB_DS_EVENTS) {
        char upto[24];
        adb__fmt(upto, sizeof(upto), "%" PRId64, os->position + d->o.batch);
        const char *p[] = { os->org, pos, lim, tz, upto };
        /* up to the committed head: every position below it is committed (the writer
         * advances the head at its turn, under the head row's lock) */
        return PQexecParams(
            c,
            "SELECT l.chain_seq, l.event_id::text,"
            " floor(extract(epoch FROM l.\"timestamp\") * 1000)::bigint,"
            " (extract(hour FROM l.\"timestamp\" AT TIME ZONE $4) * 60"
            "  + extract(minute FROM l.\"timestamp\" AT TIME ZONE $4))::int,"
            " l.action, l.status, l.principal_id, l.target_resource_type, l.target_resource_id,"
            " l.data_classification, l.outcome_description, NULL, NULL, NULL, l.organization_id"
            " FROM audit_log l"
            " WHERE l.organization_id = $1 AND l.chain_seq > $2::bigint"
            " AND l.chain_seq <= least($5::bigint, (SELECT last_seq FROM audit_chain_head h"
            "  WHERE h.organization_id = $1))"
            " ORDER BY l.chain_seq LIMIT $3::int",
            5, NULL, p, NULL, NULL, 0);
    }
    const char *p[] = { pos, lim, OPERATOR_ORG };
    if (os->src == ADB_DS_SECURITY)
        return PQexecParams(
            c,
            "SELECT e.id, NULL, floor(extract(epoch FROM e.created_at) * 1000)::bigint,"
            " (extract(hour FROM e.created_at AT TIME ZONE coalesce(s.timezone, 'UTC')) * 60"
            "  + extract(minute FROM e.created_at AT TIME ZONE coalesce(s.timezone, 'UTC')))::int,"
            " NULL, e.severity, e.user_id, e.target_resource, NULL, NULL, NULL, e.event_type,"
            " host(coalesce(e.source_ip, e.ip_address)), e.api_key_id,"
            " coalesce(e.organization_id, $3)"
            " FROM security_events e LEFT JOIN detection_settings s"
            "  ON s.organization_id = coalesce(e.organization_id, $3)"
            " WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2::int",
            3, NULL, p, NULL, NULL, 0);
    return PQexecParams(
        c,
        "SELECT i.id, i.verification_details->>'eventId',"
        " floor(extract(epoch FROM i.verification_timestamp) * 1000)::bigint,"
        " (extract(hour FROM i.verification_timestamp AT TIME ZONE coalesce(s.timezone, 'UTC'))"
        "  * 60 + extract(minute FROM i.verification_timestamp"
        "  AT TIME ZONE coalesce(s.timezone, 'UTC')))::int,"
        " i.verification_details->>'kind', i.verification_status, i.verified_by, NULL, NULL,"
        " NULL, NULL, 'integrity', NULL, NULL,"
        " coalesce(i.verification_details->>'organizationId', $3)"
        " FROM audit_integrity_log i LEFT JOIN detection_settings s"
        "  ON s.organization_id = coalesce(i.verification_details->>'organizationId', $3)"
        " WHERE i.id > $1::bigint ORDER BY i.id LIMIT $2::int",
        3, NULL, p, NULL, NULL, 0);
}

static rset *rules_for(adb__detect *d, PGconn *c, rset **rs, size_t *nrs, const char *org,
                       adb__dsource src)
{
    for (size_t i = 0; i < *nrs; i++)
        if (strcmp((*rs)[i].org, org) == 0)
            return &(*rs)[i];
    rset *p = realloc(*rs, (*nrs + 1) * sizeof(*p));
    if (!p)
        return NULL;
    *rs = p;
    if (!rset_load(d, c, org, src, &p[*nrs]))
        return NULL;
    return &p[(*nrs)++];
}

/* floor(a / b) and its remainder's sign as b's: times before 1970 too */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The zone's offset from UTC (seconds) that holds for every event of a fed
 * run, as PostgreSQL's zone data gives it: read at the run's first and last
 * instant; false (the table read then computes it per event) when they
 * differ, the run spans FEED_SPAN_MS or more, or the database cannot say. */
static bool fed_offset(PGconn *c, const char *tz, adb__dfeed_item *const *it, size_t n,
                       int64_t *off)
{
    int64_t lo = it[0]->ts_ms, hi = it[0]->ts_ms;
    for (size_t i = 1; i < n; i++) {
        if (it[i]->ts_ms < lo)
            lo = it[i]->ts_ms;
        if (it[i]->ts_ms > hi)
            hi = it[i]->ts_ms;
    }
    if (hi - lo >= FEED_SPAN_MS)
        return false;
    char a[24], b[24];
    adb__fmt(a, sizeof(a), "%" PRId64, floor_div(lo, 1000));
    adb__fmt(b, sizeof(b), "%" PRId64, floor_div(hi, 1000));
    const char *p[] = { a, b, tz };
    PGresult *r = PQexecParams(
        c,
        "SELECT extract(epoch FROM to_timestamp($1::bigint) AT TIME ZONE $3)::bigint - $1::bigint,"
        " extract(epoch FROM to_timestamp($2::bigint) AT TIME ZONE $3)::bigint - $2::bigint",
        3, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) == 0;
    if (ok)
        *off = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ok;
}

/* A fed event as the rules see it (what fetch's columns give for the row). */
static void fed_record(const adb__dfeed_item *it, int64_t off, adb__drecord *rec)
{
    rec->f[ADB_DF_ACTION] = it->f[ADB_DFEED_ACTION];
    rec->f[ADB_DF_STATUS] = it->f[ADB_DFEED_STATUS];
    rec->f[ADB_DF_PRINCIPAL] = it->f[ADB_DFEED_PRINCIPAL];
    rec->f[ADB_DF_RESOURCE] = it->f[ADB_DFEED_RESOURCE];
    rec->f[ADB_DF_RESOURCE_ID] = it->f[ADB_DFEED_RESOURCE_ID];
    rec->f[ADB_DF_CLASSIFICATION] = it->f[ADB_DFEED_CLASSIFICATION];
    rec->f[ADB_DF_OUTCOME] = it->f[ADB_DFEED_OUTCOME];
    rec->event_id = it->event_id[0] ? it->event_id : NULL;
    rec->ts_ms = it->ts_ms;
    int64_t local = floor_div(it->ts_ms, 1000) + off;
    rec->minute_of_day = (int)((local - floor_div(local, 86400) * 86400) / 60);
}

/* One round of os: 1 when rows were evaluated, 0 when there was nothing to
 * do, -1 on failure (rolled back; the counters are read again next time). */
static int round_one(adb__detect *d, PGconn *c, ostate *os)
{
    rset *rs = NULL;
    size_t nrs = 0;
    PGresult *res = NULL;
    int rc = -1, n = 0, lk;
    int64_t lateness = (int64_t)d->o.lateness_s * 1000;
    const char *what = "begin";

    bool in_tx = false, moved = false;
    adb__dfeed_item **fed = NULL;
    size_t nfed = 0;
    int64_t tzoff = 0, round_start = 0;

    d->nfires = 0;
    if (!exec_ok(c, "BEGIN"))
        goto out;
    in_tx = true;
    what = "cursor";
    if ((lk = lock_cursor(d, c, os)) <= 0) {
        rc = lk;
        goto out;
    }
    what = "rules";
    if (os->src == ADB_DS_EVENTS && !rules_for(d, c, &rs, &nrs, os->org, os->src))
        goto out;
    what = "read";
    round_start = os->position;
    if (os->src == ADB_DS_EVENTS && d->feed)
        nfed = adb__dfeed_take(d->feed, os->org, os->position, (size_t)d->o.batch, &fed);
    if (nfed > 0 && !fed_offset(c, rs[0].tz, fed, nfed, &tzoff)) {
        /* the zone's offset is not one over the run: the table read computes it per event */
        adb__dfeed_release(fed, nfed);
        fed = NULL;
        nfed = 0;
    }
    if (nfed > 0) {
        n = (int)nfed;
    } else {
        res = fetch(d, c, os, os->src == ADB_DS_EVENTS ? rs[0].tz : "UTC");
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            goto out;
        n = PQntuples(res);
    }
    what = "evaluate";
    for (int i = 0; i < n; i++) {
        adb__drecord rec = { 0 };
        if (fed) {
            fed_record(fed[i], tzoff, &rec);
            os->position = fed[i]->seq;
        } else {
            static const adb__dfield cols[] = { ADB_DF_ACTION, ADB_DF_STATUS, ADB_DF_PRINCIPAL,
                                                ADB_DF_RESOURCE, ADB_DF_RESOURCE_ID,
                                                ADB_DF_CLASSIFICATION, ADB_DF_OUTCOME,
                                                ADB_DF_TYPE, ADB_DF_IP, ADB_DF_KEY };
            for (int k = 0; k < 10; k++)
                rec.f[cols[k]] = PQgetisnull(res, i, 4 + k) ? NULL : PQgetvalue(res, i, 4 + k);
            rec.event_id = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
            rec.ts_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            rec.minute_of_day = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
            os->position = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        }
        /* the alerts' own audit events never feed a rule (nor move the watermark) */
        if (rec.f[ADB_DF_ACTION] && strncmp(rec.f[ADB_DF_ACTION], "alert.", 6) == 0)
            continue;
        os->evaluated++;
        rset *set = os->src == ADB_DS_EVENTS ? rs
                    : rules_for(d, c, &rs, &nrs, PQgetvalue(res, i, 14), os->src);
        /* (fed events are always of os->org: only the events source is fed) */
        if (!set || !evaluate(d, os, set, &rec, lateness))
            goto out;
    }
    /* windows closed by the watermark: conditions with an upper bound decided */
    what = "close";
    for (size_t b = 0; b < os->st.nb; b++)
        for (adb__dentry *e = os->st.b[b]; e; e = e->next)
            if (e->wend + lateness <= os->watermark && !e->fired) {
                const adb__rule *r = rule_of(rs, nrs, e);
                if (!r && os->src != ADB_DS_EVENTS) {
                    rset *set = rules_for(d, c, &rs, &nrs, e->org, os->src);
                    r = set ? rule_of(set, 1, e) : NULL;
                }
                if (r && !adb__rule_monotone(r) && adb__rule_holds(r, e->measure) &&
                    !add_fire(d, e, r, e->wend - 1))
                    goto out;
            }
    what = "raise";
    for (size_t i = 0; i < d->nfires; i++) {
        char id[ADB_ALERT_ID_MAX] = "";
        int had = 0;
        /* a window met again after a restart: its alert was raised then */
        if (round_start < os->replay_to && (had = hit_alert(c, d->fires[i].e, id)) < 0)
            goto out;
        if ((!had && !raise_fire(d, c, &d->fires[i], id)) || !write_hit(c, d->fires[i].e, id))
            goto out;
        d->fires[i].e->dirty = false;
    }
    what = "hits";
    for (size_t b = 0; b < os->st.nb; b++)
        for (adb__dentry *e = os->st.b[b]; e; e = e->next)
            if (e->dirty) {
                if (!write_hit(c, e, NULL))
                    goto out;
                e->dirty = false;
            }
    /* closed windows (and counters of rule versions no longer current) leave memory */
    for (size_t b = 0; b < os->st.nb; b++)
        for (adb__dentry *e = os->st.b[b], *nx; e; e = nx) {
            nx = e->next;
            bool stale = os->src == ADB_DS_EVENTS && !rule_of(rs, nrs, e);
            if (e->wend + lateness <= os->watermark || stale)
                adb__dstate_remove(&os->st, e);
        }
    int64_t before = os->position;
    if (n == 0 && os->src == ADB_DS_EVENTS) {
        /* a range of committed positions without rows (archived, erased): past it */
        const char *p[] = { os->org };
        PGresult *h = PQexecParams(c, "SELECT last_seq FROM audit_chain_head"
                                      " WHERE organization_id = $1", 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(h) == PGRES_TUPLES_OK && PQntuples(h) == 1) {
            int64_t head = strtoll(PQgetvalue(h, 0, 0), NULL, 10);
            int64_t next = os->position + d->o.batch;
            if (head > os->position)
                os->position = head < next ? head : next;
        }
        PQclear(h);
    }
    moved = os->position != before;
    what = "save";
    int64_t now = now_ms();
    /* the events source writes its row every SAVE_MS, when idle, and when stopping;
     * the security sources every round (few rows, no replay check) */
    pthread_mutex_lock(&d->mu);
    bool stopping = d->stopping;
    pthread_mutex_unlock(&d->mu);
    bool save = os->src != ADB_DS_EVENTS || stopping || now - os->saved_ms >= SAVE_MS ||
                (n == 0 && os->position != os->saved_position);
    if (save) {
        size_t len = 0;
        uint8_t *blob = adb__dstate_save(&os->st, &len);
        char pos[24], wm[24], ev[24], late[24], dr[24];
        if (!blob)
            goto out;
        adb__fmt(pos, sizeof(pos), "%" PRId64, os->position);
        adb__fmt(wm, sizeof(wm), "%" PRId64, os->watermark);
        adb__fmt(ev, sizeof(ev), "%lld", os->evaluated);
        adb__fmt(late, sizeof(late), "%lld", os->late);
        adb__fmt(dr, sizeof(dr), "%lld", os->dropped);
        const char *p[] = { os->org, adb__dsource_name(os->src), pos, wm, (const char *)blob,
                            ev, late, dr };
        int lens[] = { 0, 0, 0, 0, (int)len, 0, 0, 0 };
        int fmts[] = { 0, 0, 0, 0, 1, 0, 0, 0 };
        PGresult *u = PQexecParams(c,
                                   "UPDATE detection_cursor SET position = $3::bigint,"
                                   " watermark_ms = $4::bigint, state = $5::bytea,"
                                   " evaluated = $6::bigint, late_events = $7::bigint,"
                                   " dropped_groups = $8::bigint, updated_at = now()"
                                   " WHERE organization_id = $1 AND source = $2",
                                   8, NULL, p, lens, fmts, 0);
        free(blob);
        bool ok = PQresultStatus(u) == PGRES_COMMAND_OK;
        PQclear(u);
        if (!ok)
            goto out;
    }
    what = "commit";
    in_tx = false;
    if (!exec_ok(c, "COMMIT"))
        goto out;
    if (save) {
        os->saved_position = os->position;
        os->saved_ms = now;
    }
    rc = n >= d->o.batch ? 2 : n > 0 || moved ? 1 : 0;
    pthread_mutex_lock(&d->mu);
    d->stats.rounds++;
    d->stats.evaluated += n;
    d->stats.alerts += (long long)d->nfires;
    d->stats.hits += (long long)d->nfires;
    d->stats.late = os->late;
    d->stats.dropped = os->dropped;
    pthread_mutex_unlock(&d->mu);
    if (os->dropped && !d->dropped_logged) {
        d->dropped_logged = true;
        log_line(d, "warning", os->org, "groups_full",
                 "the detection counters reached AUDITDB_DETECT_MAX_GROUPS: new groups are not "
                 "counted until windows close");
    }
out:
    if (rc < 0) {
        char e[400];
        adb__fmt(e, sizeof(e), "a detection round failed at %s: %s", what,
                 res && PQresultStatus(res) != PGRES_TUPLES_OK ? PQresultErrorMessage(res)
                                                               : PQerrorMessage(c));
        log_line(d, "error", os->org, "round_failed", adb__oneline(e));
        if (in_tx)
            exec_ok(c, "ROLLBACK");
        os->loaded = false; /* memory is ahead of the database: read the row again */
        stat_add(d, &d->stats.failures, 1);
    } else if (in_tx) {
        exec_ok(c, "ROLLBACK"); /* the row is another instance's this time */
    }
    PQclear(res);
    if (fed)
        adb__dfeed_release(fed, nfed);
    for (size_t i = 0; i < nrs; i++)
        rset_clear(&rs[i]);
    free(rs);
    return rc;
}

/* Every (organization, source) with rows after its cursor: one round each. */
static bool pass(adb__detect *d, PGconn *c)
{
    bool busy = false;
    PGresult *r = PQexec(c,
                         "SELECT h.organization_id FROM audit_chain_head h"
                         " LEFT JOIN detection_cursor c ON c.organization_id = h.organization_id"
                         "  AND c.source = 'events'"
                         " WHERE h.last_seq > coalesce(c.position, 0)"
                         " UNION ALL SELECT '" GLOBAL_ORG "' WHERE EXISTS (SELECT 1"
                         "  FROM security_events WHERE id > coalesce((SELECT position"
                         "  FROM detection_cursor WHERE organization_id = '" GLOBAL_ORG "'"
                         "  AND source = 'security_events'), 0))"
                         " UNION ALL SELECT '" GLOBAL_ORG "|' WHERE EXISTS (SELECT 1"
                         "  FROM audit_integrity_log WHERE id > coalesce((SELECT position"
                         "  FROM detection_cursor WHERE organization_id = '" GLOBAL_ORG "'"
                         "  AND source = 'integrity'), 0))");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char e[400];
        adb__fmt(e, sizeof(e), "could not look for new rows: %s", PQresultErrorMessage(r));
        log_line(d, "error", NULL, "scan_failed", adb__oneline(e));
        PQclear(r);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *org = PQgetvalue(r, i, 0);
        adb__dsource src = ADB_DS_EVENTS;
        if (strcmp(org, GLOBAL_ORG) == 0)
            src = ADB_DS_SECURITY;
        else if (strcmp(org, GLOBAL_ORG "|") == 0)
            src = ADB_DS_INTEGRITY, org = GLOBAL_ORG;
        ostate *os = ostate_get(d, org, src);
        if (!os)
            continue;
        pthread_mutex_lock(&d->mu);
        bool stop = d->stopping;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        /* another pass at once only when a round was full (more rows wait): a round
         * costs statements and the counters' write whatever it read, so rounds of a
         * steady stream are spaced by interval_ms and each takes what came meanwhile */
        if (round_one(d, c, os) > 1)
            busy = true;
    }
    PQclear(r);
    return busy;
}

static void *detect_main(void *arg)
{
    adb__detect *d = arg;

    for (;;) {
        pthread_mutex_lock(&d->mu);
        bool stop = d->stopping;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        adb_status st;
        char err[256];
        bool busy = false;
        PGconn *c = adb_pool_acquire(d->o.pool, &st, err, sizeof(err));
        if (c) {
            busy = pass(d, c);
            adb_pool_release(d->o.pool, c);
        }
        if (busy)
            continue;
        pthread_mutex_lock(&d->mu);
        if (!d->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)d->o.interval_ms * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
        pthread_mutex_unlock(&d->mu);
    }
    return NULL;
}

adb__detect *adb__detect_start(const adb__detect_options *o, char *err, size_t errlen)
{
    adb__detect *d = calloc(1, sizeof(*d));

    if (!d) {
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    d->o = *o;
    if (d->o.interval_ms <= 0)
        d->o.interval_ms = DEF_INTERVAL_MS;
    if (d->o.lateness_s <= 0)
        d->o.lateness_s = DEF_LATENESS_S;
    if (d->o.batch <= 0)
        d->o.batch = DEF_BATCH;
    if (d->o.max_groups <= 0)
        d->o.max_groups = DEF_MAX_GROUPS;
    adb__dstate_set_cap(d->o.max_groups);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (d->o.writer && (d->feed = adb__dfeed_new(FEED_MAX)))
        adb__writer_observe(d->o.writer, adb__dfeed_put, d->feed);
    if (pthread_create(&d->th, NULL, detect_main, d) != 0) {
        adb__fmt(err, errlen, "could not start the detection thread");
        if (d->feed) {
            adb__writer_observe(d->o.writer, NULL, NULL);
            adb__dfeed_free(d->feed);
        }
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
        return NULL;
    }
    return d;
}

void adb__detect_stop(adb__detect *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    if (d->feed) {
        adb__writer_observe(d->o.writer, NULL, NULL); /* returns once no batch is shown */
        adb__dfeed_free(d->feed);
    }
    for (size_t i = 0; i < d->nos; i++) {
        adb__dstate_free(&d->os[i]->st);
        free(d->os[i]);
    }
    free(d->os);
    free(d->fires);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

void adb__detect_stats_get(adb__detect *d, adb__detect_stats *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
    out->live_groups = adb__dstate_live();
    if (d->feed)
        adb__dfeed_counts(d->feed, &out->feed_held, &out->feed_dropped, &out->feed_taken);
}
