/*
 * rule_store.h - an organization's detection rules as the tenant (docs/alerts.md, "Detection
 * rules"): list, one, its versions, a new rule or a new version of one (every edit, enabling
 * and disabling included, is a new version row; the current one is flagged), and the
 * detection settings (the time zone of time-of-day windows). Each change is a
 * config_change_event row in its transaction and an audit event after it.
 */
#ifndef ADB_DETECT_RULE_STORE_H
#define ADB_DETECT_RULE_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "auditdb.h"

typedef struct adb__rule_error {
    char field[128], code[32], message[256];
} adb__rule_error;

/* Rule objects: {"id", "version", "enabled", "current", "definition", "createdAt",
 * "createdBy", "reason"}. *out is the caller's. ADB_ERR_NOT_FOUND when the rule is not
 * the organization's. */
adb_status adb__rules_list(adb *h, const char *org, json_t **out);
adb_status adb__rules_get(adb *h, const char *org, const char *id, json_t **out);
adb_status adb__rules_versions(adb *h, const char *org, const char *id, json_t **out);

/* A new rule (create: ADB_ERR_CONFLICT when it exists) or a new version of one (ADB_ERR_NOT_FOUND
 * when it does not): definition NULL keeps the current one, enabled < 0 keeps its flag.
 * ADB_ERR_INVALID with e filled (the member at fault) for a definition that does not parse. */
adb_status adb__rules_set(adb *h, const char *org, const char *id, bool create,
                          const json_t *definition, int enabled, const char *reason,
                          const char *who, json_t **out, adb__rule_error *e);

/* {"timezone"}; set: an IANA zone PostgreSQL knows, else ADB_ERR_INVALID. */
adb_status adb__detect_settings_get(adb *h, const char *org, json_t **out);
adb_status adb__detect_settings_set(adb *h, const char *org, const char *timezone,
                                    const char *who, json_t **out, adb__rule_error *e);

#endif
