/*
 * supervise.c - while `auditdb serve` waits for SIGINT/SIGTERM, it watches the
 * embedded postmaster. A postmaster that died (kill -9, the OOM killer) is
 * started again, with backoff between failed attempts (1 s doubling to 30 s),
 * and a line on stderr says why; serve itself never needs a restart, and the
 * pool reconnects on its own. See docs/embedded.md "Supervision".
 */
#include "cli.h"
#include "../core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#define TICK_MS 500
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

typedef struct supervisor {
    adb_embedded *emb;
    pid_t known;      /* the postmaster last seen alive */
    int attempts;     /* failed restarts since it died */
    long backoff_ms;
    double next_try;  /* adb__now_ms() of the next attempt */
    double died_at;
} supervisor;

static void check(supervisor *s)
{
    pid_t pm = adb_embedded_postmaster_pid(s->emb), fresh;
    double now = adb__now_ms();

    if (pm) {
        s->known = pm;
        return;
    }
    if (s->attempts == 0 && s->died_at == 0) {
        s->died_at = now;
        fprintf(stderr, "auditdb: the embedded PostgreSQL server (postmaster pid %ld) is gone "
                "(it exited or was killed); restarting it\n", (long)s->known);
    }
    if (now < s->next_try)
        return;
    if (adb_embedded_restart(s->emb, &fresh) == ADB_OK) {
        fprintf(stderr, "auditdb: embedded PostgreSQL restarted (postmaster pid %ld) %.1f s "
                "after it was found gone\n", (long)fresh, (adb__now_ms() - s->died_at) / 1000.0);
        s->known = fresh;
        s->attempts = 0;
        s->backoff_ms = 0;
        s->next_try = 0;
        s->died_at = 0;
        return;
    }
    s->attempts++;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    s->next_try = adb__now_ms() + (double)s->backoff_ms;
    fprintf(stderr, "auditdb: could not restart the embedded PostgreSQL (attempt %d): %s; next "
            "attempt in %ld s\n", s->attempts, adb_embedded_errmsg(s->emb), s->backoff_ms / 1000);
}

int cli_supervise(const sigset_t *sigs, adb_embedded *emb)
{
    supervisor s = { .emb = emb, .known = emb ? adb_embedded_postmaster_pid(emb) : 0 };
    struct timespec tick = { TICK_MS / 1000, (TICK_MS % 1000) * 1000000L };

    for (;;) {
        int sig = emb ? sigtimedwait(sigs, NULL, &tick) : sigwaitinfo(sigs, NULL);
        if (sig > 0)
            return sig;
        if (emb && errno == EAGAIN)
            check(&s);
    }
}
