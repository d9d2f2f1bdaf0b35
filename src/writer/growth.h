/*
 * growth.h - when a partition of audit_log has grown enough that its plans
 * should be made again. The writer counts the rows it stores in each month's
 * partition and analyzes a partition that was never analyzed, then again at
 * 1,000 rows and each time it grew fourfold since. ANALYZE gives the planner
 * the partition's real size and statistics and invalidates the plans that
 * every connection cached for it, so a generic plan made while the partition
 * was empty (where every index looks the same) is not kept while it fills.
 * See docs/writer.md, "Plans as partitions fill".
 */
#ifndef AUDITDB_WRITER_GROWTH_H
#define AUDITDB_WRITER_GROWTH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define ADB__GROWTH_FIRST_MARK 1000  /* rows at the first mark of a partition */
#define ADB__GROWTH_FACTOR 4         /* then each time it grew this many times */
#define ADB__GROWTH_LAST 64000000LL  /* beyond this, autovacuum's own schedule is enough */

typedef struct adb__growth adb__growth;

adb__growth *adb__growth_new(void);
void adb__growth_free(adb__growth *g); /* NULL is fine */

/* What the caller of adb__growth_add does next for that month. */
typedef enum {
    ADB__GROWTH_NONE,  /* nothing */
    ADB__GROWTH_FIRST, /* the first rows this process stored there: adb__growth_check */
    ADB__GROWTH_MARK   /* it passed its next mark: adb__growth_check */
} adb__growth_due;

/* Adds count rows stored in the partition of month (year * 12 + month - 1).
 * Only one caller gets FIRST or MARK for a given mark. Thread-safe. */
adb__growth_due adb__growth_add(adb__growth *g, int month, long long count);

/* Over c, outside any transaction: the first time, reads the partition's
 * size as PostgreSQL last recorded it (pg_class.reltuples) and analyzes it
 * only if it was never analyzed; at a mark, analyzes it. Sets the next mark
 * from the size. On failure writes the reason to err and returns false (the
 * next mark is still set). */
bool adb__growth_check(adb__growth *g, PGconn *c, int month, adb__growth_due due, char *err,
                       size_t errlen);

/* Forgets what is known of month's partition, for a FIRST or MARK that was
 * not followed by adb__growth_check (no connection): the next rows stored
 * there are a FIRST again, which reads its size. */
void adb__growth_forget(adb__growth *g, int month);

#endif
