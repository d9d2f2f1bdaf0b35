/*
 * locate.c - from the id an auditor cites (a UUID, or the numeric locator of
 * this database) to the stored row (docs/events.md, "Event id").
 */
#include "auditdb.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

adb_status adb_event_locate(adb *db, const char *ref, const char *organization_id, int64_t *id,
                            char event_id[37], char *errbuf, size_t errlen)
{
    char uuid[ADB_EVENT_ID_LEN + 1], ts[ADB_TS_TEXT_MAX] = "", num[24];
    long long n = 0;
    int64_t us;
    bool by_uuid = ref && adb__event_id_parse(ref, strlen(ref), uuid);
    adb_status st = ADB_OK;

    *id = 0;
    event_id[0] = '\0';
    if (!by_uuid && (!ref || !adb__parse_int(ref, 1, INT64_MAX, &n))) {
        adb__fmt(errbuf, errlen, "invalid event id \"%s\" (expected a UUID or a positive integer)",
                 ref ? ref : "");
        return ADB_ERR_INVALID;
    }
    /* a version 1 id names its event's instant: one partition, one index entry */
    if (by_uuid && adb__event_id_time(uuid, &us))
        adb__timestamp_format(us, ts);
    adb__fmt(num, sizeof(num), "%lld", n);
    const char *p[] = { by_uuid ? uuid : num, organization_id ? organization_id : "", ts };
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, errbuf, errlen);
    if (!c)
        return st;
    PGresult *r = PQexecParams(c, by_uuid
        ? "SELECT id, event_id FROM audit_log WHERE event_id = $1::uuid"
          " AND ($2 = '' OR organization_id = $2)"
          " AND ($3 = '' OR \"timestamp\" = nullif($3, '')::timestamptz)"
        : "SELECT id, event_id FROM audit_log WHERE id = $1::bigint"
          " AND ($2 = '' OR organization_id = $2) AND $3 = ''",
        3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not look up event %s: %s", ref, PQerrorMessage(c));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) == 0) {
        adb__fmt(errbuf, errlen, "no event %s", ref);
        st = ADB_ERR_NOT_FOUND;
    } else {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        adb__fmt(event_id, 37, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    adb_pool_release(adb__pool(db), c);
    return st;
}
