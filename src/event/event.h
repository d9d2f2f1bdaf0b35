/*
 * event.h - the audit event inside the library: parsed, preset applied,
 * validated and normalized to exactly what PostgreSQL will store and return.
 *
 * Flow: JSON text -> adb__json_parse -> adb__event_from_json (presets,
 * validation, normalization) -> canonical form and hash (integrity/) ->
 * writer. An adb__event owns all of its strings; adb__event_free releases them.
 */
#ifndef ADB_EVENT_EVENT_H
#define ADB_EVENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auditdb.h"
#include "json.h"
#include "event_id.h"

/* The hash algorithm names stored in audit_log.hash_algorithm. */
#define ADB_HASH_ALG_C14N "sha256-c14n-v3"  /* ours: with "id", personal data as commitments */
#define ADB_HASH_ALG_C14N_V2 "sha256-c14n-v2" /* ours before commitments: with "id", values */
#define ADB_HASH_ALG_C14N_V1 "sha256-c14n-v1" /* ours before event ids: without "id" */
#define ADB_HASH_ALG_LEGACY "SHA-256"       /* smart-logs v1: 8 fields (imported events) */

#define ADB_TS_TEXT_MAX 32 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL */

/* Text columns, in one array so canonical form, COPY and reading rows share
 * one table (event.c: adb__event_fields). */
typedef enum adb_event_field {
    ADB_F_ACTION,
    ADB_F_STATUS,
    ADB_F_PRINCIPAL_ID,
    ADB_F_ORGANIZATION_ID,
    ADB_F_TARGET_RESOURCE_TYPE,
    ADB_F_TARGET_RESOURCE_ID,
    ADB_F_OUTCOME_DESCRIPTION,
    ADB_F_CORRELATION_ID,
    ADB_F_DATA_CLASSIFICATION,
    ADB_F_RETENTION_POLICY,
    ADB_F_EVENT_VERSION,
    ADB_F_HASH_ALGORITHM,
    ADB_F_TTL,
    ADB_F__COUNT
} adb_event_field;

typedef struct adb_event_field_info {
    const char *api_name;   /* camelCase, as the API and the canonical form name it */
    const char *column;     /* audit_log column */
    size_t max_chars;       /* characters (code points) */
} adb_event_field_info;

extern const adb_event_field_info adb__event_fields[ADB_F__COUNT];

typedef struct adb__event {
    /* the public id (event_id.h), canonical lowercase UUID text: a new
     * event's is drawn with its timestamp, before hashing (the canonical form
     * sha256-c14n-v2 covers it); "" for a legacy (SHA-256) import until the
     * writer derives it from its chain link */
    char event_id[ADB_EVENT_ID_LEN + 1];
    int64_t ts_us;                   /* microseconds since 1970-01-01 UTC */
    char ts_text[ADB_TS_TEXT_MAX];   /* canonical timestamp text */
    char *f[ADB_F__COUNT];           /* NULL: absent (SQL NULL); "" is kept as "" */
    char *details;                   /* canonical JSON object text, NULL if none */
    size_t details_len;
    char hash[65];                   /* as stored (legacy: the given hash) */
    char content_hash[65];           /* SHA-256 of the canonical form, always */
    char signature[65];
    /* sha256-c14n-v3: the event's commitment key (audit_log.commit_key),
     * drawn with the event; has_commit_key false for older algorithms and
     * for a stored row whose key was erased */
    unsigned char commit_key[32];
    bool has_commit_key;
    /* assigned when written */
    int64_t id;
    int64_t chain_seq;
    char prev_chain_hash[65];
    char chain_hash[65];
    char *idempotency_key;           /* NULL: none */
} adb__event;

/* adb_event_error / adb_event_errors: include/auditdb/log.h. */

/* true for the algorithms whose canonical form carries the event id
 * (sha256-c14n-v2 and v3). */
bool adb__hash_alg_binds_id(const char *alg);

/* A preset (audit_preset row) in memory. */
typedef struct adb__preset {
    char *name, *organization_id, *action, *data_classification;
    char **required;        /* field names (API names) */
    size_t nrequired;
    adb_json_doc *defaults; /* object of API name -> value, may be NULL */
} adb__preset;

/* Validation settings. */
typedef struct adb__validation {
    int64_t now_us;              /* the clock (tests may set it) */
    int64_t max_future_us;       /* how far ahead a timestamp may be */
    int64_t max_past_us;         /* how far back */
    size_t max_details_bytes;    /* canonical details size */
    int max_details_depth;       /* 3, as the original */
    const char *organization_id; /* forced tenant (API key's); NULL: from the event */
    bool allow_legacy_hash;      /* import: accept hashAlgorithm "SHA-256" + hash */
} adb__validation;

void adb__validation_default(adb__validation *v);

/* Builds an event from a parsed JSON object. preset may be NULL. On a
 * validation failure returns NULL with errs filled (nothing allocated).
 * Returns NULL with errs->count == 0 only when out of memory. */
adb__event *adb__event_from_json(const adb_json *obj, const adb__preset *preset,
                                 const adb__validation *v, adb_event_errors *errs);

void adb__event_free(adb__event *ev);

/* Parses an RFC 3339 timestamp (also "YYYY-MM-DD HH:MM:SS[.f][offset]" as
 * PostgreSQL prints it), any offset, up to 9 fraction digits; truncates to
 * microseconds. false if malformed or out of 0001..9999. */
bool adb__timestamp_parse(const char *s, size_t len, int64_t *us);

/* Formats microseconds as "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
void adb__timestamp_format(int64_t us, char out[ADB_TS_TEXT_MAX]);

/* year * 12 + month - 1 of the UTC month holding us. */
int adb__month_index(int64_t us);

/* Current time in microseconds. */
int64_t adb__now_us(void);

/* Default retention policy for a classification ("PHI" -> "phi_extended"). */
const char *adb__retention_for(const char *classification);

void adb__errors_add(adb_event_errors *errs, const char *code, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
