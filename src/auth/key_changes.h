/*
 * key_changes.h - API keys created and revoked with who did it, so that each
 * is a row of the configuration history and an audit event of the key's
 * organization (docs/monitoring.md, "Configuration changes"). The public
 * adb_key_create / adb_key_revoke record "library" as the actor.
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

#endif
