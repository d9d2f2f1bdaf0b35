/*
 * destination.c - a destination's row and its two shapes: the client's
 * DeliveryDestination (secret fields masked) for answers, and adb__dest
 * (secret fields opened) for the senders (docs/delivery.md, "Destinations").
 */
#include "destination.h"
#include "secret.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* hex text into malloc()ed bytes (NULL and *n 0 for ""). */
static unsigned char *unhex(const char *hex, size_t *n)
{
    size_t len = strlen(hex);
    unsigned char *out;

    *n = 0;
    if (len == 0 || len % 2 || !(out = malloc(len / 2)))
        return NULL;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (unsigned char)(adb__hexval(hex[2 * i]) << 4 | adb__hexval(hex[2 * i + 1]));
    *n = len / 2;
    return out;
}

static void set_opt_string(json_t *o, const char *name, PGresult *r, int row, int col)
{
    if (!PQgetisnull(r, row, col))
        json_object_set_new(o, name, json_string(PQgetvalue(r, row, col)));
}

json_t *adb__dest_row_json(PGresult *r, int row)
{
    const char *type = PQgetvalue(r, row, 2);
    json_t *config = json_loads(PQgetvalue(r, row, 13), 0, NULL);
    json_t *o;

    if (!config)
        config = json_object();
    adb__dest_mask(type, config);
    o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:o}", "id", PQgetvalue(r, row, 0),
                  "organizationId", PQgetvalue(r, row, 1), "label", PQgetvalue(r, row, 3), "type",
                  type, "disabled", !strcmp(PQgetvalue(r, row, 8), "t"), "isDefault",
                  !strcmp(PQgetvalue(r, row, 7), "t"), "countUsage",
                  (json_int_t)atoll(PQgetvalue(r, row, 11)), "config", config);
    if (!o)
        return NULL;
    set_opt_string(o, "description", r, row, 4);
    set_opt_string(o, "icon", r, row, 5);
    set_opt_string(o, "instructions", r, row, 6);
    set_opt_string(o, "disabledAt", r, row, 9);
    set_opt_string(o, "disabledBy", r, row, 10);
    set_opt_string(o, "lastUsedAt", r, row, 12);
    json_object_set_new(o, "createdAt", json_string(PQgetvalue(r, row, 14)));
    json_object_set_new(o, "updatedAt", json_string(PQgetvalue(r, row, 15)));
    return o;
}

adb_status adb__dest_load(adb *h, PGconn *c, const char *org, int id, adb__dest *out)
{
    adb_status st = adb__dest_load_v(h, c, org, id, out, NULL, 0);
    return st == ADB_ERR_CONFIG ? ADB_ERR_INTERNAL : st;
}

adb_status adb__dest_load_v(adb *h, PGconn *c, const char *org, int id, adb__dest *out,
                            char *version, size_t vlen)
{
    char idtext[16];
    const char *p[] = { org, idtext };
    PGresult *r;
    adb_status st = ADB_OK;

    memset(out, 0, sizeof(*out));
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    r = PQexecParams(c,
                     "SELECT d.type, d.disabled = 'true', d.config::text, encode(d.secrets, 'hex'), "
                     ADB_DEST_VERSION_SQL
                     " FROM delivery_destinations d WHERE d.organization_id = $1 AND d.id = $2::int"
                     " AND d.deleted_at IS NULL",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        st = ADB_ERR_DB_QUERY;
    else if (PQntuples(r) != 1)
        st = ADB_ERR_NOT_FOUND;
    else {
        size_t n = 0;
        unsigned char *sealed = unhex(PQgetvalue(r, 0, 3), &n);
        out->id = id;
        adb__fmt(out->org, sizeof(out->org), "%s", org);
        adb__fmt(out->type, sizeof(out->type), "%s", PQgetvalue(r, 0, 0));
        out->disabled = !strcmp(PQgetvalue(r, 0, 1), "t");
        if (version)
            adb__fmt(version, vlen, "%s", PQgetvalue(r, 0, 4));
        out->config = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
        if (!out->config)
            st = ADB_ERR_INTERNAL;
        else if (!adb__dest_open(adb__db_keys(h), org, id, out->config, sealed, n))
            st = ADB_ERR_CONFIG; /* sealed for another row, or changed */
        if (sealed) {
            OPENSSL_cleanse(sealed, n);
            free(sealed);
        }
        if (st != ADB_OK)
            adb__dest_free(out);
    }
    PQclear(r);
    return st;
}

void adb__dest_free(adb__dest *d)
{
    if (!d)
        return;
    json_decref(d->config);
    d->config = NULL;
}
