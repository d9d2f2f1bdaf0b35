/*
 * archive_subjects.c - the subject index of archives (docs/archive.md,
 * "Subject index"; migration 0043): which archives hold a data subject's
 * events, so that a GDPR export or a HIPAA accounting opens those archives
 * only. Each identifier is stored as its blind index (adb__subject_index:
 * HMAC-SHA256 under the organization's subject index key), never as text.
 * Archives are indexed as they are written (archive.c) and, for those
 * written before migration 0043 or rewritten since, by the maintenance
 * round (adb__lc_index_archives).
 */
#include "archive.h"
#include "lifecycle.h"
#include "../compliance/subject_key.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <string.h>

/* Records the blind index of every id of subjects (object keys) for
 * archive_id of org and marks the archive indexed, in the caller's
 * transaction. ADB_OK without a row when there is no subject key. */
static adb_status index_rows(PGconn *c, const adb__keys *k, const char *org, const json_t *subjects,
                             const char *archive_id, char *err, size_t errlen)
{
    adb__buf arr = { 0 };
    const char *id;
    json_t *v;
    bool first = true;

    adb__buf_puts(&arr, "{");
    json_object_foreach((json_t *)subjects, id, v) {
        char hex[2 * ADB_SUBJECT_INDEX_LEN + 1];
        if (!adb__subject_index_hex(k, org, id, hex)) {
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
    const char *p[] = { org, arr.p, archive_id };
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

adb_status adb__archive_index_subjects(PGconn *c, const adb__keys *k, const adb__archive_built *a,
                                       const char *archive_id, char *err, size_t errlen)
{
    if (!k || a->stub || !a->subjects || !a->organization_id)
        return ADB_OK; /* left unindexed: read in full */
    return index_rows(c, k, a->organization_id, a->subjects, archive_id, err, errlen);
}

/* One unindexed archive read and indexed in its own transaction (its row
 * locked, so that it is not rewritten meanwhile). 1 indexed, 0 left as it
 * was (gone, indexed meanwhile, or unreadable: a damaged archive stays
 * unindexed and is read, and refused, in full), -1 on a database error. */
static int index_one(adb__lc *lc, const adb__keys *k, const char *id, char *err, size_t errlen)
{
    const char *p[] = { id };
    char rerr[256];
    int rc = 0;

    if (!adb__lc_exec(lc, "BEGIN", err, errlen))
        return -1;
    PGresult *r = PQexecParams(lc->c, "SELECT organization_id FROM archive_storage WHERE id = $1"
                                      " AND NOT subjects_indexed AND payload IS NOT NULL"
                                      " AND deleted_at IS NULL AND organization_id IS NOT NULL"
                                      " FOR UPDATE", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not lock archive %s: %s", id, PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        adb__lc_rollback(lc);
        return -1;
    }
    char org[256];
    bool found = PQntuples(r) == 1;
    if (found)
        adb__fmt(org, sizeof(org), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *subjects = found ? json_object() : NULL;
    adb__archive_reader *ar = subjects ? adb__archive_open(lc->c, id, rerr, sizeof(rerr)) : NULL;
    if (ar) {
        const char *v[ADB__ROW_NCOLS];
        int n = -1;
        bool ok = true;
        while (ok && (n = adb__archive_next(ar, v)) == 1)
            for (int col = 0; ok && col < 2; col++) {
                const char *s = v[col ? ADB_COL_TARGET_RESOURCE_ID : ADB_COL_PRINCIPAL_ID];
                ok = !s || !*s || json_object_get(subjects, s) ||
                     json_object_set_new(subjects, s, json_null()) == 0;
            }
        adb__archive_close(ar);
        if (ok && n == 0) {
            adb_status st = index_rows(lc->c, k, org, subjects, id, err, errlen);
            if (st != ADB_OK) {
                json_decref(subjects);
                adb__lc_rollback(lc);
                return -1;
            }
            rc = 1;
        }
    }
    json_decref(subjects);
    if (!adb__lc_exec(lc, "COMMIT", err, errlen)) {
        adb__lc_rollback(lc);
        return -1;
    }
    return rc;
}

adb_status adb__lc_index_archives(adb__lc *lc, int max, int *indexed, char *err, size_t errlen)
{
    const adb__keys *k = adb__db_keys(lc->db);
    char lim[16];
    adb_status st = ADB_OK;

    if (!k)
        return ADB_OK;
    adb__fmt(lim, sizeof(lim), "%d", max);
    const char *p[] = { lim };
    PGresult *r = PQexecParams(lc->c, "SELECT id FROM archive_storage WHERE NOT subjects_indexed"
                                      " AND payload IS NOT NULL AND deleted_at IS NULL"
                                      " ORDER BY created_at, id LIMIT $1::int", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not list the unindexed archives: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (int i = 0; i < PQntuples(r) && !adb__lc_stopping(lc); i++) {
        int rc = index_one(lc, k, PQgetvalue(r, i, 0), err, errlen);
        if (rc < 0) {
            st = ADB_ERR_DB_QUERY;
            break;
        }
        *indexed += rc;
    }
    PQclear(r);
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
