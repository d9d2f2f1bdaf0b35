/*
 * clock.c - the delivery clock: the time the queue, the retry schedule and
 * the circuit breaker reason with (docs/delivery.md, "Health and breakers").
 *
 * In a release build it is the real clock. In a test build (make test,
 * MODE=test, which defines ADB_TEST_BUILD) the file named by
 * AUDITDB_DELIVERY_CLOCK_FILE, when set, holds an offset in milliseconds
 * (a signed decimal integer, e.g. 18000000 for five hours) added to the real
 * clock; it is read at every call, so a test moves the clock of a running
 * serve by rewriting the file. A missing or malformed file means no offset.
 * Release builds never read the variable.
 */
#include "delivery.h"

#include <time.h>

#ifdef ADB_TEST_BUILD
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t test_offset_ms(void)
{
    const char *path = getenv("AUDITDB_DELIVERY_CLOCK_FILE");
    char text[64];
    size_t n;
    FILE *f;

    if (!path || !*path)
        return 0;
    f = fopen(path, "re");
    if (!f)
        return 0;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return 0;
    while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
        end++;
    return *end ? 0 : (int64_t)v;
}
#endif

int64_t adb__delivery_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#ifdef ADB_TEST_BUILD
    ms += test_offset_ms();
#endif
    return ms;
}
