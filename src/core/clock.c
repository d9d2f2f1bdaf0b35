/*
 * clock.c - wall-clock milliseconds that tests can move (clock.h).
 */
#include "clock.h"

#include <time.h>

#ifdef ADB_TEST_BUILD
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t test_offset_ms(const char *env)
{
    const char *path = env ? getenv(env) : NULL;
    char text[64], *end;
    size_t n;
    FILE *f;

    if (!path || !*path || !(f = fopen(path, "re")))
        return 0;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return 0;
    while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
        end++;
    return *end ? 0 : (int64_t)v;
}
#endif

int64_t adb__clock_ms(const char *env)
{
    struct timespec ts;

    (void)env;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#ifdef ADB_TEST_BUILD
    ms += test_offset_ms(env);
#endif
    return ms;
}
