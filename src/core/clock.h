/*
 * clock.h - wall-clock milliseconds that tests can move (internal).
 *
 * In a release build adb__clock_ms is the real clock. In a test build
 * (ADB_TEST_BUILD: make test) the file named by the environment variable
 * `env`, when set, holds an offset in milliseconds (a signed decimal
 * integer, e.g. 18000000 for five hours) added to the real clock; it is read
 * at every call, so a test moves the clock of a running serve by rewriting
 * the file. A missing or malformed file means no offset. Release builds
 * never read the variable. The delivery clock (AUDITDB_DELIVERY_CLOCK_FILE)
 * and the report scheduler's (AUDITDB_REPORT_CLOCK_FILE) are two of them.
 */
#ifndef ADB_CLOCK_H
#define ADB_CLOCK_H

#include <stdint.h>

int64_t adb__clock_ms(const char *env);

#endif
