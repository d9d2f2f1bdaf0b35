/*
 * log.h - the in-process library: open a database handle, log events (one or
 * a batch) and learn their fate only after PostgreSQL committed them, verify,
 * close.
 *
 *     adb_options o;  adb_options_default(&o);  o.conninfo = "...";
 *     adb *db;        adb_open(&o, &db, err, sizeof(err));
 *     adb_log_result r;
 *     adb_log_json(db, "{\"timestamp\":\"...\",\"action\":\"...\",...}", len, NULL, &r);
 *     adb_close(db);
 *
 * Thread safety: one adb handle serves any number of threads. Each call
 * writes only into the result it is given.
 */
#ifndef AUDITDB_LOG_H
#define AUDITDB_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

typedef struct adb adb;

typedef struct adb_options {
    const char *conninfo;   /* PostgreSQL conninfo or URI (required) */
    const char *home;       /* folder of master.key when master_key is NULL */
    const char *master_key; /* key material (>= 32 characters); NULL: home/master.key */
    int pool_min, pool_max; /* connections */
    int writer_threads;     /* concurrent writing transactions */
    int batch_max;          /* events per transaction */
    int queue_max;          /* events waiting; beyond it callers get ADB_ERR_BUSY */
    int max_future_s;       /* how far ahead of the clock a timestamp may be */
    int max_past_days;      /* how far back */
    bool watch_auth;        /* LISTEN for key and role changes to drop cached decisions */
    int key_usage_flush_s;  /* write keys' last-use times every N s (0: only at adb_close) */
    /* The service's logins (include/auditdb/logins.h); NULL: conninfo's.
     * api_conninfo: tenant reads (adb_tenant_*), refused when its user is
     * or can become a superuser, bypasses row-level security or owns the
     * tables. writer_conninfo: the batched writer, refused when its user is
     * or can become a superuser. */
    const char *api_conninfo;
    const char *writer_conninfo;
    /* The verifiable log (docs/log.md): every organization's Merkle tree is
     * kept up to date by a thread unless no_tree. tree_on_grown (may be
     * NULL) is called from that thread after each transaction that grew an
     * organization's tree, with its new size and root; it must not block
     * for long. */
    bool no_tree;
    void (*tree_on_grown)(void *ctx, const char *org, uint64_t size, const uint8_t root[32]);
    void *tree_on_grown_ctx;
    /* The verifiable log's signed checkpoints (docs/checkpoints.md). With
     * log_name set, adb_open loads the log key (log_key: 64 hex digits; NULL:
     * home/log.key, created when missing) and starts the checkpointer: it
     * writes each organization's latest checkpoint under checkpoint_dir
     * (NULL: home/checkpoints), at most every checkpoint_interval_ms (0: 250),
     * pushes it to witnesses (AUDITDB_WITNESSES' text; NULL: none) and writes
     * one JSON line per refusal to log (NULL: none). */
    const char *log_name;
    const char *log_key;
    const char *checkpoint_dir;
    int checkpoint_interval_ms;
    const char *witnesses;
    /* Rounds of the tree (per organization) or offers of the checkpointer
     * that fail in a row before one alerts row is raised (0: 5). */
    int log_alert_after;
    FILE *log;
} adb_options;

/* pool 2..10, 2 writer threads, batches of 1000, queue of 20000, 300 s, 3660 days. */
void adb_options_default(adb_options *o);

/* Opens the database (which must be migrated), loads the keys and starts the
 * writer. On failure *out is NULL and errbuf says why. */
ADB_WUR adb_status adb_open(const adb_options *o, adb **out, char *errbuf, size_t errlen);

/* Stops taking events, writes and commits everything queued, frees db. */
void adb_close(adb *db);

typedef struct adb_log_options {
    const char *organization_id; /* the caller's tenant: fills or must equal organizationId */
    const char *preset;          /* audit_preset name applied before validation */
    const char *idempotency_key; /* a retry with the same key returns the original event */
    bool allow_legacy_hash;      /* import: accept hashAlgorithm "SHA-256" with its hash */
} adb_log_options;

/* A validation problem, in the original's terms. */
typedef struct adb_event_error {
    char code[32];     /* REQUIRED_FIELD_MISSING, INVALID_TYPE, INVALID_FORMAT, EMPTY_VALUE,
                          EXCEEDS_MAX_LENGTH, INVALID_VALUE, EXCEEDS_MAX_DEPTH, INVALID_JSON,
                          DUPLICATE_KEY */
    char field[64];    /* API name, e.g. "timestamp", "details.x"; "" for the whole event */
    char message[192];
} adb_event_error;

