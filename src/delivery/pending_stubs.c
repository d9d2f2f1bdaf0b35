/*
 * pending_stubs.c - TEMPORARY stand-ins for parts other helpers of issue 18
 * write (ddest: destination.c, ssrf.c; dhealth: breaker.c, clock.c), so that
 * the queue and the worker build and run before those branches are merged.
 * Deleted by the merge that brings the real ones (duplicate symbols).
 */
#include "delivery.h"
#include "../core/util.h"

#include <string.h>
#include <time.h>

adb_status adb__dest_load(adb *h, PGconn *c, const char *org, int id, adb__dest *out)
{
    char ids[16];
    (void)h;
    memset(out, 0, sizeof(*out));
    adb__fmt(ids, sizeof(ids), "%d", id);
    const char *p[] = { ids, org };
    PGresult *r = PQexecParams(c, "SELECT type, disabled, config::text FROM delivery_destinations"
                                  " WHERE id = $1::int AND organization_id = $2", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ADB_ERR_NOT_FOUND;
    }
    out->id = id;
    adb__fmt(out->org, sizeof(out->org), "%s", org);
    adb__fmt(out->type, sizeof(out->type), "%s", PQgetvalue(r, 0, 0));
    out->disabled = !strcmp(PQgetvalue(r, 0, 1), "true");
    out->config = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
    PQclear(r);
    return out->config ? ADB_OK : ADB_ERR_INTERNAL;
}

void adb__dest_free(adb__dest *d)
{
    if (d) {
        json_decref(d->config);
        d->config = NULL;
    }
}

adb_status adb__ssrf_attach(CURL *c)
{
    (void)c;
    return ADB_OK;
}

adb_status adb__breaker_admit(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms, bool *admit,
                              int64_t *retry_at_ms)
{
    (void)h; (void)c; (void)d; (void)now_ms;
    *admit = true;
    *retry_at_ms = 0;
    return ADB_OK;
}

adb_status adb__health_record(adb *h, PGconn *c, const adb__dest *d, const adb__attempt *a,
                              int64_t now_ms)
{
    (void)h; (void)c; (void)d; (void)a; (void)now_ms;
    return ADB_OK;
}

int64_t adb__delivery_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
