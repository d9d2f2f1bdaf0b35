/*
 * mask.h - masking of secrets in configuration values before they are
 * stored in config_change_event (docs/monitoring.md, "Configuration
 * changes"). A pure function over a parsed JSON value.
 */
#ifndef ADB_MONITOR_MASK_H
#define ADB_MONITOR_MASK_H

#include <stdbool.h>

#include <jansson.h>

#define ADB_CONFIG_MASKED "***"

/* Is a member of this name a secret? Case, "_" and "-" are ignored; names
 * containing secret, password, passwd, passphrase, token, credential,
 * privatekey, apikey, accesskey, signingkey, authorization, cookie, or
 * equal to "key" or ending in "key" (hmacKey, masterKey...) are; "keyId",
 * "keyPrefix" and the like are not. */
bool adb__config_secret_name(const char *name);

/* Replaces, in place and at every depth (objects inside arrays too), the
 * value of every secret-named member, whatever its type, with the string
 * ADB_CONFIG_MASKED; a JSON null stays null (nothing to hide). */
void adb__config_mask(json_t *v);

#endif
