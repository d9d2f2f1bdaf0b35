/*
 * verify_log.h - verification against the verifiable log (internal): while
 * verify walks an organization's chain, the leaves recomputed from the chain
 * feed a Merkle frontier (64 hashes: constant memory), and at the end of the
 * organization the chain, the stored tree (src/log/tiles.h), the signed
 * checkpoint file outside the database (AUDITDB_CHECKPOINT_DIR) and the
 * log_checkpoint rows must agree. docs/integrity.md section 6, "The log".
 */
#ifndef ADB_INTEGRITY_VERIFY_LOG_H
#define ADB_INTEGRITY_VERIFY_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "auditdb.h"

typedef struct adb__vlog adb__vlog;

/* A problem found: seq the chain position it is about (0: none). */
typedef void (*adb__vlog_problem_fn)(void *ctx, int64_t seq, const char *kind,
                                     const char *expected, const char *found, const char *message);

/* checkpoint_dir: where the log keeps its checkpoint files (NULL: not
 * checked); vkey: the log's verifier key text (NULL: the file and the rows'
 * signatures are not checked, their sizes and roots still are);
 * not_before: a file changed at or after this time (Unix seconds) may be
 * newer than the walk's snapshot. NULL with err filled on a bad vkey or
 * out of memory. */
adb__vlog *adb__vlog_new(const char *checkpoint_dir, const char *vkey, int64_t not_before,
                         adb__vlog_problem_fn fn, void *ctx, char *err, size_t errlen);
void adb__vlog_free(adb__vlog *l);

/* Starts an organization; c reads the tree and log_checkpoint in the walk's
 * snapshot. */
void adb__vlog_begin(adb__vlog *l, PGconn *c, const char *org);

/* The chain's position seq: its entry (event id || content hash), or NULL
 * for a position whose content is gone (a stub: the tree's entry stands) or
 * could not be recomputed. Positions out of order stop the comparison (the
 * walk reports them). */
void adb__vlog_leaf(adb__vlog *l, int64_t seq, const uint8_t *entry);

/* Ends the organization whose chain ends at position last (0: no event):
 * compares and reports. */
void adb__vlog_end(adb__vlog *l, int64_t last);

/* Organizations the walk never met that have a tree, a checkpoint row or a
 * checkpoint file: their events are all gone (reported as log_truncated).
 * walked[0..n) sorted by strcmp. Calls start(ctx, org) before reporting one. */
void adb__vlog_vanished(adb__vlog *l, PGconn *c, const char *only_org, char *const *walked,
                        size_t n, void (*start)(void *ctx, const char *org), void *ctx);

#endif
