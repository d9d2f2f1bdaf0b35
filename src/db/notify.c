/*
 * notify.c - waiting for a NOTIFY, a stop or a timeout (notify.h).
 */
#include "notify.h"

#include <poll.h>
#include <stdbool.h>

/* Drops the notifications read so far; true when there was one. */
static bool drain(PGconn *c)
{
    PGnotify *nt;
    bool any = false;

    while ((nt = PQnotifies(c))) {
        PQfreemem(nt);
        any = true;
    }
    return any;
}

void adb__pg_wait_notify(PGconn *c, int stop_fd, int ms)
{
    struct pollfd fds[2] = { { .fd = PQsocket(c), .events = POLLIN },
                             { .fd = stop_fd, .events = POLLIN } };

    if (drain(c)) /* one already read with an earlier result */
        return;
    if (poll(fds, 2, ms) > 0 && (fds[0].revents & POLLIN)) {
        PQconsumeInput(c);
        (void)drain(c);
    }
}
