/*
 * adb.c - the library handle: pool, keys, presets and writer behind
 * adb_open / adb_log_json / adb_log_batch_json / adb_close.
 *
 * An event's path: parse (event/json.c) -> preset and validation
 * (event/event.c) -> hash and signature (integrity/hash.c) -> queue and
 * batched transaction (writer/writer.c) -> result after COMMIT.
 */
#include "auditdb.h"
#include "util.h"
#include "../event/event.h"
#include "../event/json.h"
#include "../integrity/integrity.h"
#include "../writer/writer.h"
#include "../auth/key_usage.h"
#include "preset_usage.h"
#include "../monitor/errors.h"
#include "adb_internal.h"
#include "../log/checkpoint.h"
#include "../log/logkey.h"
#include "../log/tiles.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PRESET_TTL_MS 60000.0

/* The writer's committed events to the integrator. */
static void offer_leaves(void *ctx, const adb__tree_leaf *l, size_t n)
{
    adb__integrator_offer(ctx, l, n);
}

void adb_options_default(adb_options *o)
{
    memset(o, 0, sizeof(*o));
    o->pool_min = 2;
    o->pool_max = 10;
    o->writer_threads = 2;
    o->batch_max = 1000;
    o->queue_max = 20000;
    o->max_future_s = 300;
    o->max_past_days = 3660;
    o->key_usage_flush_s = 0;
}

/* ---- presets ------------------------------------------------------------ */

static void presets_free(presets *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        adb__preset *p = &ps->items[i];
        free(p->name);
        free(p->organization_id);
        free(p->action);
        free(p->data_classification);
        for (size_t k = 0; k < p->nrequired; k++)
            free(p->required[k]);
        free(p->required);
        adb__json_free(p->defaults);
    }
    free(ps->items);
    free(ps);
}

static void presets_release(adb *db, presets *ps)
{
    bool last;

    if (!ps)
        return;
    pthread_mutex_lock(&db->mu);
    last = --ps->refs == 0;
    pthread_mutex_unlock(&db->mu);
    if (last)
        presets_free(ps);
}

/* Reads audit_preset. NULL on failure (errbuf says why). */
static presets *presets_load(adb *db, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    presets *ps;
    PGresult *r;

    if (!c)
        return NULL;
    r = PQexec(c, "SELECT name, organization_id, action, data_classification,"
                  " coalesce(required_fields, '[]'::jsonb)::text, default_values::text"
                  " FROM audit_preset WHERE (spec -> 'enabled') IS DISTINCT FROM 'false'::jsonb"
                  " ORDER BY organization_id, name");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not read audit_preset: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        PQclear(r);
        adb_pool_release(db->pool, c);
        return NULL;
    }
    ps = calloc(1, sizeof(*ps));
    if (ps)
        ps->items = calloc((size_t)PQntuples(r) + 1, sizeof(*ps->items));
    if (!ps || !ps->items) {
        free(ps);
        PQclear(r);
        adb_pool_release(db->pool, c);
        adb__fmt(errbuf, errlen, "out of memory");
        return NULL;
    }
    ps->refs = 1;
    ps->loaded_ms = adb__now_ms();
    for (int i = 0; i < PQntuples(r); i++) {
        adb__preset *p = &ps->items[ps->n++];
        adb_json_error je;
        p->name = strdup(PQgetvalue(r, i, 0));
        p->organization_id = strdup(PQgetvalue(r, i, 1));
        p->action = strdup(PQgetvalue(r, i, 2));
        p->data_classification = strdup(PQgetvalue(r, i, 3));
        adb_json_doc *req = adb__json_parse(PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4), NULL, &je);
        const adb_json *ra = req ? adb__json_root(req) : NULL;
        if (ra && ra->type == ADB_JSON_ARRAY && ra->count > 0) {
            p->required = calloc(ra->count, sizeof(char *));
            for (size_t k = 0; p->required && k < ra->count; k++)
                if (ra->items[k]->type == ADB_JSON_STRING)
                    p->required[p->nrequired++] = strdup(ra->items[k]->str);
        }
        adb__json_free(req);
        p->defaults = adb__json_parse(PQgetvalue(r, i, 5), (size_t)PQgetlength(r, i, 5), NULL, &je);
    }
    PQclear(r);
    adb_pool_release(db->pool, c);
    return ps;
}

