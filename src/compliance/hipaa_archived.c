/*
 * hipaa_archived.c - a patient's archived events for the accounting of
 * disclosures and the access report (hipaa.h; docs/hipaa.md): the
 * organization's archives read as the tenant through the archive reader
 * (archive.h), as the GDPR export reads them, every check of the reader
 * applied; an archive that fails one fails the reading. Only the archives
 * the subject index names for the patient are opened (and unindexed ones).
 */
#include "hipaa.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../lifecycle/archive.h"

#include <string.h>

adb_status adb__hipaa_archived_each(adb *h, const char *org, const char *patient, int64_t start_us,
                                    int64_t end_us, adb__hipaa_archived_fn fn, void *ctx, char *err,
                                    size_t errlen)
{
    adb_status st = ADB_OK;
    PGconn *c = adb_tenant_begin(h, org, &st, err, errlen);
    if (!c)
        return st == ADB_OK ? ADB_ERR_DB_QUERY : st;
    /* the archives that may hold the patient's events: those the subject
     * index names and the unindexed ones (docs/archive.md, "Subject index") */
    PGresult *ids = adb__archive_ids_for_subject(c, adb__db_keys(h), org, patient);
    if (!ids) {
        adb__fmt(err, errlen, "could not list the archives: the database is unavailable");
        st = ADB_ERR_DB_QUERY;
    }
    for (int i = 0; st == ADB_OK && i < PQntuples(ids); i++) {
        adb__archive_reader *ar = adb__archive_open(c, PQgetvalue(ids, i, 0), err, errlen);
        if (!ar) {
            st = ADB_ERR_DB_QUERY;
            break;
        }
        const char *a[ADB__ROW_NCOLS];
        int k;
        while ((k = adb__archive_next(ar, a)) == 1) {
            const char *tt = a[ADB_COL_TARGET_RESOURCE_TYPE], *t = a[ADB_COL_TARGET_RESOURCE_ID];
            const char *ts = a[ADB_COL_TIMESTAMP];
            int64_t us;
            if (!tt || strcmp(tt, "Patient") || !t || strcmp(t, patient) || !ts ||
                !adb__timestamp_parse(ts, strlen(ts), &us) || us < start_us || us > end_us)
                continue;
            char date[ADB_TS_TEXT_MAX];
            adb__timestamp_format(us, date);
            if ((st = fn(ctx, a, date)) != ADB_OK)
                break;
        }
        if (k < 0) {
            adb__fmt(err, errlen, "could not read archive %s", PQgetvalue(ids, i, 0));
            st = ADB_ERR_DB_QUERY;
        }
        adb__archive_close(ar);
    }
    PQclear(ids);
    adb_tenant_end(h, c, st == ADB_OK);
    return st;
}
