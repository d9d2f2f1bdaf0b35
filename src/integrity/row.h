/*
 * row.h - a stored audit_log row as 24 strings, and what its hash, signature
 * and chain link should be (internal).
 *
 * The 24 columns and their text are those verification reads (the same
 * expressions as verify.c's ROW_COLUMNS); archives store exactly these
 * strings (docs/archive.md), so live rows and archived rows are checked by
 * one recomputation.
 */
#ifndef ADB_INTEGRITY_ROW_H
#define ADB_INTEGRITY_ROW_H

#include <stdbool.h>
#include <stdint.h>
#include "integrity.h"

#define ADB__ROW_NCOLS 24

/* The SELECT list giving a row's 24 strings, in adb__row_col order. */
#define ADB__ROW_COLUMNS                                                                     \
    "id, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ttl," \
    " principal_id, organization_id, action, target_resource_type, target_resource_id,"      \
    " status, outcome_description, hash, hash_algorithm, signature, event_version,"          \
    " correlation_id, data_classification, retention_policy, details::text, chain_seq,"      \
    " prev_chain_hash, chain_hash, event_id, commit_key, commit_field_keys::text"

typedef enum adb__row_col {
    ADB_COL_ID, ADB_COL_TIMESTAMP, ADB_COL_TTL, ADB_COL_PRINCIPAL_ID, ADB_COL_ORGANIZATION_ID,
    ADB_COL_ACTION, ADB_COL_TARGET_RESOURCE_TYPE, ADB_COL_TARGET_RESOURCE_ID, ADB_COL_STATUS,
    ADB_COL_OUTCOME_DESCRIPTION, ADB_COL_HASH, ADB_COL_HASH_ALGORITHM, ADB_COL_SIGNATURE,
    ADB_COL_EVENT_VERSION, ADB_COL_CORRELATION_ID, ADB_COL_DATA_CLASSIFICATION,
    ADB_COL_RETENTION_POLICY, ADB_COL_DETAILS, ADB_COL_CHAIN_SEQ, ADB_COL_PREV_CHAIN_HASH,
    ADB_COL_CHAIN_HASH,
    ADB_COL_EVENT_ID, /* archives written before ids existed lack it */
    ADB_COL_COMMIT_KEY, /* these two: archives written before migration 0022 lack them */
    ADB_COL_COMMIT_FIELD_KEYS
} adb__row_col;

/* The audit_log column names, in adb__row_col order ("id", "timestamp", ...). */
extern const char *const adb__row_names[ADB__ROW_NCOLS];

/* What a row's hash, signature and chain link should be. */
typedef struct adb__row_expect {
    char hash[65];     /* the hash its content gives (legacy rows: the 8-field hash) */
    char content[65];  /* SHA-256 of the canonical form (what the chain link covers) */
    char signature[65];
    char link[65];     /* the chain link of its organization, position and predecessor */
    char event_id[37]; /* the id it must carry: for sha256-c14n-v2/v3 its own (the hash
                          covers it), for other algorithms the id derived from its chain link */
    /* sha256-c14n-v3 */
    bool key_erased;   /* commit_key is gone: an erasure happened (or was faked) */
    int keyless;       /* committed values without a key to check them */
    char keyless_field[96];
    int recorded;      /* commitments taken from erasure records */
    bool field_keys;   /* commit_field_keys is there (an erasure by the rules left it) */
    int unrecorded;    /* fields marked erased without a signed record */
    char unrecorded_field[96];
    char why[160];     /* when the row cannot be read: why */
} adb__row_expect;

/* Builds the event the row stores into ev (ev->details: its canonical text,
 * malloc()ed; the other fields point into v): 1, 0 unreadable (out->why), -1
 * out of memory. */
int adb__row_event(const char *const v[ADB__ROW_NCOLS], adb__event *ev, adb__row_expect *out);

/* Recomputes from v (NULL for SQL NULL): 1 computed, 0 the row cannot be
 * read (a bad timestamp or details; out->why says which), -1 out of memory. */
int adb__row_recompute(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                       adb__row_expect *out);

/* The same for a v3 row whose key was erased (out->key_erased), given the
 * commitments of its erased fields from verified erasure records. */
struct adb__erased;
int adb__row_recompute_erased(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                              const struct adb__erased *erased, size_t nerased,
                              adb__row_expect *out);

/* An event stored before v3 whose residual content (out->content, computed
 * above) a valid residual record vouches for (erasure_records.h): what its
 * hash, chain link and Merkle leaf cover is the original content hash the
 * record holds; out's hash becomes the stored one, content the original and
 * link is recomputed over it (docs/integrity.md 8b). */
void adb__row_expect_residual(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                              const char original[65], adb__row_expect *out);

#endif