/* The current presets (a reference the caller releases), reloaded when stale. */
static presets *presets_get(adb *db)
{
    presets *ps;
    bool stale;

    unsigned long gen;

    pthread_mutex_lock(&db->mu);
    stale = !db->presets || db->presets->stale ||
            adb__now_ms() - db->presets->loaded_ms > PRESET_TTL_MS;
    gen = db->presets_gen;
    pthread_mutex_unlock(&db->mu);
    if (stale) {
        char err[ADB_ERRMSG_MAX];
        presets *fresh = presets_load(db, err, sizeof(err));
        if (fresh) {
            pthread_mutex_lock(&db->mu);
            /* a change committed while this load read: it may not show it */
            fresh->stale = gen != db->presets_gen;
            presets *old = db->presets;
            db->presets = fresh;
            pthread_mutex_unlock(&db->mu);
            presets_release(db, old);
        }
    }
    pthread_mutex_lock(&db->mu);
    ps = db->presets;
    if (ps)
        ps->refs++;
    pthread_mutex_unlock(&db->mu);
    return ps;
}

void adb__presets_changed(adb *db)
{
    pthread_mutex_lock(&db->mu);
    db->presets_gen++;
    if (db->presets)
        db->presets->stale = true;
    pthread_mutex_unlock(&db->mu);
}

struct adb__preset_usage *adb__db_preset_usage(adb *db) { return db->preset_usage; }

static const adb__preset *preset_find(const presets *ps, const char *org, const char *name)
{
    const adb__preset *any = NULL;

    for (size_t i = 0; ps && i < ps->n; i++) {
        if (strcmp(ps->items[i].name, name) != 0)
            continue;
        if (org && !strcmp(ps->items[i].organization_id, org))
            return &ps->items[i];
        if (!strcmp(ps->items[i].organization_id, "*"))
            any = &ps->items[i];
    }
    return any;
}

/* ---- the signing key ---------------------------------------------------- */

static adb_status check_signing_key(adb *db, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    PGresult *r;
    const char *fp = db->keys.fingerprint;
    const char *params[] = { fp };

    if (!c)
        return st;
    st = ADB_OK;
    /* one statement per step: under READ COMMITTED each sees what the
     * process that held the lock before us committed */
    static const char *const steps[] = {
        "BEGIN", "SELECT pg_advisory_xact_lock(27413180558893157)",
        "INSERT INTO auditdb_signing_key (fingerprint) SELECT $1 WHERE NOT EXISTS"
        " (SELECT 1 FROM auditdb_signing_key WHERE retired_at IS NULL) ON CONFLICT DO NOTHING",
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        r = PQexecParams(c, steps[i], i == 2 ? 1 : 0, NULL, i == 2 ? params : NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            adb__fmt(errbuf, errlen, "could not check the signing key: %s", PQresultErrorMessage(r));
            adb__oneline(errbuf);
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            adb_pool_release(db->pool, c);
            return ADB_ERR_DB_QUERY;
        }
        PQclear(r);
    }
    r = PQexec(c, "SELECT fingerprint FROM auditdb_signing_key WHERE retired_at IS NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not check the signing key: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    } else {
        bool ours = false;
        for (int i = 0; i < PQntuples(r); i++)
            ours |= strcmp(PQgetvalue(r, i, 0), fp) == 0;
        if (!ours) {
            adb__fmt(errbuf, errlen, "this database's events are signed with another master key "
                     "(fingerprint %s, ours is %s): set AUDITDB_MASTER_KEY, or AUDITDB_HOME's "
                     "master.key, to the key this database was started with",
                     PQntuples(r) ? PQgetvalue(r, 0, 0) : "?", fp);
            st = ADB_ERR_CHECKSUM;
        }
    }
    PQclear(r);
    r = PQexec(c, st == ADB_OK ? "COMMIT" : "ROLLBACK");
    PQclear(r);
    adb_pool_release(db->pool, c);
    return st;
}

/* ---- watching key and role changes -------------------------------------- */

/* Drops cached auth decisions whenever a key or role changes anywhere
 * (trigger -> NOTIFY auditdb_auth). Reconnects if the connection breaks. */
