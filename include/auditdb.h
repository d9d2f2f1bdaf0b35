/*
 * auditdb.h - public API of libauditdb, the tamper-evident audit database.
 *
 * This umbrella header pulls in every public part. Nothing in the library
 * prints or exits: functions return an adb_status and leave a message on the
 * handle they were given (see each header for who frees what).
 */
#ifndef AUDITDB_H
#define AUDITDB_H

#define ADB_VERSION_MAJOR 0
#define ADB_VERSION_MINOR 1
#define ADB_VERSION_PATCH 0
#define ADB_VERSION_STRING "0.1.0"

#include "auditdb/status.h"
#include "auditdb/config.h"
#include "auditdb/embedded.h"
#include "auditdb/pool.h"
#include "auditdb/logins.h"
#include "auditdb/migrate.h"
#include "auditdb/log.h"
#include "auditdb/verify.h"
#include "auditdb/auth.h"
#include "auditdb/partitions.h"
#include "auditdb/maintenance.h"

/* Returns the library version as "MAJOR.MINOR.PATCH" (static storage). */
const char *adb_version(void);

#endif
