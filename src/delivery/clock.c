/*
 * clock.c - the delivery clock: the time the queue, the retry schedule and
 * the circuit breaker reason with (docs/delivery.md, "Health and breakers").
 *
 * The real clock; in a test build moved by the file named by
 * AUDITDB_DELIVERY_CLOCK_FILE (src/core/clock.h).
 */
#include "delivery.h"
#include "../core/clock.h"

int64_t adb__delivery_now_ms(void)
{
    return adb__clock_ms("AUDITDB_DELIVERY_CLOCK_FILE");
}
