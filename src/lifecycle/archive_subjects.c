/*
 * archive_subjects.c - the subject index of archives (docs/archive.md,
 * "Subject index"; migration 0043): which archives hold a data subject's
 * events, so that a GDPR export or a HIPAA accounting opens those archives
 * only. Each identifier is stored as its blind index (adb__subject_index:
 * HMAC-SHA256 under the organization's subject index key), never as text.
 */
#include "archive.h"
#include "../compliance/subject_key.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <string.h>

adb_status adb__archive_index_subjects(PGconn *c, const adb__keys *k, const adb__archive_built *a,
                                       const char *archive_id, char *err, size_t errlen)
{
    adb__buf arr = { 0 };
    const char *id;
    json_t *v;
    bool first = true;

    if (!k || a->stub || !a->subjects || !a->organization_id)
        return ADB_OK; /* left unindexed: read in full */
    adb__buf_puts(&arr, "{");
    json_object_foreach(a->subjects, id, v) {
        char hex[2 * ADB_SUBJECT_INDEX_LEN + 1];
        if (!adb__subject_index_hex(k, a->organization_id, id, hex)) {
            adb__buf_free(&arr);
            return ADB_OK; /* no subject key (or HKDF failed): unindexed, never wrong */
        }
        if (!first)
            adb__buf_puts(&arr, ",");
        adb__buf_puts(&arr, hex);
        first = false;
    }
    adb__buf_puts(&arr, "}");
    if (arr.oom) {
        adb__buf_free(&arr);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    const char *p[] = { a->organization_id, arr.p, archive_id };
    PGresult *r = PQexecParams(c,
        "WITH i AS (INSERT INTO archive_subject_index (organization_id, subject_index, archive_id)"
        "           SELECT $1, decode(h, 'hex'), $3 FROM unnest($2::text[]) h"
        "           ON CONFLICT DO NOTHING)"
        " UPDATE archive_storage SET subjects_indexed = true WHERE id = $3",
        3, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not index the subjects of archive %s: %s", archive_id,
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
    adb__buf_free(&arr);
    return st;
}

PGresult *adb__archive_ids_for_subject(PGconn *c, const adb__keys *k, const char *org,
                                       const char *subject)
{
    char hex[2 * ADB_SUBJECT_INDEX_LEN + 1];
    bool have = k && subject && *subject && adb__subject_index_hex(k, org, subject, hex);
    const char *p[] = { org, have ? hex : NULL };
    PGresult *r = PQexecParams(c,
        "SELECT a.id FROM archive_storage a WHERE a.organization_id = $1"
        " AND a.payload IS NOT NULL AND a.deleted_at IS NULL"
        " AND (NOT a.subjects_indexed OR $2::text IS NULL OR EXISTS ("
        "      SELECT 1 FROM archive_subject_index i WHERE i.organization_id = $1"
        "      AND i.subject_index = decode($2::text, 'hex') AND i.archive_id = a.id))"
        " ORDER BY a.first_seq",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}
