/*
 * config_change.h - configuration history (issue 20; docs/monitoring.md,
 * "Configuration changes"): every change of a setting, role, policy,
 * detection rule, destination or key is a config_change_event row (field,
 * previous and new value with secrets masked, who, why) in the change's own
 * transaction, and, once committed, an audit event of the organization.
 */
#ifndef ADB_MONITOR_CONFIG_CHANGE_H
#define ADB_MONITOR_CONFIG_CHANGE_H

#include <stddef.h>

#include <stdbool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auditdb.h"

typedef struct adb__config_change {
    const char *org;          /* the organization, or NULL for a process-wide setting */
    const char *field;        /* what changed, e.g. "detection_rule.failed-auth",
                                 "delivery_destination.12", "api_key.k_ab12" (required) */
    const char *previous_json; /* JSON value before ("null" when created); secrets masked */
    const char *new_json;      /* JSON value after ("null" when deleted); secrets masked */
    const char *changed_by;    /* the principal: key id, "cli:<user>", "system" (required) */
    const char *reason;        /* or NULL */
    const char *previous_version, *new_version; /* or NULL */
} adb__config_change;

/* Writes the config_change_event row in the caller's transaction on c.
 * Members named like secrets ("secret", "password", "privateKey", "key",
 * "token", ...) are masked before anything is written. */
adb_status adb__config_change_tx(PGconn *c, const adb__config_change *ch, char *err,
                                 size_t errlen);

/* After the caller's COMMIT: the audit event of the organization
 * (action "config.change", the field, who, why; never the values). A
 * failure is logged, not returned: the change is committed. */
void adb__config_change_announce(adb *h, const adb__config_change *ch);

/* ---- a change of one JSON document, in two calls (errmon) ----------------
 * For call sites that hold the before and after as json_t: rec keeps what
 * the announcement needs until adb__config_change_rec_done. */
typedef struct adb__config_change_rec {
    adb__config_change ch;
    char org[256], field[256], by[256], reason[256];
    char *prev, *next;       /* owned JSON texts */
    bool written;            /* the row is in the caller's transaction */
} adb__config_change_rec;

/* Fills rec (prev or next NULL: created or deleted) and writes its row in
 * the caller's transaction on c; reason may be NULL. On failure the caller
 * rolls back. Nothing is written when prev and next are equal. */
adb_status adb__config_change_json_tx(PGconn *c, adb__config_change_rec *rec, const char *org,
                                      const char *field, const json_t *prev, const json_t *next,
                                      const char *by, const char *reason, char *err,
                                      size_t errlen);

/* After the caller's transaction ended: announces the change when it was
 * committed and written, and frees what rec owns (rec zeroed: safe twice,
 * and on a rec never filled when it was zeroed first). */
void adb__config_change_rec_done(adb *h, adb__config_change_rec *rec, bool committed);

/* A copy of the object doc without the members named in drop (NULL-ended):
 * what changes by itself (times, counters, next runs) is not a change of
 * configuration. New reference; NULL when doc is NULL. */
json_t *adb__config_doc_without(const json_t *doc, const char *const *drop);

#endif
