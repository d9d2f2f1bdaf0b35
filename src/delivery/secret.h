/*
 * secret.h - sealing a destination's secret fields and webhook signing keys
 * (secret.c; docs/delivery.md, "Secrets"). Internal to src/delivery and the
 * routes and commands that manage destinations.
 */
#ifndef ADB_DELIVERY_SECRET_H
#define ADB_DELIVERY_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "../integrity/integrity.h"

#define ADB_DELIVERY_SECRET_PURPOSE "delivery-secret"
/* what a secret field reads as in every answer */
#define ADB_DEST_MASK "********"

/* Whether a header or storage config key names a credential (sealed). */
bool adb__dest_secret_name(const char *name);

/* The paths (arrays of member names) of the secret fields of a config of
 * type, whether present or not. New reference. */
json_t *adb__dest_secret_paths(const char *type, const json_t *config);
/* The value at path in config (borrowed), or NULL. */
json_t *adb__dest_secret_get(const json_t *config, const json_t *path);
/* Sets the value at path when its parent object exists (value not taken). */
void adb__dest_secret_set(json_t *config, const json_t *path, json_t *value);

/* The additional data of a sealed value: organization, destination, field. */
void adb__dest_aad(char *out, size_t cap, const char *org, int id, const char *field);

/* Takes the secret fields out of config (in place: each becomes
 * {"sealed": true}) and seals them for (org, id): *sealed malloc()ed, NULL
 * (and *len 0) when config has none. false on a failure (nothing sealed). */
bool adb__dest_seal(const adb__keys *k, const char *org, int id, const char *type, json_t *config,
                    unsigned char **sealed, size_t *len);
/* Puts what adb__dest_seal sealed back into config; false when it does not
 * authenticate for (org, id). sealed NULL: nothing to do. */
bool adb__dest_open(const adb__keys *k, const char *org, int id, json_t *config,
                    const unsigned char *sealed, size_t len);

/* Replaces every present secret field of config by ADB_DEST_MASK (answers). */
void adb__dest_mask(const char *type, json_t *config);
/* Whether v is the mask or the sealed marker (an update that keeps the value). */
bool adb__dest_is_mask(const json_t *v);
/* In an update's config, the secret fields given as the mask take their
 * value from old (the opened config before the update). */
void adb__dest_keep_secrets(const char *type, json_t *config, const json_t *old);

/* Seals n raw bytes for (org, id, field) as standard base64 (malloc()ed). */
bool adb__dest_seal_blob(const adb__keys *k, const char *org, int id, const char *field,
                         const unsigned char *raw, size_t n, char **b64);
/* Opens it into raw (at most cap bytes, *n of them); false when it does not
 * authenticate. */
bool adb__dest_open_blob(const adb__keys *k, const char *org, int id, const char *field,
                         const char *b64, unsigned char *raw, size_t cap, size_t *n);

#endif
