/*
 * log_health.h - the verifiable log's state for the health answers (docs/log.md,
 * "When the log fails"): the tree's integrator and the checkpointer, read
 * from memory.
 */
#ifndef ADB_HTTP_LOG_HEALTH_H
#define ADB_HTTP_LOG_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "auditdb.h"

/* {tree: {...}, checkpointer: {...}} (an empty object when the log is off).
 * *failing: an organization's tree, or the checkpointer, failed
 * AUDITDB_LOG_ALERT_AFTER times in a row and has not succeeded since; why
 * says which (whylen bytes). errors: with the last errors, which name
 * organizations (operators only). */
json_t *adb_http_log_health(adb *db, bool errors, bool *failing, char *why, size_t whylen);

#endif
