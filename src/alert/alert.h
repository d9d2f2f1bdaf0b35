/*
 * alert.h - alerts (issue 20; docs/alerts.md): raised once per deduplication
 * key, their states (active, acknowledged, resolved, dismissed), silences,
 * hold-open against flapping, sample events, and their notification through
 * the delivery queue. Every detector of the service (detection rules,
 * error regressions, database findings, the log's checkpointer, delivery's
 * breaker) raises through adb__alert_raise; nothing else inserts alerts rows.
 */
#ifndef ADB_ALERT_H
#define ADB_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "auditdb.h"

#define ADB_ALERT_ID_MAX 64      /* "alert-" + 32 hex + NUL, with room */
#define ADB_ALERT_SAMPLES_MAX 10 /* sample event ids an alert keeps */

typedef struct adb__alert_trigger {
    const char *org;            /* the organization (required) */
    const char *source;         /* who raises: "auditdb-detect", "auditdb-errors",
                                   "auditdb-dbmon", "auditdb-checkpoint", ... (required) */
    const char *dedup_key;      /* one open alert per (org, dedup_key): for a rule,
                                   "<rule id>/<group value>" (required) */
    const char *rule_id;        /* the detection rule, or NULL */
    int rule_version;           /* its version, 0 when rule_id is NULL */
    const char *severity;       /* INFO LOW MEDIUM HIGH CRITICAL */
    const char *type;           /* SECURITY COMPLIANCE PERFORMANCE SYSTEM METRICS DELIVERY CUSTOM */
    const char *title;          /* required */
    const char *description;    /* required; never event content or secrets */
    const char *correlation_id; /* or NULL */
    const char *metadata_json;  /* a JSON object or NULL */
    const char *const *sample_event_ids; /* event UUIDs, the first ADB_ALERT_SAMPLES_MAX kept */
    size_t nsamples;
    int64_t at_ms;              /* when it triggered (for a rule: the event time) */
} adb__alert_trigger;

typedef enum adb__alert_outcome {
    ADB_ALERT_OPENED = 1,   /* a new alert row */
    ADB_ALERT_FOLDED,       /* counted into the open alert of the same key */
    ADB_ALERT_SILENCED      /* a silence matched: recorded as silenced, no notification */
} adb__alert_outcome;

/* Raises t in the caller's transaction on c (the caller commits; nothing is
 * written when it rolls back): opens an alert, or folds the trigger into the
 * open (active or acknowledged) alert of (org, dedup_key): count, last
 * trigger, samples. A resolved or dismissed alert is never reopened: a new
 * trigger after it opens a new alert, unless it comes within the key's
 * hold-open time (docs/alerts.md). *out (may be NULL) says which; id_out
 * (may be NULL) gets the alert's id. ADB_ERR_INVALID for a trigger missing a
 * required member or with an unknown severity or type (why in err). */
adb_status adb__alert_raise(PGconn *c, const adb__alert_trigger *t, adb__alert_outcome *out,
                            char id_out[ADB_ALERT_ID_MAX], char *err, size_t errlen);

/* ---- alerts helper: shared by src/alert/ (one block) ------------------------------- */

/* The alerts' clock (src/core/clock.h): a test build moves it by the file this
 * variable names (silences, hold-open, notification, cleanup). */
#define ADB_ALERT_CLOCK_ENV "AUDITDB_ALERT_CLOCK_FILE"
int64_t adb__alert_now_ms(void);

/* Is s one of the client's severities / types? */
bool adb__alert_severity_known(const char *s);
bool adb__alert_type_known(const char *s);

#endif