static void *watch_main(void *arg)
{
    adb *db = arg;
    PGconn *c = NULL;

    for (;;) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
            const char *vals[] = { "5", "auditdb-watch", db->o.conninfo, NULL };
            c = PQconnectdbParams(keys, vals, 1);
            if (PQstatus(c) == CONNECTION_OK)
                PQclear(PQexec(c, "LISTEN auditdb_auth"));
            adb_auth_cache_clear(db); /* changes may have been missed meanwhile */
            adb__presets_changed(db);
        }
        struct pollfd fds[2] = { { PQstatus(c) == CONNECTION_OK ? PQsocket(c) : -1, POLLIN, 0 },
                                 { db->stop_pipe[0], POLLIN, 0 } };
        int n = poll(fds, 2, 1000);
        if (n > 0 && fds[1].revents)
            break;
        if (PQstatus(c) != CONNECTION_OK)
            continue;
        if (n > 0 && fds[0].revents && PQconsumeInput(c)) {
            PGnotify *note;
            bool any = false, presets_changed = false;
            while ((note = PQnotifies(c)) != NULL) {
                /* a preset (migration 0019) is not a key or a role */
                if (note->extra && !strcmp(note->extra, "audit_preset"))
                    presets_changed = true;
                else
                    any = true;
                PQfreemem(note);
            }
            if (any)
                adb_auth_cache_clear(db);
            if (presets_changed)
                adb__presets_changed(db);
        }
    }
    PQfinish(c);
    return NULL;
}

/* ---- the service's logins ---------------------------------------------- */

/* Opens a pool on one of the service's logins and checks, on a connection of
 * it, that row-level security binds it (include/auditdb/logins.h). */
static adb_status open_login_pool(const char *conninfo, const adb_pool_options *po,
                                  bool requests, const char *what, adb_pool **out,
                                  char *errbuf, size_t errlen)
{
    adb_status st = adb_pool_open(conninfo, po, out, errbuf, errlen);
    PGconn *c;

    if (st != ADB_OK) {
        char why[ADB_ERRMSG_MAX];
        adb__fmt(why, sizeof(why), "%s", errbuf);
        adb__fmt(errbuf, errlen, "%s login: %s (docs/auth.md, \"Database roles\")", what, why);
        return st;
    }
    if (!(c = adb_pool_acquire(*out, &st, errbuf, errlen)))
        return st;
    st = adb_login_check(c, requests, what, errbuf, errlen);
    adb_pool_release(*out, c);
    return st;
}

/* The tenant proof's secret, once, through the owner's pool: the request
 * login may not read it (docs/auth.md, "Tenant proof"). */
static adb_status load_tenant_key(adb *db, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);

    if (!c)
        return st;
    st = adb__tenant_key_load(c, &db->tenant_key, errbuf, errlen);
    adb_pool_release(db->pool, c);
    return st;
}

/* ---- the verifiable log ------------------------------------------------- */

/* The checkpointer's proof source: the stored tree (src/log/tiles.h). */
static adb_status log_consistency(PGconn *c, const char *org, uint64_t size1, uint64_t size2,
                                  adb__mhash *proof, size_t *n, char *err, size_t errlen)
{
    return adb__tree_consistency_proof(c, org, size1, size2, proof, n, err, errlen);
}

/* The integrator's grown trees to the checkpointer. */
static void grown_to_checkpointer(void *ctx, const char *org, uint64_t size, const uint8_t root[32])
{
    adb__checkpointer_offer(ctx, org, size, root);
}

static adb_status start_log(adb *db, char *errbuf, size_t errlen)
{
    const adb_options *o = &db->o;
    const char *home = o->home ? o->home : ".auditdb";
    char dir[4096];
    adb_status st;

    if ((st = adb__logkey_load(o->log_key, home, o->log_name, true, &db->log_signer, errbuf,
                               errlen)) != ADB_OK)
        return st;
    db->log_loaded = true;
    if (!adb__fmt(dir, sizeof(dir), "%s", o->checkpoint_dir ? o->checkpoint_dir : "") ||
        (!o->checkpoint_dir && !adb__fmt(dir, sizeof(dir), "%s/checkpoints", home))) {
        adb__fmt(errbuf, errlen, "AUDITDB_CHECKPOINT_DIR is too long");
        return ADB_ERR_CONFIG;
    }
    adb__checkpointer_options co = {
        .pool = db->pool,
        .signer = &db->log_signer,
        .log_name = o->log_name,
        .dir = dir,
        .witnesses = o->witnesses,
        .interval_ms = o->checkpoint_interval_ms,
        .consistency = log_consistency,
        .log = o->log,
        .alert_after = o->log_alert_after,
    };
    if (!(db->checkpointer = adb__checkpointer_start(&co, errbuf, errlen)))
        return ADB_ERR_CONFIG;
    return ADB_OK;
}

