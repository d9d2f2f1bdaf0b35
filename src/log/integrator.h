/*
 * integrator.h - keeps every organization's Merkle tree (tiles.h) up to date
 * with its committed events (internal; docs/log.md "Integrator").
 *
 * The writer hands each committed batch's events (organization, chain
 * position, entry) to adb__integrator_offer right after COMMIT; one thread
 * appends them to the trees, one transaction per organization and round
 * holding the tree head row FOR UPDATE (so serve instances on one database
 * take turns), tiles and head together. What the memory path misses (a full
 * queue, another instance's events, a restart, the first start after the
 * migration) is read from the database in chain order, live and archived
 * rows, by a scan every interval_ms and whenever a gap shows.
 */
#ifndef ADB_LOG_INTEGRATOR_H
#define ADB_LOG_INTEGRATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditdb.h"
#include "../integrity/integrity.h"

/* One committed event as the writer knows it. org is only read during the call. */
typedef struct adb__tree_leaf {
    const char *org;
    int64_t seq;        /* chain_seq: leaf index + 1 */
    uint8_t entry[48];  /* adb__tree_entry_make(event id, content hash) */
} adb__tree_leaf;

typedef void (*adb__tree_grown_fn)(void *ctx, const char *org, uint64_t size,
                                   const uint8_t root[32]);

typedef struct adb__integrator_options {
    adb_pool *pool;          /* the owner's: writes the tree, reads audit_log and archives */
    const adb__keys *keys;   /* recomputing content hashes of rows read back */
    size_t queue_max;        /* events held in memory (0: 262144); beyond: read back later */
    int interval_ms;         /* the database scan (0: 1000) */
    int alert_after;         /* an organization's failed rounds in a row before its alert row (0: 5) */
    adb__tree_grown_fn on_grown; /* after each transaction that grew a tree (may be NULL) */
    void *on_grown_ctx;
} adb__integrator_options;

typedef struct adb__integrator adb__integrator;

/* Starts the thread; NULL with err filled on failure. The first scan
 * backfills every organization's tree from what is stored. */
adb__integrator *adb__integrator_start(const adb__integrator_options *o, char *err, size_t errlen);

/* Takes n committed events; never waits for the database (drops them when
 * the queue is full: the scan reads them back). */
void adb__integrator_offer(adb__integrator *in, const adb__tree_leaf *l, size_t n);

/* Runs a database scan now and waits (at most timeout_ms) until it and
 * everything offered before the call are integrated: true when done. */
bool adb__integrator_sync(adb__integrator *in, int timeout_ms);

typedef struct adb__integrator_stats {
    long long rounds;        /* transactions that grew a tree */
    long long leaves;        /* leaves appended */
    long long from_memory;   /* of them, handed over by the writer */
    long long read_back;     /* read from the database */
    long long placeholders;  /* positions whose event was gone before the tree existed */
    long long dropped;       /* offered while the queue was full */
    long long failures;      /* rounds that failed (retried by the next scan) */
    long long failing_orgs;  /* organizations whose last AUDITDB_LOG_ALERT_AFTER rounds failed */
    long long alerts;        /* alert rows raised for them (one per streak) */
    long long alerts_failed; /* alert rows that could not be inserted */
    double delay_p50_ms, delay_p99_ms, delay_max_ms; /* offer -> integrated (memory path) */
    long long delay_count;
    char last_error[256];
} adb__integrator_stats;

void adb__integrator_stats_get(adb__integrator *in, adb__integrator_stats *out);
/* Forgets the delay figures (a benchmark's warm-up). */
void adb__integrator_stats_reset_delay(adb__integrator *in);

/* Integrates what is offered, stops the thread, frees in (NULL: nothing). */
void adb__integrator_stop(adb__integrator *in);

#endif