#define ADB_EVENT_MAX_ERRORS 16

typedef struct adb_event_errors {
    int count;
    adb_event_error e[ADB_EVENT_MAX_ERRORS];
} adb_event_errors;

typedef struct adb_log_result {
    adb_status status;      /* OK (committed), ERR_INVALID (errors below), ERR_BUSY,
                               ERR_DB_CONNECT / ERR_DB_QUERY (not stored) */
    int64_t id;             /* audit_log.id: a locator inside this database */
    char event_id[37];      /* audit_log.event_id: the public id, a lowercase UUID */
    char timestamp[32];     /* as stored: YYYY-MM-DDTHH:MM:SS.ffffffZ */
    char hash[65];
    char organization_id[256];
    int64_t chain_seq;
    bool duplicate;         /* an earlier event had this idempotency key: its id and timestamp */
    int retry_after_ms;     /* with ERR_BUSY and database errors */
    adb_event_errors errors;
    char message[256];      /* for database errors */
} adb_log_result;

/* Logs one event given as a JSON object. Returns when it is committed (or
 * refused): the return value equals res->status. */
adb_status adb_log_json(adb *db, const char *json, size_t len, const adb_log_options *o,
                        adb_log_result *res);

/* Logs n events; each gets its own result (valid ones are stored even when
 * others are refused). Returns ADB_OK when every event was stored. */
adb_status adb_log_batch_json(adb *db, const char *const *json, const size_t *lens, size_t n,
                              const adb_log_options *o, adb_log_result *res);

/* Validates one event exactly as adb_log_json would, storing nothing:
 * ADB_OK or ADB_ERR_INVALID with res->errors. */
adb_status adb_validate_json(adb *db, const char *json, size_t len, const adb_log_options *o,
                             adb_log_result *res);

/* ---- events already parsed (auditdb's own HTTP server) --------------------
 * A caller that has parsed a request with the library's JSON parser
 * (src/event/json.h) hands the parsed events over instead of text: nothing
 * is written back to text and parsed again. It may keep the events as they
 * were committed (id, timestamp, hash, chain fields set by the writer) to
 * answer from them instead of reading them back from PostgreSQL. */
typedef struct adb_json adb_json;     /* a parsed JSON value (opaque here) */
typedef struct adb__event adb_event;  /* a validated, sealed event (opaque here) */

enum {
    ADB_LOG_VALIDATE_ONLY = 1u << 0,  /* validate (res[i].status OK or ERR_INVALID), store nothing */
    ADB_LOG_ALL_OR_NOTHING = 1u << 1, /* one invalid event: store nothing and return ERR_INVALID
                                         (the valid events' results then say OK: valid, not stored) */
};

/* Logs n parsed events exactly as adb_log_batch_json logs their text (same
 * validation, presets and results), with flags above. kept, when not NULL,
 * has n slots: kept[i] gets event i as committed when res[i].status is OK and
 * it was stored (NULL otherwise: refused, validate-only, or a duplicate, whose
 * original lies in the database); free each with adb_event_free. res need not
 * be zeroed: every member a caller reads is set (errors.e only up to errors.count). */
adb_status adb_log_batch_parsed(adb *db, const adb_json *const *events, size_t n,
                                const adb_log_options *o, unsigned flags, adb_log_result *res,
                                adb_event **kept);

void adb_event_free(adb_event *ev);

/* The handle's connection pool (owned by db). */
adb_pool *adb_get_pool(adb *db);

/* The upper bounds of the batch-size histogram (events per committed batch). */
#define ADB_WRITER_BATCH_BOUNDS { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000 }
#define ADB_WRITER_BATCH_NBOUNDS 10

/* Writer figures, for metrics. */
typedef struct adb_writer_stats {
    long long events_written, batches, duplicates, failed, busy_rejections;
    long long chain_conflicts; /* batches written again because a chain head moved */
    int queue_depth, queue_max;
    int last_batch_size;
    /* committed batches of at most ADB_WRITER_BATCH_BOUNDS[i] events
     * (cumulative, as Prometheus buckets); batch_events: their events in all */
    long long batch_le[ADB_WRITER_BATCH_NBOUNDS];
    long long batch_events;
} adb_writer_stats;

void adb_writer_get_stats(adb *db, adb_writer_stats *out);

#endif
