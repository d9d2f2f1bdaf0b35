/*
 * hold.c - legal holds: loading, matching events, creating, releasing.
 */
#include "hold.h"
#include "org_keys.h"
#include "pseudonym.h"
#include "../core/util.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static adb_status db_error(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    adb__fmt(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
    adb__oneline(err);
    PQclear(r);
    return PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
}

void adb__holds_free(adb__holds *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        free(hs->h[i].action_pattern);
        free(hs->h[i].classification);
        free(hs->h[i].reason);
    }
    free(hs->h);
    hs->h = NULL;
    hs->n = 0;
}

adb_status adb__holds_load(PGconn *c, const char *org, adb__holds *out, char *err, size_t errlen)
{
    const char *p[] = { org };
    PGresult *r = PQexecParams(c, "SELECT id, scope, encode(value_index, 'hex'), action_pattern,"
                                  " data_classification, reason FROM legal_hold"
                                  " WHERE organization_id = $1 AND released_at IS NULL"
                                  " AND (until IS NULL OR until > now()) ORDER BY created_at, id",
                               1, NULL, p, NULL, NULL, 0);

    memset(out, 0, sizeof(*out));
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(c, r, "legal_hold", err, errlen);
    int n = PQntuples(r);
    if (n && !(out->h = calloc((size_t)n, sizeof(*out->h)))) {
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        adb__hold *h = &out->h[out->n++];
        const char *hex = PQgetvalue(r, i, 2);
        adb__fmt(h->id, sizeof(h->id), "%s", PQgetvalue(r, i, 0));
        h->principal = !strcmp(PQgetvalue(r, i, 1), "principal");
        for (int j = 0; j < 32; j++)
            h->index[j] = (unsigned char)(adb__hexval(hex[2 * j]) << 4 | adb__hexval(hex[2 * j + 1]));
        h->action_pattern = PQgetisnull(r, i, 3) ? NULL : strdup(PQgetvalue(r, i, 3));
        h->classification = PQgetisnull(r, i, 4) ? NULL : strdup(PQgetvalue(r, i, 4));
        h->reason = strdup(PQgetvalue(r, i, 5));
        if (!h->reason) {
            PQclear(r);
            adb__holds_free(out);
            return ADB_ERR_NOMEM;
        }
    }
    PQclear(r);
    return ADB_OK;
}

const adb__hold *adb__holds_match(const adb__holds *hs, const adb__keys *k, const char *org,
                                  const unsigned char subject_index[32], const char *principal,
                                  const char *action, const char *classification)
{
    unsigned char pidx[32];
    bool have_pidx = false;

    for (size_t i = 0; i < hs->n; i++) {
        const adb__hold *h = &hs->h[i];
        if (h->action_pattern && (!action || fnmatch(h->action_pattern, action, 0) != 0))
            continue;
        if (h->classification && (!classification || strcmp(h->classification, classification)))
            continue;
        if (!h->principal) {
            if (!memcmp(h->index, subject_index, 32))
                return h;
            continue;
        }
        if (!principal)
            continue;
        if (!have_pidx && !(have_pidx = adb__org_index(k, org, principal, pidx)))
            return h; /* cannot tell: the hold wins */
        if (!memcmp(h->index, pidx, 32))
            return h;
    }
    return NULL;
}

adb_status adb__hold_create(PGconn *c, const adb__keys *k, const char *org, const char *scope,
                            const char *value, const char *action_pattern,
                            const char *classification, const char *until, const char *reason,
                            const char *created_by, char id[64], char *err, size_t errlen)
{
    unsigned char idx[32];
    char hex[67];

    if (!adb__org_index(k, org, value, idx)) {
        adb__fmt(err, errlen, "could not derive the organization's keys");
        return ADB_ERR_INTERNAL;
    }
    adb__bytea_hex(idx, hex);
    const char *p[] = { org, scope, hex, action_pattern, classification, until, reason,
                        created_by };
    PGresult *r = PQexecParams(c, "INSERT INTO legal_hold (organization_id, scope, value_index,"
                                  " action_pattern, data_classification, until, reason, created_by)"
                                  " VALUES ($1, $2, $3::bytea, $4, $5, $6::timestamptz, $7, $8)"
                                  " RETURNING id",
                               8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(c, r, "legal_hold", err, errlen);
    adb__fmt(id, 64, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ADB_OK;
}

adb_status adb__hold_release(PGconn *c, const char *org, const char *id, char *err, size_t errlen)
{
    const char *p[] = { org, id };
    PGresult *r = PQexecParams(c, "UPDATE legal_hold SET released_at = now()"
                                  " WHERE organization_id = $1 AND id = $2 AND released_at IS NULL",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_error(c, r, "legal_hold", err, errlen);
    bool done = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (!done) {
        adb__fmt(err, errlen, "no hold %s in force in this organization", id);
        return ADB_ERR_NOT_FOUND;
    }
    return ADB_OK;
}
