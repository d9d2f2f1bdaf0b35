/*
 * checkpoint.h - the checkpointer (internal): signs each organization's
 * checkpoint (C2SP tlog-checkpoint, note.h) when its Merkle tree grew, keeps
 * the latest outside the database, and pushes it to the witnesses.
 *
 * The integrator offers (organization, size, root) after each round that
 * grew a tree; a thread signs at most one checkpoint per organization every
 * interval, and only one consistent with the last it signed: before signing
 * size n2 it reads the size n1 and root it signed last from its own file
 * (never from the database, which a superuser can rewrite) and checks a
 * consistency proof from n1 to n2 (the consistency callback) against both
 * roots. If that fails it signs nothing, inserts an alerts row and logs one
 * line. Each signed checkpoint is written atomically to
 * <dir>/<percent-encoded org>.checkpoint and stored in log_checkpoint
 * (migration 0021), then sent to every witness (C2SP tlog-witness
 * add-checkpoint over libcurl); their verified cosignatures are added to the
 * file and the row. docs/checkpoints.md.
 */
#ifndef ADB_CHECKPOINT_H
#define ADB_CHECKPOINT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "auditdb/pool.h"
#include "auditdb/status.h"
#include "merkle.h"
#include "note.h"

#define ADB_CHECKPOINT_MAX_WITNESSES 16
#define ADB_CHECKPOINT_MAX_PENDING 65536 /* organizations waiting at once */
#define ADB_CHECKPOINT_URL_MAX 2048
#define ADB_CHECKPOINT_PATH_MAX 4096

/* Exactly adb__tree_consistency_proof's signature (tiles.h): the proof from
 * size1 to size2 of org's tree, into proof (ADB_MERKLE_MAX_PROOF entries) and
 * *n. c is a connection of the checkpointer's pool. */
typedef adb_status (*adb__consistency_fn)(PGconn *c, const char *org, uint64_t size1,
                                          uint64_t size2, adb__mhash *proof, size_t *n, char *err,
                                          size_t errlen);

/* One witness of AUDITDB_WITNESSES: its submission prefix and its
 * cosignature/v1 verifier key. */
typedef struct adb__witness {
    char url[ADB_CHECKPOINT_URL_MAX];
    adb__note_verifier vkey;
} adb__witness;

typedef struct adb__checkpointer_options {
    adb_pool *pool;                   /* the owner's: log_checkpoint, alerts, the callback */
    const adb__note_signer *signer;   /* the log key (borrowed; outlives the checkpointer) */
    const char *log_name;             /* origin prefix (AUDITDB_LOG_NAME) */
    const char *dir;                  /* AUDITDB_CHECKPOINT_DIR (created 0755 when missing) */
    const char *witnesses;            /* AUDITDB_WITNESSES; NULL or "": none */
    int interval_ms;                  /* AUDITDB_CHECKPOINT_INTERVAL_MS; <= 0: 250 */
    adb__consistency_fn consistency;  /* required */
    FILE *log;                        /* one JSON line per refusal or witness trouble; NULL: none */
    int witness_timeout_ms;           /* one add-checkpoint request; <= 0: 10000 */
    int retry_ms;                     /* a witness that did not answer, again after; <= 0: 5000 */
    int alert_after;                  /* failed offers in a row before an alert row; <= 0: 5 */
} adb__checkpointer_options;

typedef struct adb__checkpointer_stats {
    uint64_t offers;        /* offers taken */
    uint64_t dropped;       /* offers dropped: ADB_CHECKPOINT_MAX_PENDING organizations waiting */
    uint64_t signed_count;  /* checkpoints signed */
    uint64_t refused;       /* offers refused (inconsistent, unreadable file, ...) */
    uint64_t cosignatures;  /* witness cosignatures verified and stored */
    uint64_t witness_errors; /* witness requests that failed or were refused */
    uint64_t rounds;        /* rounds the thread ran (each interval with work) */
    uint64_t failures;      /* offers that could not be signed, written or stored */
    uint64_t streak;        /* of them, in a row until now (0: the last one succeeded) */
    bool failing;           /* streak reached alert_after */
    char last_error[256];   /* the last failure's step and reason ("" if none) */
} adb__checkpointer_stats;

typedef struct adb__checkpointer adb__checkpointer;

/* Parses AUDITDB_WITNESSES: comma-separated URL=vkey (URL http:// or
 * https://, without '='; vkey of type 0x04). ADB_ERR_CONFIG naming the
 * entry at fault. */
adb_status adb__witnesses_parse(const char *text, adb__witness *out, size_t cap, size_t *n,
                                char *err, size_t errlen) ADB_WUR;

/* <dir>/<percent-encoded org>.checkpoint, or <dir>/sha256-<hex of the org's
 * SHA-256>.checkpoint when the encoding is longer than 200 bytes. False when
 * it does not fit cap. */
bool adb__checkpoint_path(const char *dir, const char *org, char *out, size_t cap);

/* Starts the thread after checking the options: a signer, a callback, a
 * directory it can create and write that is not inside the PostgreSQL data
 * directory (asked from the server when it may tell), valid witnesses.
 * NULL with err filled on failure. */
adb__checkpointer *adb__checkpointer_start(const adb__checkpointer_options *o, char *err,
                                           size_t errlen);

/* Offers org's tree at size with root (copied). Never blocks on the
 * database: it replaces org's waiting offer when size is larger, and is
 * dropped (counted) when ADB_CHECKPOINT_MAX_PENDING organizations wait. */
void adb__checkpointer_offer(adb__checkpointer *cp, const char *org, uint64_t size,
                             const uint8_t root[32]);

/* Runs the waiting offers now instead of at the next interval (tests, and
 * a server that stops); returns once they are done. */
void adb__checkpointer_flush(adb__checkpointer *cp);

void adb__checkpointer_stats_get(adb__checkpointer *cp, adb__checkpointer_stats *out);

/* Signs what is waiting, stops the thread and frees cp (NULL is fine). */
void adb__checkpointer_stop(adb__checkpointer *cp);

#endif
