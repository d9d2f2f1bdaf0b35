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

/* The principalId of the service's own alert events (openings, hold-open
 * resolutions, the notifier's). */
#define ADB_ALERT_PRINCIPAL "auditdb-alerts"

/* An alert's state changes (lifecycle.c). */
typedef enum adb__alert_action { ADB_ALERT_ACK, ADB_ALERT_RESOLVE, ADB_ALERT_DISMISS } adb__alert_action;
const char *adb__alert_action_name(adb__alert_action a);

/* Applies a to alert id of org as the tenant (row-level security), by `by`
 * (the key id or user), notes: the resolution (resolve), reason (dismiss) or notes (acknowledge: in its event only),
 * may be NULL. Acknowledge: active -> acknowledged; resolve and dismiss:
 * active or acknowledged -> resolved / dismissed. An alert already in the
 * target state: ADB_OK with *changed false, nothing written. A real change
 * commits with its audit event's outbox row, then logs that event
 * (alert.acknowledge, alert.resolve, alert.dismiss) as the organization's
 * (serve's alert thread logs it if that fails). ADB_ERR_NOT_FOUND: no such
 * alert in org; ADB_ERR_INVALID: its state does not allow a (why in err). */
adb_status adb__alert_act(struct adb *h, const char *org, const char *id, adb__alert_action a,
                          const char *by, const char *notes, bool *changed, char *err,
                          size_t errlen);

/* Logs up to max events of the outbox (every organization) on c, the owner's
 * connection, each with the idempotency key "alert-outbox-<id>", deleting
 * the rows logged; *logged how many. */
adb_status adb__alert_outbox_drain(struct adb *h, PGconn *c, int max, int *logged, char *err,
                                   size_t errlen);

/* An alerts row as JSON (view.c): the client's Alert with dismissedAt/By,
 * dedupKey, ruleId, ruleVersion, triggerCount, first/lastTriggeredAt,
 * sampleEventIds, silenced, silenceId, updatedAt. r's columns are
 * ADB_ALERT_COLUMNS, in order (alias a for alerts). Caller owns it. */
#define ADB__TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define ADB_ALERT_COLUMNS                                                                    \
    "a.id, a.organization_id, a.title, a.description, a.severity, a.status, a.type, a.source," \
    " " ADB__TS("a.created_at") ", " ADB__TS("a.acknowledged_at") ", "                       \
    ADB__TS("a.resolved_at") ", a.acknowledged, a.acknowledged_by, a.resolved,"              \
    " a.resolved_by, a.resolution_notes, a.correlation_id, a.tags::text, a.metadata::text, " \
    ADB__TS("a.dismissed_at") ", a.dismissed_by, a.dedup_key, a.rule_id, a.rule_version,"    \
    " a.trigger_count, " ADB__TS("a.first_triggered_at") ", " ADB__TS("a.last_triggered_at") \
    ", a.sample_event_ids::text, a.silenced, a.silence_id, " ADB__TS("a.updated_at")
#include <jansson.h>
json_t *adb__alert_row_json(const PGresult *r, int i);

/* The alert configuration (config.c): the client's AlertsConfiguration
 * (failureRateThreshold, consecutiveFailureThreshold, queueBacklogThreshold,
 * responseTimeThreshold, debounceWindow = the hold-open time in minutes,
 * escalationDelay, suppressionWindows) and notification {destinations:
 * "default" | "none" | [ids], groupWaitSeconds, groupIntervalSeconds,
 * repeatIntervalSeconds}: Alertmanager's defaults below. */
#define ADB_ALERT_GROUP_WAIT_S 30
#define ADB_ALERT_GROUP_INTERVAL_S 300
#define ADB_ALERT_REPEAT_INTERVAL_S 14400
json_t *adb__alert_config_defaults(void);
/* The defaults, then stored's members, then patch's (notification merged
 * member by member). New reference; NULL when out of memory. */
json_t *adb__alert_config_merge(const json_t *stored, const json_t *patch);
/* Is cfg (merged) a valid configuration? false with the member at fault in
 * field and why in msg. Time zones are checked by the caller (PostgreSQL). */
bool adb__alert_config_check(json_t *cfg, char field[64], char *msg, size_t msglen);

/* Deletes the resolved and dismissed alerts closed more than days (<= 0:
 * ADB_ALERT_RETENTION_DAYS) before now_us, on c (the owner's connection, in
 * batches, each its own statement); *deleted how many (cleanup.c). */
#define ADB_ALERT_RETENTION_DAYS 90
adb_status adb__alert_cleanup(PGconn *c, int64_t now_us, int days, long long *deleted, char *err,
                              size_t errlen);

/* serve's alert thread (notifier.c): every tick_ms, the outbox logged as
 * audit events and the notification round, on its own connection to
 * owner_conninfo. NULL with err on failure; stop joins it (NULL accepted). */
typedef struct adb__alerter adb__alerter;
adb__alerter *adb__alerter_start(adb *h, const char *owner_conninfo, int tick_ms, char *err,
                                 size_t errlen);
void adb__alerter_stop(adb__alerter *a);
/* The client's delivery thresholds of each organization's alert
 * configuration weighed on c, the owner's connection (thresholds.c):
 * breaches raised, ended breaches resolved; the breaches, or -1. */
#define ADB_ALERT_THRESHOLDS_SOURCE "auditdb-thresholds"
#define ADB_ALERT_THRESHOLDS_TICKS 30 /* weighed every 30 ticks of the alert thread (30 s) */
int adb__alert_thresholds_round(struct adb *h, PGconn *c);

/* One notification round at now_ms on c (the owner's connection, no
 * transaction open): the groups due are sent, then the "resolved"
 * notifications due (notification.sendResolved); how many, or -1. */
int adb__alert_notify_round(adb *h, PGconn *c, int64_t now_ms);

/* Resolves, in the caller's transaction on c (the owner's), every open alert
 * of (org, source) whose dedup key starts with one of prefixes (a JSON array
 * of strings: what the raiser looked at this time) and is not one of keys (a
 * JSON array: what it found), by `by` with reason (resolve_absent.c;
 * migration 0041). Each gives an alert.resolved event through the outbox.
 * *resolved (may be NULL) how many. */
adb_status adb__alert_resolve_absent(PGconn *c, const char *org, const char *source,
                                     const json_t *prefixes, const json_t *keys, const char *by,
                                     const char *reason, int *resolved, char *err, size_t errlen);

#endif
