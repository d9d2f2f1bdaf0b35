/*
 * growth.h - analyze a partition of audit_log as it fills, so that plans
 * are made again with its size. The writer counts the rows it stores in each
 * month's partition; a partition that was never analyzed is analyzed with its
 * first rows, then at 1,000 rows and each time it grew fourfold since.
 * ANALYZE gives the planner the partition's size and statistics and
 * invalidates the plans every connection cached for it, so a generic plan
 * made while the partition was empty (where every index looks the same) is
 * not kept while it fills. The ANALYZEs run on a thread of their own with a
 * pooled connection: no writer thread and no caller waits for them.
 * See docs/writer.md, "Plans as partitions fill".
 */
#ifndef AUDITDB_WRITER_GROWTH_H
#define AUDITDB_WRITER_GROWTH_H

#include "auditdb.h"

#define ADB__GROWTH_FIRST_MARK 1000  /* rows at the first mark of a partition */
#define ADB__GROWTH_FACTOR 4         /* then each time it grew this many times */
#define ADB__GROWTH_LAST 64000000LL  /* beyond this, autovacuum's own schedule is enough */
#define ADB__GROWTH_SMALL_SAMPLE_ROWS 1000000LL /* below: a sample of 3,000 rows */

typedef struct adb__growth adb__growth;

/* Starts the analyzing thread; pool must outlive the tracker. NULL when out
 * of memory or no thread could be started. */
adb__growth *adb__growth_start(adb_pool *pool);

/* Stops the thread (an ANALYZE under way finishes first) and frees g; NULL is
 * fine. */
void adb__growth_stop(adb__growth *g);

/* Adds count rows stored (committed) in the partition of month (year * 12 +
 * month - 1). When that is the first time for this process, or the
 * partition passed its next mark, the thread is asked to look at it; never
 * waits for it. Thread-safe. */
void adb__growth_add(adb__growth *g, int month, long long count);

#endif
