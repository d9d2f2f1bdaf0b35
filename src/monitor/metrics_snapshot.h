/*
 * metrics_snapshot.h - the snapshot round of `auditdb serve` (issue 20,
 * docs/monitoring.md "Metrics"): every interval, the process-wide figures
 * (the host's gauges, which no table keeps, and the period's requests) go
 * into metrics_snapshots (migration 0038) as a row of kind system, in one
 * transaction under an advisory lock, so that several instances write
 * contiguous, non-overlapping periods; rows older than the retention are
 * deleted in the same round. GET /api/v1/metrics/system/historical reads
 * them. An organization's series are computed from its rows instead
 * (metrics_series.c): a period's snapshot would miss the events stored
 * after it with an earlier timestamp.
 */
#ifndef ADB_MONITOR_METRICS_SNAPSHOT_H
#define ADB_MONITOR_METRICS_SNAPSHOT_H

#include "auditdb.h"

typedef struct adb__metrics_snapshots adb__metrics_snapshots;

/* Starts the round every interval_s seconds (0: none, NULL returned and
 * nothing to stop) on db's owner pool; rows older than retention_days are
 * deleted. NULL also when the thread cannot be made. */
adb__metrics_snapshots *adb__metrics_snapshots_start(adb *db, int interval_s, int retention_days);

/* Stops and frees (a round in progress is finished first). NULL ok. */
void adb__metrics_snapshots_stop(adb__metrics_snapshots *s);

/* One round now, on the owner pool of db: ADB_OK, or the database's error
 * with errbuf. For tests and the ticker. */
adb_status adb__metrics_snapshot_round(adb *db, int retention_days, char *errbuf, size_t errlen);

#endif
