/*
 * heads.h - chain heads: an in-process cache of every organization's last
 * chain position, reservations in a fixed order, and the database check
 * that makes the cache safe (internal; docs/writer.md "Chain heads").
 *
 * A batch reserves its organizations' positions from the cache, computes its
 * chain links and COPYs its rows while earlier batches are still writing;
 * then, in reservation order (its *turn*), it locks the heads in the
 * database and checks that they are exactly where it started. A mismatch (a
 * batch before it failed, or another process appended) is a *conflict*: the
 * batch rolls back and is written again in *locked* mode, which reads the
 * heads under the database lock at its turn, as a plain serial writer would.
 * Chains therefore never fork: the database row lock decides, the cache
 * only lets the common case run in parallel.
 */
#ifndef ADB_HEADS_H
#define ADB_HEADS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditdb/pool.h"

typedef struct adb__heads adb__heads;

/* One organization of a batch. */
typedef struct adb__head {
    const char *org;     /* borrowed from an event of the batch */
    int64_t base_seq;    /* head the batch builds on */
    char base_hash[65];
    int64_t seq;         /* head after the batch's events (advanced by the caller) */
    char hash[65];
    uint64_t epoch;      /* cache epoch seen at reservation */
} adb__head;

adb__heads *adb__heads_new(void);
void adb__heads_free(adb__heads *hs);

/*
 * Reservation, in two steps around the caller's chain computation:
 * adb__heads_reserve_begin() holds the cache lock on success and fills
 * base_seq/base_hash (= seq/hash) of every head, h[] sorted by org. In
 * speculative mode, heads missing from the cache are read from the database
 * on c (no lock taken). In locked mode the bases are unknown until the turn
 * (zeroed here), and new speculative reservations wait until the locked
 * batch has passed its turn. The caller then advances seq/hash of each head
 * and calls adb__heads_reserve_end(), which records the new heads (speculative
 * mode) and returns the batch's ticket. On failure (false, err set) nothing
 * is held.
 */
bool adb__heads_reserve_begin(adb__heads *hs, PGconn *c, bool locked, adb__head *h, size_t n,
                              char *err, size_t errlen);
uint64_t adb__heads_reserve_end(adb__heads *hs, bool locked, adb__head *h, size_t n);

/* Waits until every batch reserved before ticket has passed its turn. */
void adb__heads_wait_turn(adb__heads *hs, uint64_t ticket);

/*
 * Ends the turn of ticket (after adb__heads_wait_turn). ok: the heads were
 * locked, checked and updated in the database (a locked batch's new heads
 * enter the cache). !ok: the cache entries this batch built on are dropped,
 * so that later reservations read the database again.
 */
void adb__heads_pass_turn(adb__heads *hs, uint64_t ticket, bool locked, bool ok,
                          const adb__head *h, size_t n);

/* Drops the cache entries h[] built on (a COMMIT that failed after the turn). */
void adb__heads_forget(adb__heads *hs, const adb__head *h, size_t n);

/*
 * In the batch's transaction on c, at its turn: creates missing head rows
 * and locks the heads FOR UPDATE in organization order. Speculative: returns
 * false with *conflict set when a head is not at base_seq/base_hash. Locked:
 * sets base and seq/hash from the database. Either way, under those locks,
 * the database checks that each head stands on its last stored position
 * (audit_chain_position, migration 0013): a head moved back or deleted
 * outside auditdb makes this fail (no conflict: the batch is refused, and a
 * taken position is never written again).
 */
/* The check, a function of migration 0013 ($1: the organizations). */
#define ADB__HEADS_CHECK_SQL "SELECT auditdb_check_chain_heads($1::text[])"

bool adb__heads_lock(adb_pool *pool, PGconn *c, bool locked, adb__head *h, size_t n,
                     bool *conflict, char *err, size_t errlen);

/* Tells audit_log's trigger, for the rest of the transaction on c, that the
 * writer records the positions itself (in one round trip with the BEGIN). */
#define ADB__WRITER_TAKES_POSITIONS_SQL \
    "SELECT set_config('auditdb.writer_takes_positions', 'on', true)"

/* Writes seq/hash of every head and records the positions the batch took
 * (base_seq+1..seq of each head, one range each in audit_chain_position,
 * migration 0013), after the rows are in, in one round trip. The writer
 * records them itself, under the head locks, rather than leave them to
 * audit_log's trigger at COPY time: a speculative COPY would then hold
 * positions another process may be taking under its lock, and the two
 * would wait for each other. */
bool adb__heads_store(adb_pool *pool, PGconn *c, const adb__head *h, size_t n, char *err,
                      size_t errlen);

/* The writer's round trips: adb_pool_pipeline on c, a connection of p; on a
 * failure, the first failed statement's error (else the connection's) in
 * err and every result cleared. */
/* Makes every transaction committed so far on c durable: a small
 * transaction that writes WAL (a transactional logical message, prefix
 * "auditdb") committed with synchronous_commit on, so that its COMMIT
 * returns once the WAL up to it, and thus every earlier commit record, is
 * flushed (and confirmed by a synchronous standby when there is one). The
 * checkpointer runs it before it signs (the tree's rounds commit
 * asynchronously); the outcome check with local (this server's disk only,
 * not waiting for a standby: what a COMMIT cut off in its standby wait had
 * done). docs/writer.md, "Durability". False with err when the connection
 * failed. */
bool adb__writer_durable(adb_pool *p, PGconn *c, bool local, char *err, size_t errlen);

bool adb__writer_pipeline(adb_pool *p, PGconn *c, int n, const adb_pool_stmt *stmts,
                          PGresult **res, char *err, size_t errlen);

#endif
