/*
 * erasure_records.c - an event's signed erasure records, read and checked
 * (erasure_records.h).
 */
#include "erasure_records.h"

#include <stdlib.h>
#include <string.h>

adb__erasure_record adb__erasure_set_record(const adb__erasure_set *s, int i)
{
    PGresult *r = s->res;
    adb__erasure_record rec = {
        .organization_id = PQgetvalue(r, i, 7), .event_id = PQgetvalue(r, i, 8),
        .field = PQgetvalue(r, i, 0), .commitment = PQgetvalue(r, i, 1),
        .request_id = PQgetvalue(r, i, 2), .legal_basis = PQgetvalue(r, i, 3),
        .reason = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
        .erased_at = PQgetvalue(r, i, 5),
        .original_content = PQgetisnull(r, i, 9) ? NULL : PQgetvalue(r, i, 9),
        .original_hash = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10),
    };
    return rec;
}

const char *adb__erasure_set_signature(const adb__erasure_set *s, int i)
{
    return PQgetvalue(s->res, i, 6);
}

int adb__erasure_set_load(PGconn *c, const adb__hmac_key *sig_key, const char *org,
                          const char *eid, adb__erasure_set *s)
{
    const char *params[] = { eid };

    memset(s, 0, sizeof(*s));
    s->res = PQexecParams(c, "SELECT field, commitment, request_id, legal_basis, reason,"
                             " to_char(erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
                             " signature, organization_id, event_id::text, original_content,"
                             " original_hash FROM audit_erasure WHERE event_id = $1::uuid ORDER BY id",
                          1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(s->res) != PGRES_TUPLES_OK || PQntuples(s->res) == 0) {
        PQclear(s->res);
        s->res = NULL;
        return 1;
    }
    s->n = PQntuples(s->res);
    s->valid = calloc((size_t)s->n, sizeof(*s->valid));
    s->erased = calloc((size_t)s->n, sizeof(*s->erased));
    if (!s->valid || !s->erased) {
        adb__erasure_set_free(s);
        return -1;
    }
    for (int i = 0; i < s->n; i++) {
        adb__erasure_record rec = adb__erasure_set_record(s, i);
        char sig[65];
        if (!adb__erasure_sign(sig_key, &rec, sig)) {
            adb__erasure_set_free(s);
            return -1;
        }
        if (strcmp(sig, adb__erasure_set_signature(s, i)) != 0 ||
            strcmp(rec.organization_id, org) != 0 || strlen(rec.commitment) != 64 ||
            (rec.original_content && (strlen(rec.original_content) != 64 || !rec.original_hash ||
                                      !rec.original_hash[0])))
            continue;
        s->valid[i] = true;
        if (rec.original_content)
            continue; /* residual: not a commitment of the v3 form */
        s->erased[s->nvalid].field = rec.field;
        memcpy(s->erased[s->nvalid].commitment, rec.commitment, 65);
        s->nvalid++;
    }
    return 1;
}

int adb__erasure_set_residual(const adb__erasure_set *s, const char *stored_hash,
                              const char *content, char original[65])
{
    int found = -1;

    for (int i = 0; i < s->n && stored_hash && content; i++) {
        if (!s->valid[i])
            continue;
        adb__erasure_record rec = adb__erasure_set_record(s, i);
        if (rec.original_content && !strcmp(rec.commitment, content) &&
            !strcmp(rec.original_hash, stored_hash)) {
            found = i;
            memcpy(original, rec.original_content, 65);
            break;
        }
    }
    if (found < 0)
        return 0;
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (!s->valid[i])
            continue;
        adb__erasure_record rec = adb__erasure_set_record(s, i);
        n += rec.original_content && !strcmp(rec.original_content, original) &&
             !strcmp(rec.original_hash, stored_hash);
    }
    return n;
}

bool adb__erasure_set_names(const adb__erasure_set *s, int i, const char *residual_original)
{
    if (!s->valid[i])
        return false;
    adb__erasure_record rec = adb__erasure_set_record(s, i);
    if (!residual_original)
        return rec.original_content == NULL;
    return rec.original_content && !strcmp(rec.original_content, residual_original);
}

void adb__erasure_set_free(adb__erasure_set *s)
{
    PQclear(s->res);
    free(s->valid);
    free(s->erased);
    memset(s, 0, sizeof(*s));
}
