/*
 * archive.h - archives of audit events (internal). The format is described
 * in docs/archive.md: one zstd frame of JSON Lines, one line per audit_log
 * row in chain order, each a JSON object of the row's 24 columns as strings
 * (the text verification reads) or null; metadata with the checksums of the
 * original and the compressed bytes. A stub (an archive whose events passed
 * their retention) keeps only organization_id, chain_seq, prev_chain_hash
 * and chain_hash per position.
 *
 *   archive_format.c  writing: rows -> JSON Lines -> zstd, checksums, metadata
 *   archive_reader.c  reading: stored payload -> rows, checking both checksums
 *   archive.c         the archival run: due events into archives, listing
 *   retention.c       expired events and archives into stubs, expired partitions
 *   archive_ops.c     verify, restore and export one archive
 *   archive_subjects.c the subject index: which archives hold a subject's events
 *   dlq.c             failed jobs: dead-letter queue, backoff, alert
 *   maintenance.c     the maintenance round and the scheduler thread
 */
#ifndef ADB_LIFECYCLE_ARCHIVE_H
#define ADB_LIFECYCLE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "auditdb.h"
#include "../integrity/row.h"

#define ADB__ARCHIVE_FORMAT "auditdb-archive-v1"
#define ADB__ARCHIVE_MAX_ROWS 100000   /* rows of one archive */
#define ADB__ARCHIVE_MAX_LINE (8u << 20) /* bytes of one JSON line a reader accepts */
#define ADB__ARCHIVE_MAX_PAYLOAD (1u << 30) /* compressed bytes of one archive (bytea's limit) */
#define ADB__ARCHIVE_INDEX_PER_ROUND 50 /* unindexed archives a maintenance round indexes */

/* ---- writing (archive_format.c) ---------------------------------------- */

typedef struct adb__archive_builder adb__archive_builder;

/* A finished archive, ready to be stored. Owned by the caller: release with
 * adb__archive_built_free(). */
typedef struct adb__archive_built {
    unsigned char *payload;       /* the zstd frame */
    size_t payload_len;
    char *organization_id;        /* of every row */
    char *retention_policy;       /* the rows' retention_policy; NULL when NULL */
    char *data_classification;    /* the rows' data_classification; NULL when NULL */
    long long rows, original_size;
    int64_t first_seq, last_seq;
    char first_prev[65], last_chain[65];
    char date_start[40], date_end[40]; /* oldest and newest timestamp of the rows */
    char original_sha[65], compressed_sha[65];
    bool stub;
    json_t *subjects;             /* the rows' distinct principal and target ids (object keys);
                                     NULL for a stub, or when they could not be collected */
} adb__archive_built;

/* A builder of one archive (stub: positions only). NULL when out of memory. */
adb__archive_builder *adb__archive_builder_new(bool stub);

/* Appends one row (v: the 24 columns, NULL for NULL). Rows must come in
 * chain order and share organization, retention policy and classification.
 * false with err filled on a row that breaks that, or when out of memory. */
bool adb__archive_builder_add(adb__archive_builder *b, const char *const v[ADB__ROW_NCOLS],
                              char *err, size_t errlen);

/* Rows added so far. */
long long adb__archive_builder_rows(const adb__archive_builder *b);

/* Ends the frame and fills *out (zeroed first). false with err filled. */
bool adb__archive_builder_finish(adb__archive_builder *b, adb__archive_built *out, char *err,
                                 size_t errlen);

/* Frees a builder (NULL is fine). */
void adb__archive_builder_free(adb__archive_builder *b);

void adb__archive_built_free(adb__archive_built *a);

/* What the metadata says besides the built archive's own figures. */
typedef struct adb__archive_meta_extra {
    const char *policy_name;      /* the policy applied; NULL: none */
    int archive_after_days;       /* -1: NULL */
    int retention_days;           /* -1: NULL */
    const char *created_at;       /* timestamp text */
    const char *deleted_at;       /* stubs: when the events were deleted */
    const char *replaced_original_sha, *replaced_compressed_sha; /* stubs of an archive */
    long long replaced_size;
} adb__archive_meta_extra;

/* The metadata JSON (docs/archive.md) of a built archive; malloc()ed, NULL
 * when out of memory. */
char *adb__archive_metadata_json(const adb__archive_built *a, const adb__archive_meta_extra *x);

/* A new archive id ("archive-" and 32 hex digits) into id. */
bool adb__archive_new_id(char id[64]);

/* Stores a built archive as a new archive_storage row (in the caller's
 * transaction); id receives its id. */
ADB_WUR adb_status adb__archive_insert(PGconn *c, const adb__archive_built *a,
                                       const adb__archive_meta_extra *x, char id[64], char *err,
                                       size_t errlen);

/* ---- reading (archive_reader.c) ---------------------------------------- */

typedef struct adb__archive_reader adb__archive_reader;

/* What an archive's metadata says (from the reader). */
typedef struct adb__archive_info {
    char id[256];
    char organization_id[256];
    bool stub;                    /* metadata deleted: true */
    long long record_count, original_size, compressed_size;
    int64_t first_seq, last_seq;
    char first_prev[65], last_chain[65];
    char original_sha[65], compressed_sha[65];
    char date_start[40], date_end[40];
    char retention_policy[64], data_classification[32]; /* "" when null */
    bool has_policy, has_classification;
} adb__archive_info;