const adb__note_signer *adb__db_log_signer(adb *db)
{
    return db && db->log_loaded ? &db->log_signer : NULL;
}

struct adb__checkpointer *adb__db_checkpointer(adb *db)
{
    return db ? db->checkpointer : NULL;
}

/* ---- open and close ----------------------------------------------------- */

adb_status adb_open(const adb_options *o, adb **out, char *errbuf, size_t errlen)
{
    adb *db;
    adb_status st;
    adb_pool_options po;

    *out = NULL;
    if (!o || !o->conninfo) {
        adb__fmt(errbuf, errlen, "adb_open needs a conninfo");
        return ADB_ERR_INVALID;
    }
    if (!(db = calloc(1, sizeof(*db)))) {
        adb__fmt(errbuf, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    db->o = *o;
    pthread_mutex_init(&db->mu, NULL);
    if (!(db->auth = adb__auth_new())) {
        free(db);
        adb__fmt(errbuf, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    if ((st = adb__keys_load(o->master_key, o->home ? o->home : ".auditdb", &db->keys, errbuf,
                             errlen)) != ADB_OK)
        goto fail;
    adb_pool_options_default(&po);
    po.min = o->pool_min;
    po.max = o->pool_max > o->writer_threads ? o->pool_max : o->writer_threads + 1;
    if ((st = adb_pool_open(o->conninfo, &po, &db->pool, errbuf, errlen)) != ADB_OK)
        goto fail;
    if ((st = check_signing_key(db, errbuf, errlen)) != ADB_OK)
        goto fail;
    if ((st = load_tenant_key(db, errbuf, errlen)) != ADB_OK)
        goto fail;
    if (!(db->presets = presets_load(db, errbuf, errlen))) {
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    /* the service's logins once the schema is known to be there. Their
     * idle connections are checked after 1 s rather than 5: the owner's pool
     * answers /health, so after a database restart nothing else would have
     * found theirs broken before the next request or write did */
    adb_pool_options lpo = po;
    lpo.health_idle_ms = 1000;
    if (o->api_conninfo &&
        (st = open_login_pool(o->api_conninfo, &lpo, true, "request", &db->api_pool, errbuf,
                              errlen)) != ADB_OK)
        goto fail;
    if (o->writer_conninfo) {
        adb_pool_options wpo = lpo;
        wpo.min = 1;
        wpo.max = o->writer_threads + 1;
        if ((st = open_login_pool(o->writer_conninfo, &wpo, false, "writer", &db->writer_pool,
                                  errbuf, errlen)) != ADB_OK)
            goto fail;
    }
    /* the writer's login may not ANALYZE: the owner's pool does it */
    adb__writer_options wo = { o->writer_threads, o->batch_max, o->queue_max, db->pool, NULL, NULL };
    /* the checkpointer first: the integrator offers it every tree that grew */
    if (o->log_name && (st = start_log(db, errbuf, errlen)) != ADB_OK)
        goto fail;
    if (!o->no_tree) {
        adb__integrator_options io = { 0 };
        io.pool = db->pool;
        io.keys = &db->keys;
        io.on_grown = o->tree_on_grown;
        io.on_grown_ctx = o->tree_on_grown_ctx;
        io.alert_after = o->log_alert_after;
        if (!io.on_grown && db->checkpointer) {
            io.on_grown = grown_to_checkpointer;
            io.on_grown_ctx = db->checkpointer;
        }
        if (!(db->integrator = adb__integrator_start(&io, errbuf, errlen))) {
            st = ADB_ERR_INTERNAL;
            goto fail;
        }
        wo.on_commit = offer_leaves;
        wo.on_commit_ctx = db->integrator;
    }
    if (!(db->writer = adb__writer_start(db->writer_pool ? db->writer_pool : db->pool, &db->keys,
                                         &wo, errbuf, errlen))) {
        st = ADB_ERR_INVALID;
        goto fail;
    }
    if (!(db->key_usage = adb__key_usage_new())) {
        st = ADB_ERR_NOMEM;
        goto fail;
    }
    if (o->key_usage_flush_s > 0 &&
        (st = adb__key_usage_start(db->key_usage, db->pool, o->key_usage_flush_s)) != ADB_OK) {
        adb__fmt(errbuf, errlen, "could not start the key usage flusher");
        goto fail;
    }
    if (!(db->preset_usage = adb__preset_usage_new())) {
        st = ADB_ERR_NOMEM;
        goto fail;
    }
    if (o->key_usage_flush_s > 0 &&
        (st = adb__preset_usage_start(db->preset_usage, db->pool, o->key_usage_flush_s)) != ADB_OK) {
        adb__fmt(errbuf, errlen, "could not start the preset usage flusher");
        goto fail;
    }
    if (o->watch_auth) {
        if (pipe2(db->stop_pipe, O_CLOEXEC) == 0 &&
            pthread_create(&db->watcher, NULL, watch_main, db) == 0)
            db->watching = true;
    }
    *out = db;
    return ADB_OK;
fail:
    adb_close(db);
    return st;
}

void adb_close(adb *db)
{
    if (!db)
        return;
    if (db->maint_running) {
        if (write(db->maint_pipe[1], "x", 1) != 1)
            pthread_cancel(db->maint);
        pthread_join(db->maint, NULL);
        close(db->maint_pipe[0]);
        close(db->maint_pipe[1]);
    }
    if (db->watching) {
        if (write(db->stop_pipe[1], "x", 1) != 1)
            pthread_cancel(db->watcher);
        pthread_join(db->watcher, NULL);
        close(db->stop_pipe[0]);
        close(db->stop_pipe[1]);
    }
    adb__writer_stop(db->writer);
    adb__integrator_stop(db->integrator); /* after the writer: takes its last batches */
    adb__checkpointer_stop(db->checkpointer); /* signs what the last writes offered */
    adb__errmon_stop(db); /* last: writes the failures the stops above reported */
    if (db->log_loaded)
        adb__note_signer_free(&db->log_signer);
    adb__key_usage_close(db->key_usage, db->pool); /* flushes the last uses */
    adb__preset_usage_close(db->preset_usage, db->pool);
    adb_pool_close(db->writer_pool);
    adb_pool_close(db->api_pool);
    adb_pool_close(db->pool);
    presets_free(db->presets);
    adb__auth_free(db->auth);
    adb__keys_wipe(&db->keys);
    adb__tenant_key_wipe(&db->tenant_key);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

adb_pool *adb__pool(adb *db) { return db->pool; }
adb_pool *adb__tenant_pool(adb *db) { return db->api_pool ? db->api_pool : db->pool; }
adb_pool *adb_get_pool(adb *db) { return db->pool; }
const adb__keys *adb__db_keys(adb *db) { return &db->keys; }
struct adb__integrator *adb__db_integrator(adb *db) { return db->integrator; }
struct adb__writer *adb__db_writer(adb *db) { return db->writer; }
bool adb__db_tenant_proof(adb *db, PGconn *c, const char *org, char out[65])
{
    return adb__tenant_proof(&db->tenant_key, c, org, out);
}

void adb_writer_get_stats(adb *db, adb_writer_stats *out)
{
    adb__writer_stats(db->writer, out);
}

/* ---- logging ------------------------------------------------------------ */

static const adb_json_limits parse_limits = {
    .max_depth = 16,          /* details may nest 3 deep; the rest is room for errors */
    .max_string = 256 * 1024, /* field caps are checked per field afterwards */
    .max_items = 10000,
    .max_number_len = 100,
    .max_nodes = 100000,
};

/* Validates and seals one parsed event. NULL with res filled on refusal. */
static adb__event *prepare_parsed(adb *db, presets *ps, const adb_json *root,
                                  const adb_log_options *o, adb_log_result *res)
{
    adb__validation v;
    const adb__preset *preset = NULL;
    adb__event *ev;

    /* every member but the error entries and the message text, which are
     * read only up to errors.count and the NUL: a result is 5 KB, mostly
     * those, and zeroing all of them for every event of a bulk request was
     * a visible share of serve's CPU (the memset and its page faults) */
    memset(res, 0, offsetof(adb_log_result, errors.e));
    res->message[0] = '\0';
    res->status = ADB_ERR_INVALID;
    if (o && o->preset) {
        preset = preset_find(ps, o->organization_id, o->preset);
        if (!preset) {
            adb__errors_add(&res->errors, "INVALID_VALUE", "preset", "no preset named \"%.60s\"",
                            o->preset);
            return NULL;
        }
    }
    adb__validation_default(&v);
    v.max_future_us = (int64_t)db->o.max_future_s * 1000000;
    v.max_past_us = (int64_t)db->o.max_past_days * 86400 * 1000000;
    v.organization_id = o ? o->organization_id : NULL;
    v.allow_legacy_hash = o && o->allow_legacy_hash;
    ev = adb__event_from_json(root, preset, &v, &res->errors);
    if (!ev) {
        if (res->errors.count == 0)
            res->status = ADB_ERR_NOMEM;
        return NULL;
    }
    if (o && o->idempotency_key) {
        free(ev->idempotency_key);
        if (!(ev->idempotency_key = strdup(o->idempotency_key))) {
            adb__event_free(ev);
            res->status = ADB_ERR_NOMEM;
            return NULL;
        }
    }
    if (!adb__event_seal(ev, &db->keys, &res->errors)) {
        if (res->errors.count == 0)
            res->status = ADB_ERR_NOMEM;
        adb__event_free(ev);
        return NULL;
    }
    res->status = ADB_OK;
    return ev;
}

/* Parses, validates and seals one event given as text. */
static adb__event *prepare(adb *db, presets *ps, const char *json, size_t len,
                           const adb_log_options *o, adb_log_result *res)
{
    adb_json_error je;
    adb_json_doc *doc = adb__json_parse(json, len, &parse_limits, &je);
    adb__event *ev;

    if (!doc) {
        memset(res, 0, sizeof(*res));
        res->status = ADB_ERR_INVALID;
        if (je.code == ADB_JSON_ERR_NOMEM) {
            res->status = ADB_ERR_NOMEM;
            return NULL;
        }
        adb__errors_add(&res->errors,
                        je.code == ADB_JSON_ERR_DUPLICATE_KEY ? "DUPLICATE_KEY" : "INVALID_JSON", "",
                        "%s at byte %zu", je.message, je.offset);
        return NULL;
    }
    ev = prepare_parsed(db, ps, adb__json_root(doc), o, res);
    adb__json_free(doc);
    return ev;
}

/* Hands the prepared events (NULL: refused) to the writer and waits for
 * their commit; fills res of each. */
static void submit_prepared(adb *db, adb__event **evs, size_t n, adb_log_result *res)
{
    adb__job *jobs = calloc(n ? n : 1, sizeof(*jobs));
    size_t njobs = 0;
    adb__ticket t;

    if (!jobs) {
        for (size_t i = 0; i < n; i++)
            if (evs[i])
                res[i].status = ADB_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (evs[i])
            jobs[njobs++] = (adb__job){ evs[i], &res[i], &t };
    /* the queue takes at most queue_max at once: submit in slices */
    for (size_t start = 0; start < njobs;) {
        size_t k = njobs - start;
        int retry = 0;
        if (k > (size_t)db->o.batch_max)
            k = (size_t)db->o.batch_max;
        adb__ticket_init(&t, k);
        adb_status st = adb__writer_submit(db->writer, &jobs[start], k, &retry);
        if (st != ADB_OK) {
            for (size_t i = start; i < njobs; i++) {
                jobs[i].res->status = st;
                jobs[i].res->retry_after_ms = retry;
                adb__fmt(jobs[i].res->message, sizeof(jobs[i].res->message), "%s",
                         st == ADB_ERR_BUSY ? "the writer queue is full: retry later"
                                            : "auditdb is shutting down");
            }
            adb__ticket_destroy(&t);
            break;
        }
        adb__ticket_wait(&t);
        adb__ticket_destroy(&t);
        start += k;
    }
    free(jobs);
}

/* The preset's usage (o->preset): stored events, and events its rules
 * refused (an unknown preset counts nothing). */
static void note_preset_usage(adb *db, const adb_log_options *o, adb__event *const *evs,
                              const adb_log_result *res, size_t n)
{
    if (!o || !o->preset)
        return;
    for (size_t i = 0; i < n; i++)
        if ((res[i].status == ADB_OK || res[i].status == ADB_ERR_INVALID) &&
            !(res[i].errors.count && !strcmp(res[i].errors.e[0].field, "preset")))
            adb__preset_usage_note(db->preset_usage, o->organization_id ? o->organization_id
                                                                         : res[i].organization_id,
                                   o->preset, evs[i] ? evs[i]->f[ADB_F_PRINCIPAL_ID] : NULL,
                                   res[i].status == ADB_OK, res[i].status != ADB_OK, -1);
}

static adb_status batch_status(const adb_log_result *res, size_t n)
{
    size_t stored = 0;
    for (size_t i = 0; i < n; i++)
        stored += res[i].status == ADB_OK;
    return stored == n ? ADB_OK : n == 1 ? res[0].status : ADB_ERR_INVALID;
}

adb_status adb_log_batch_json(adb *db, const char *const *json, const size_t *lens, size_t n,
                              const adb_log_options *o, adb_log_result *res)
{
    adb__event **evs = calloc(n ? n : 1, sizeof(*evs));
    presets *ps;

    if (!evs) {
        for (size_t i = 0; i < n; i++)
            res[i].status = ADB_ERR_NOMEM;
        return ADB_ERR_NOMEM;
    }
    ps = presets_get(db);
    for (size_t i = 0; i < n; i++)
        evs[i] = prepare(db, ps, json[i], lens[i], o, &res[i]);
    presets_release(db, ps);
    submit_prepared(db, evs, n, res);
    note_preset_usage(db, o, evs, res, n);
    for (size_t i = 0; i < n; i++)
        adb__event_free(evs[i]);
    free(evs);
    return batch_status(res, n);
}

adb_status adb_log_batch_parsed(adb *db, const adb_json *const *events, size_t n,
                                const adb_log_options *o, unsigned flags, adb_log_result *res,
                                adb_event **kept)
{
    adb__event **evs = calloc(n ? n : 1, sizeof(*evs));
    size_t invalid = 0;
    presets *ps;

    for (size_t i = 0; kept && i < n; i++)
        kept[i] = NULL;
    if (!evs) {
        /* results need not come zeroed (prepare_parsed sets what is read) */
        for (size_t i = 0; i < n; i++) {
            memset(&res[i], 0, offsetof(adb_log_result, errors.e));
            res[i].message[0] = '\0';
            res[i].status = ADB_ERR_NOMEM;
        }
        return ADB_ERR_NOMEM;
    }
    ps = presets_get(db);
    for (size_t i = 0; i < n; i++) {
        evs[i] = prepare_parsed(db, ps, events[i], o, &res[i]);
        invalid += !evs[i];
    }
    presets_release(db, ps);
    bool store = !(flags & ADB_LOG_VALIDATE_ONLY) && !(invalid && (flags & ADB_LOG_ALL_OR_NOTHING));
    if (store) {
        submit_prepared(db, evs, n, res);
        note_preset_usage(db, o, evs, res, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (store && kept && evs[i] && res[i].status == ADB_OK && !res[i].duplicate)
            kept[i] = evs[i];
        else
            adb__event_free(evs[i]);
    }
    free(evs);
    if (!store)
        return invalid ? (n == 1 ? res[0].status : ADB_ERR_INVALID) : ADB_OK;
    return batch_status(res, n);
}

void adb_event_free(adb_event *ev)
{
    adb__event_free(ev);
}

adb_status adb_validate_json(adb *db, const char *json, size_t len, const adb_log_options *o,
                             adb_log_result *res)
{
    presets *ps = presets_get(db);
    adb__event *ev = prepare(db, ps, json, len, o, res);

    presets_release(db, ps);
    adb__event_free(ev);
    return res->status;
}

adb_status adb_log_json(adb *db, const char *json, size_t len, const adb_log_options *o,
                        adb_log_result *res)
{
    return adb_log_batch_json(db, &json, &len, 1, o, res);
}
