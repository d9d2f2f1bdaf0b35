/*
 * key_changes.h - API keys created and revoked with who did it, so that each
 * is a row of the configuration history and an audit event of the key's
 * organization (docs/monitoring.md, "Configuration changes"): created,
 * revoked, rotated, role changed. The public adb_key_create / adb_key_revoke
 * record "library" as the actor.
 */
#ifndef ADB_AUTH_KEY_CHANGES_H
#define ADB_AUTH_KEY_CHANGES_H

#include "auditdb.h"

/* adb_key_create, recorded as changed by `by` ("cli:<user>", "system"...). */
adb_status adb__key_create_by(adb *db, const char *org, const char *role, const char *name,
                              const char *by, char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info,
                              char *errbuf, size_t errlen);

/* adb_key_revoke, recorded as changed by `by` (a revoked key's second revoke
 * changes nothing and records nothing). */
adb_status adb__key_revoke_by(adb *db, const char *id, const char *by, char *errbuf,
                              size_t errlen);

/* A new key with the key id's organization, role and name, and id revoked,
 * in one transaction (two rows of the history: the revoke, "rotated:
 * replaced by <new>", and the new key, "rotated: replaces <old>").
 * ADB_ERR_NOT_FOUND: no such key; ADB_ERR_INVALID: it is revoked already.
 * key_out gets the new key's text (shown once). */
adb_status adb__key_rotate_by(adb *db, const char *id, const char *by,
                              char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info, char *errbuf,
                              size_t errlen);

/* The role of key id becomes role, one its organization has (else
 * ADB_ERR_NOT_FOUND); an operator key's role never changes and no key
 * becomes an operator's (ADB_ERR_INVALID), nor does a revoked key's.
 * *changed: false when it had that role already (nothing recorded). */
adb_status adb__key_set_role_by(adb *db, const char *id, const char *role, const char *by,
                                bool *changed, char *errbuf, size_t errlen);

#endif