/* Opens archive id for reading (one SELECT on c; c is not used afterwards).
 * Checks at once the format, the compressed bytes' checksum and size and the
 * columns against the metadata; the original bytes' checksum and size, the
 * record count, the chain positions (ascending, those the metadata names)
 * and the organization of each row are checked as the rows are read: only
 * when adb__archive_next() returned 0 were they all found right. NULL with
 * err filled when the archive is missing or a check fails. */
adb__archive_reader *adb__archive_open(PGconn *c, const char *id, char *err, size_t errlen);

/* The same with a choice: a lenient reader records a check that fails
 * (checksums, sizes, counts, positions; adb__archive_problems) and goes on
 * reading, for verification, which reports everything; malformed data (a
 * broken frame, an unreadable line) still stops it. *st receives
 * ADB_ERR_NOT_FOUND for a missing archive, ADB_ERR_INVALID for one that
 * fails a check or cannot be read, ADB_ERR_DB_QUERY or ADB_ERR_NOMEM. */
adb__archive_reader *adb__archive_open_ex(PGconn *c, const char *id, bool lenient,
                                          adb_status *st, char *err, size_t errlen);

/* The next row: 1 with v filled (pointers valid until the next call; a stub
 * gives organization_id, chain_seq, prev_chain_hash and chain_hash, the
 * rest NULL), 0 at the end with every check passed (lenient: at the end),
 * -1 on an error (adb__archive_error()). */
int adb__archive_next(adb__archive_reader *r, const char *v[ADB__ROW_NCOLS]);

/* The next line of the JSON Lines as stored, without its newline: 1, 0 at
 * the end (checks passed), -1 on an error. Do not mix with _next(). */
int adb__archive_next_line(adb__archive_reader *r, const char **line, size_t *len);

const adb__archive_info *adb__archive_reader_info(const adb__archive_reader *r);
const char *adb__archive_error(const adb__archive_reader *r);

/* Lenient readers: the checks that failed so far, one message each. */
size_t adb__archive_problems(const adb__archive_reader *r, const char *const **msgs);

void adb__archive_close(adb__archive_reader *r);

/* ---- the subject index (archive_subjects.c) ---------------------------- */

struct adb__keys;
/* Records the blind index of every id in a->subjects for archive_id (just
 * inserted, in the caller's transaction) and marks the archive indexed. A
 * stub, an archive without its subjects, or no subject key (k NULL) is left
 * unindexed (ADB_OK): such an archive is always read in full. */
ADB_WUR adb_status adb__archive_index_subjects(PGconn *c, const struct adb__keys *k,
                                               const adb__archive_built *a,
                                               const char *archive_id, char *err,
                                               size_t errlen);

/* The ids (column 0) of org's readable archives (payload kept, not a stub),
 * in chain order, that may hold an event whose principal or target is
 * subject: those the index names for it and every unindexed one (all of
 * them without a subject key). NULL on a database error; caller PQclear()s.
 * Runs as the caller's connection (a tenant's: row-level security). */
PGresult *adb__archive_ids_for_subject(PGconn *c, const struct adb__keys *k, const char *org,
                                       const char *subject);

/* The ids of one organization's archives (stubs included), in chain order
 * (first position ascending). *ids is a malloc()ed array of malloc()ed
 * strings; free with adb__archive_ids_free(). */
ADB_WUR adb_status adb__archive_ids(PGconn *c, const char *organization_id, char ***ids, size_t *n,
                                    char *err, size_t errlen);
void adb__archive_ids_free(char **ids, size_t n);

/* ---- listing and single archives (archive.c, archive_ops.c) ------------- */

typedef struct adb__archive_entry {
    char id[256];
    char organization_id[256];
    char created_at[40];
    char *metadata;               /* JSON text, malloc()ed */
    long long retrieved_count;
    bool deleted;
} adb__archive_entry;

/* Every archive (of one organization when organization_id is not NULL),
 * ordered by organization and first position. Free with
 * adb__archive_entries_free(). */
ADB_WUR adb_status adb__archive_list(adb *db, const char *organization_id, adb__archive_entry **out,
                                     size_t *n, char *err, size_t errlen);
void adb__archive_entries_free(adb__archive_entry *e, size_t n);

/* One archive's entry (its metadata and columns); NOT_FOUND when missing. */
ADB_WUR adb_status adb__archive_get(adb *db, const char *id, adb__archive_entry *out, char *err,
                                    size_t errlen);

/* A problem found by adb__archive_verify. */
typedef void (*adb__archive_problem_fn)(void *ud, const char *kind, int64_t chain_seq,
                                        const char *message);

/* Verifies one archive: both checksums, sizes and counts, then for every
 * row its hash, signature and chain link and the links between consecutive
 * positions (stubs: the links only). *problems counts what was found (each
 * also passed to on_problem). ADB_OK when verification ran, whatever it
 * found. */
ADB_WUR adb_status adb__archive_verify(adb *db, const char *id, adb__archive_problem_fn on_problem,
                                       void *ud, long long *rows, long long *problems, char *err,
                                       size_t errlen);

/* Puts the archive's rows back into audit_log (same ids, hashes and chain
 * positions; partitions made when missing) and removes the archive, in one
 * transaction. A stub cannot be restored (ADB_ERR_INVALID). */
ADB_WUR adb_status adb__archive_restore(adb *db, const char *id, long long *rows, char *err,
                                        size_t errlen);

/* Writes the archive's JSON Lines to out; the archive's checks must pass
 * (else an error, and what was written is incomplete: write to a temporary
 * file). Counts a retrieval. */
ADB_WUR adb_status adb__archive_export(adb *db, const char *id, FILE *out, long long *rows,
                                       char *err, size_t errlen);

#endif
