/*
 * destination.h - managing the destinations of an organization (docs/
 * delivery.md, "Destinations"): the client's shapes checked (dest_check.c),
 * rows written and read as the tenant (destination.c, dest_store.c), webhook
 * signing keys made and rotated (webhook_keys.c). Used by the routes
 * (src/http/delivery_destinations.c) and `auditdb deliveries destinations`.
 *
 * Every answer is the client's DeliveryDestination with its secret fields
 * masked (ADB_DEST_MASK); only the create and rotate answers carry a webhook
 * secret, once.
 */
#ifndef ADB_DELIVERY_DESTINATION_H
#define ADB_DELIVERY_DESTINATION_H

#include "delivery.h"

#define ADB_DEST_LIST_MAX 1000
#define ADB_DEST_LABEL_MAX 255
#define ADB_DEST_GRACE_DEFAULT_H 24
#define ADB_DEST_GRACE_MAX_H 720

/* Why a request was refused: the field at fault (as the client names it,
 * e.g. "config.webhook.url"), a code and a message (no secret in either). */
typedef struct adb__dest_error {
    char field[160];
    char code[40];
    char message[512];
} adb__dest_error;

void adb__dest_fail(adb__dest_error *e, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- checks (dest_check.c) ---- */

/* Checks config (the client's DeliveryDestinationConfig) for type: the
 * member of type present and right, no member of another type, the
 * addresses it names admitted by the address policy unless skip_ssrf.
 * false with e filled. */
bool adb__dest_check_config(const char *type, const json_t *config, bool skip_ssrf,
                            adb__dest_error *e);
/* Whether type is one of email, webhook, storage, sftp, download. */
bool adb__dest_type_valid(const char *type);
/* Every problem of a stored destination's config as strings (validate
 * route): errors and warnings are arrays the caller owns. */
void adb__dest_check_all(const char *type, const json_t *config, bool disabled, json_t *errors,
                         json_t *warnings);

/* ---- the rows (destination.c, dest_store.c) ---- */

typedef struct adb__dest_query {
    const char *type;      /* NULL: any */
    int disabled;          /* -1 any, 0, 1 */
    long long limit, offset;
    const char *sort_by;   /* createdAt (default), updatedAt, label, type */
    bool desc;
} adb__dest_query;

#define ADB_DEST_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* the columns adb__dest_row_json reads (0..16), of delivery_destinations d */
#define ADB_DEST_COLUMNS                                                                      \
    "d.id, d.organization_id, d.type, d.label, d.description, d.icon, d.instructions,"        \
    " d.is_default = 'true', d.disabled = 'true', " ADB_DEST_TS("d.disabled_at") ","          \
    " d.disabled_by, d.count_usage, " ADB_DEST_TS("d.last_used_at") ", d.config::text, "      \
    ADB_DEST_TS("d.created_at") ", " ADB_DEST_TS("d.updated_at") ", encode(d.secrets, 'hex')"

/* The client's DeliveryDestination of a row read with ADB_DEST_COLUMNS,
 * secret fields masked. New reference. */
json_t *adb__dest_row_json(PGresult *r, int row);

/* Creates a destination from the client's CreateDeliveryDestination body
 * in org; *out the answer (with the webhook secret and public key, once).
 * ADB_ERR_INVALID with e; database errors otherwise. */
adb_status adb__dest_create(adb *h, const char *org, const json_t *body, const char *who,
                            json_t **out, adb__dest_error *e);
/* The destination id of org (answer shape), ADB_ERR_NOT_FOUND. */
adb_status adb__dest_get(adb *h, const char *org, int id, json_t **out);
/* A page of org's destinations: {data, pagination}. */
adb_status adb__dest_list(adb *h, const char *org, const adb__dest_query *q, json_t **out);
/* Updates (UpdateDeliveryDestination; merge: config is a JSON merge patch,
 * else a whole config); masked secret fields keep their value. */
adb_status adb__dest_update(adb *h, const char *org, int id, const json_t *body, bool merge,
                            const char *who, json_t **out, adb__dest_error *e);
/* Deletes it: gone from every answer, its secrets and keys destroyed, its
 * pending items cancelled; its delivery records kept. */
adb_status adb__dest_delete(adb *h, const char *org, int id, const char *who);
/* The client's ValidationResult of the stored destination. */
adb_status adb__dest_validate(adb *h, const char *org, int id, json_t **out);

/* Commits a tenant transaction and gives the connection back; false when
 * the commit failed (nothing was written). */
bool adb__dest_commit(adb *h, PGconn *c);

/* ---- webhook signing keys (webhook_keys.c) ---- */

/* Makes a new primary pair (v1 whsec_ secret, v1a Ed25519 key) for
 * destination id on c (a tenant transaction); the old primaries stay
 * active grace_h hours more (0: end now). *out gets {secret, publicKey,
 * secretId, keyId}: the only time the secret is shown. */
adb_status adb__webhook_keys_make(adb *h, PGconn *c, const char *org, int id, int grace_h,
                                  const char *who, json_t **out);
/* Rotates the keys of webhook destination id of org: the answer of
 * POST .../secrets/rotate. ADB_ERR_NOT_FOUND; ADB_ERR_INVALID (e) for
 * another type. */
adb_status adb__webhook_keys_rotate(adb *h, const char *org, int id, int grace_h, const char *who,
                                    json_t **out, adb__dest_error *e);

#endif
