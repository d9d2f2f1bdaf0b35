/*
 * verify.h - recomputing every hash, signature and chain link.
 *
 * adb_verify() streams an organization's events (or everyone's) in chain
 * order, live rows merged with archived rows and stubs' positions,
 * recomputes the canonical form, hash, signature and chain link of
 * each, checks that sequence numbers run without gaps or repeats and that
 * each event links to the one before, and reports each problem through a
 * callback. Results are recorded in audit_integrity_log.
 */
#ifndef AUDITDB_VERIFY_H
#define AUDITDB_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "log.h"

typedef struct adb_verify_problem {
    int64_t id;                 /* audit_log.id (0 when the event is missing) */
    char event_id[37];          /* its public id, a UUID ("" when the event is missing) */
    char organization_id[256];
    int64_t chain_seq;
    const char *kind;           /* static: "hash_mismatch", "signature_invalid",
                                   "chain_link_mismatch", "chain_break", "missing_events",
                                   "duplicate_seq", "missing_tail", "missing_head",
                                   "head_behind", "unreadable", "event_id_mismatch",
                                   "archive_mismatch" (an archive fails its own checks) */
    char message[320];
    char expected[65], found[65];
} adb_verify_problem;

/* One lawful erasure of a field, named by verification (a valid signed
 * record of an event whose hash then matches). */
typedef struct adb_verify_erasure {
    const char *organization_id, *event_id, *field, *request_id, *legal_basis, *erased_at;
    const char *reason;         /* may be NULL */
    const char *archive;        /* the archive holding the event, NULL: live */
    int64_t chain_seq;
} adb_verify_erasure;

typedef struct adb_verify_options {
    const char *organization_id; /* NULL: every organization */
    const char *from, *to;       /* RFC 3339 bounds on timestamp, NULL: open */
    bool record;                 /* write the results into audit_integrity_log */
    const char *verified_by;     /* recorded with the results */
    void (*on_problem)(void *ud, const adb_verify_problem *p);
    void (*on_progress)(void *ud, long long events_done);
    void (*on_erasure)(void *ud, const adb_verify_erasure *e); /* NULL: not named */
    void *ud;
    /* The verifiable log (docs/integrity.md section 6): the directory of the
     * log's checkpoint files outside the database (NULL: not read) and the
     * log's verifier key text (NULL: signatures not checked). The tree in the
     * database is checked on every walk without --from/--to. */
    const char *checkpoint_dir;
    const char *log_vkey;
    /* Skips the tree and checkpoint checks of whole walks: what they cost is
     * measured against it (bench/bench_verify.c); not offered by the CLI. */
    bool no_log_checks;
} adb_verify_options;

typedef struct adb_verify_summary {
    long long events;
    long long organizations;
    long long problems;         /* problems found */
    long long broken_events;    /* events with at least one problem */
    double seconds;
    long long erased_events;    /* events with personal data lawfully erased (signed records) */
} adb_verify_summary;

/* Verifies; ADB_OK when the run completed (look at summary->problems), an
 * error when it could not (errbuf says why). */
ADB_WUR adb_status adb_verify(adb *db, const adb_verify_options *o, adb_verify_summary *summary,
                              char *errbuf, size_t errlen);

/* Verifies one event by id: its hash, signature, chain link and the link to
 * its predecessor. *nproblems problems are written into problems[0..max).
 * ADB_ERR_NOT_FOUND when there is no such event. */
ADB_WUR adb_status adb_verify_event(adb *db, int64_t id, const char *organization_id,
                                    adb_verify_problem *problems, int max, int *nproblems,
                                    char *errbuf, size_t errlen);

/* Finds the event an id names: ref is its public id (a UUID, any case) or
 * its numeric locator (audit_log.id, decimal); organization_id NULL: any.
 * Fills *id and event_id (lowercase UUID). ADB_ERR_INVALID when ref is
 * neither, ADB_ERR_NOT_FOUND when no such event (of that organization). */
ADB_WUR adb_status adb_event_locate(adb *db, const char *ref, const char *organization_id,
                                    int64_t *id, char event_id[37], char *errbuf, size_t errlen);

#endif
