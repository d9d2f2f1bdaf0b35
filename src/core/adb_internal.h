/*
 * adb_internal.h - the adb handle's insides, shared by the library's own
 * modules (verify, the HTTP front) but not by callers.
 */
#ifndef ADB_INTERNAL_H
#define ADB_INTERNAL_H

#include <pthread.h>
#include "auditdb.h"
#include "../event/event.h"
#include "../integrity/integrity.h"
#include "tenant_proof.h"
#include "../log/note.h"

typedef struct presets {
    adb__preset *items;
    size_t n;
    int refs;
    double loaded_ms;
    bool stale;     /* a preset changed since it was read (adb__presets_changed) */
} presets;

struct adb__writer;
typedef struct adb__auth adb__auth;

adb__auth *adb__auth_new(void);
void adb__auth_free(adb__auth *a);
#include "cache_stats.h"
/* The API keys' and the roles' caches' figures (auth.c). */
void adb__auth_cache_stats(adb *db, adb__cache_stats *keys, adb__cache_stats *roles);

struct adb {
    adb_options o;
    adb_pool *pool;         /* the owner's: everything but the two below */
    adb_pool *api_pool;     /* o.api_conninfo's (tenant reads); NULL: pool */
    adb_pool *writer_pool;  /* o.writer_conninfo's (the writer); NULL: pool */
    adb__keys keys;
    adb__tenant_key tenant_key; /* the tenant proof's secret (tenant_proof.h) */
    struct adb__writer *writer;
    struct adb__integrator *integrator; /* the trees (src/log/integrator.c); NULL: o.no_tree */
    pthread_mutex_t mu;  /* presets snapshot */
    presets *presets;
    unsigned long presets_gen; /* bumped by adb__presets_changed */
    struct adb__preset_usage *preset_usage; /* preset applications, flushed in batches */
    adb__auth *auth;     /* key and role caches (src/auth/auth.c) */
    struct adb__key_usage *key_usage; /* last use of each key, flushed in batches (src/auth/key_usage.c) */
    pthread_t watcher;   /* LISTEN auditdb_auth (o.watch_auth) */
    bool watching;
    int stop_pipe[2];
    /* the maintenance scheduler (src/lifecycle/partitions.c) */
    pthread_t maint;
    bool maint_running;
    int maint_pipe[2];
    int maint_interval_s, maint_ahead;
    long long maint_runs, maint_created;
    /* the verifiable log (o.log_name): its key and the checkpointer */
    adb__note_signer log_signer;
    bool log_loaded;
    struct adb__checkpointer *checkpointer;
    /* the service's own failures (src/monitor/errors.c): set by adb__errmon_start, read
     * atomically by adb__error_record from any thread, stopped last by adb_close */
    struct adb__errmon *errmon;
};

adb_pool *adb__pool(adb *db);
/* The pool tenant reads run on (the api login's, else the owner's). */
adb_pool *adb__tenant_pool(adb *db);
/* adb_tenant_end(db, c, true) that says whether the COMMIT committed (an
 * aborted transaction "commits" as ROLLBACK): the connection goes back
 * either way. */
bool adb__tenant_commit(adb *db, PGconn *c);
const adb__keys *adb__db_keys(adb *db);
/* The tree integrator (NULL when the handle runs without trees). */
struct adb__integrator *adb__db_integrator(adb *db);
/* the batched writer (writer.h), e.g. to observe committed batches */
struct adb__writer *adb__db_writer(adb *db);
/* The log key (NULL when the handle has no verifiable log) and the
 * checkpointer its tree offers new sizes to (NULL likewise). */
const adb__note_signer *adb__db_log_signer(adb *db);
struct adb__checkpointer *adb__db_checkpointer(adb *db);
/* The proof of org on c's backend, for auditdb.tenant_proof (tenant_proof.h). */
bool adb__db_tenant_proof(adb *db, PGconn *c, const char *org, char out[65]);

/* A preset was written (through this handle's presets API, or anywhere: the
 * watcher hears NOTIFY auditdb_auth 'audit_preset'): the next event reads
 * audit_preset afresh. */
void adb__presets_changed(adb *db);
/* The handle's preset usage counter (src/core/preset_usage.h). */
struct adb__preset_usage *adb__db_preset_usage(adb *db);

#endif
