/*
 * outcome.h - what became of a batch whose connection broke during COMMIT.
 *
 * A COMMIT whose answer was lost may have been applied. Answering "nothing
 * was stored" then would be a lie that makes clients store duplicates, and
 * answering "stored" a lie that loses events. The writer asks the database,
 * on another connection, once the old backend is gone. See docs/writer.md.
 */
#ifndef ADB_WRITER_OUTCOME_H
#define ADB_WRITER_OUTCOME_H

#include "../event/event.h"

typedef enum adb__outcome {
    ADB_OUTCOME_COMMITTED,
    ADB_OUTCOME_ABORTED,
    ADB_OUTCOME_UNKNOWN, /* the database could not be asked within the budget */
} adb__outcome;

/* Resolves the outcome of the transaction that ran on backend old_pid and
 * stored ev (any one event of the batch, with its id, timestamp and chain
 * hash; NULL when the batch stored no row: then there is nothing to lose and
 * the answer is COMMITTED). Tries for at most budget_ms. err says why when
 * the answer is UNKNOWN. */
adb__outcome adb__commit_outcome(adb_pool *pool, int old_pid, const adb__event *ev, int budget_ms,
                                 char *err, size_t errlen);

#endif
