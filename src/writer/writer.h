/*
 * writer.h - the batched durable writer (internal).
 *
 * Callers hand sealed events (hash and signature set) to a bounded queue and
 * wait on a ticket; writer threads take up to batch_max events at a time and
 * write each batch in one transaction: ids, idempotency keys, chain heads
 * locked per organization (in organization order, so writers never
 * deadlock), chain links, COPY into audit_log, heads advanced, COMMIT. Only
 * then are the tickets signalled. See docs/writer.md.
 */
#ifndef ADB_WRITER_H
#define ADB_WRITER_H

#include <pthread.h>
#include "auditdb.h"
#include "../event/event.h"
#include "../integrity/integrity.h"
#include "../log/integrator.h"
#include "../log/tiles.h"

/* Completion of a group of jobs; lives with the caller until done. */
typedef struct adb__ticket {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t remaining;
} adb__ticket;

void adb__ticket_init(adb__ticket *t, size_t n);
void adb__ticket_wait(adb__ticket *t);
void adb__ticket_destroy(adb__ticket *t);

typedef struct adb__job {
    adb__event *ev;        /* owned by the caller; the writer fills id, chain fields */
    adb_log_result *res;   /* filled by the writer */
    adb__ticket *ticket;
} adb__job;

typedef struct adb__writer adb__writer;

typedef struct adb__writer_options {
    int threads;
    int batch_max;
    int queue_max;
    /* where growth.c runs ANALYZE, which only the tables' owner may do;
     * NULL: the writer's own pool (then its login must own them) */
    adb_pool *analyze_pool;
    /* after each COMMIT, the batch's stored events in chain order per
     * organization (the tree's integrator, integrator.h); NULL: none. Must
     * not wait for the database. */
    void (*on_commit)(void *ctx, const adb__tree_leaf *leaves, size_t n);
    void *on_commit_ctx;
} adb__writer_options;

/* Another reader of every committed batch: called after each COMMIT, on the
 * writer's thread, with the batch's stored events (chain fields set; not
 * duplicates), before their callers are answered. Must copy what it keeps and
 * never wait for the database. With fn NULL it returns once no call is in
 * progress, so that the old ctx may then be freed. */
typedef void (*adb__writer_observer)(void *ctx, const adb__event *const *evs, size_t n);
void adb__writer_observe(adb__writer *w, adb__writer_observer fn, void *ctx);

/* Starts the writer threads. pool and keys must outlive the writer. */
adb__writer *adb__writer_start(adb_pool *pool, const adb__keys *keys,
                               const adb__writer_options *o, char *errbuf, size_t errlen);

/* Queues n jobs, all or none. ADB_ERR_BUSY (with *retry_after_ms) when the
 * queue cannot take them; ADB_ERR_INVALID after stop began. */
adb_status adb__writer_submit(adb__writer *w, adb__job *jobs, size_t n, int *retry_after_ms);

/* Writes everything queued, stops the threads, frees w. */
void adb__writer_stop(adb__writer *w);

void adb__writer_stats(adb__writer *w, adb_writer_stats *out);

#endif
