/*
 * dbmon.h - database monitoring (issue 20; docs/monitoring.md, "Database
 * monitoring" and "Index suggestions"): slow statements (pg_stat_statements),
 * index usage, unused and duplicate indexes, table and partition statistics,
 * bloat and autovacuum lag, transaction-id age, and missing-index
 * suggestions checked with hypothetical indexes (hypopg). Process-wide
 * figures, for operators only. Findings raise alerts from a periodic round;
 * nothing here changes the schema (`auditdb db optimize --apply` does, when
 * told).
 *
 * Every function reads on the caller's connection c, which must be the
 * owner's (it reads catalogs and every role's statements). The JSON answers
 * are new references the caller owns; NULL with the reason in err.
 */
#ifndef ADB_MONITOR_DBMON_H
#define ADB_MONITOR_DBMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auditdb.h"

/* The organization id of process-wide alerts (agreed with errmon:
 * docs/monitoring.md, "Findings"); no tenant has it. */
#ifndef ADB_PROCESS_ORG
#define ADB_PROCESS_ORG "_process"
#endif

#define ADB_DBMON_TEXT_MAX 4000   /* bytes of a statement's text shown */
#define ADB_DBMON_LIST_MAX 500    /* most rows of a list */

/* What the server offers (dbmon_caps.c). */
typedef struct adb__dbmon_caps {
    bool pss;                /* pg_stat_statements created and preloaded */
    bool pss_all_roles;      /* ...and every role's statements readable */
    bool hypopg;             /* hypopg created */
    char pss_reason[300];    /* why not, when !pss (or the partial view) */
    char hypopg_reason[300]; /* why not, when !hypopg */
} adb__dbmon_caps;

typedef struct adb__dbmon_opts {
    int slow_ms;          /* AUDIT_SLOW_QUERY_THRESHOLD: a statement slower on average is slow */
    int suggest_min_calls; /* a statement runs at least this often to be looked at */
    int suggest_max;      /* statements looked at per round (the costliest in total) */
    double suggest_gain;  /* a suggestion must cut the planner's cost to at most this share */
    int64_t unused_min_bytes; /* an unused index smaller than this is not a finding */
    int interval_s;       /* the round's period in serve */
} adb__dbmon_opts;

/* The defaults above: slow 1000 ms, 5 calls, 20 statements, 0.5, 1 MiB, 300 s. */
void adb__dbmon_opts_default(adb__dbmon_opts *o);

/* Reads what c's server offers; never fails (what cannot be read is absent). */
void adb__dbmon_caps_read(PGconn *c, adb__dbmon_caps *caps);
/* {"pgStatStatements":{"available","allRoles","reason"},"hypopg":{...}} */
json_t *adb__dbmon_caps_json(const adb__dbmon_caps *caps);

/* Replaces, in place, every literal left in a statement's text (quoted
 * strings, dollar-quoted strings, numbers that are not $n parameters) by
 * "?": pg_stat_statements already normalizes them, this is the second lock.
 * Also cuts s at ADB_DBMON_TEXT_MAX bytes (on a UTF-8 boundary). */
void adb__dbmon_scrub(char *s);

/* Statements of this database slower on average than slow_ms, slowest first,
 * at most limit (dbmon_statements.c): [{queryId, role, calls, totalMs,
 * meanMs, maxMs, rows, ..., query}], query scrubbed. Without
 * pg_stat_statements: an empty array (caps says why). */
json_t *adb__dbmon_slow_queries(PGconn *c, const adb__dbmon_caps *caps, int slow_ms, int limit,
                                char *err, size_t errlen);

/* Every user index with its use, size, and whether it is unused or an exact
 * duplicate of another (duplicateOf) or a prefix of one (coveredBy)
 * (dbmon_indexes.c). */
json_t *adb__dbmon_indexes(PGconn *c, char *err, size_t errlen);

/* Every user table and partition: tuples, dead tuples, sizes, bloat
 * estimate, scans, vacuum and analyze times, autovacuum lag, relfrozenxid
 * age (dbmon_tables.c). */
json_t *adb__dbmon_tables(PGconn *c, char *err, size_t errlen);

/* The database as a whole: size, connections, cache hits, transaction-id
 * age, longest transaction (dbmon_tables.c). */
json_t *adb__dbmon_database(PGconn *c, char *err, size_t errlen);

/* Missing-index suggestions (dbmon_suggest.c): for the statements run at
 * least o->suggest_min_calls times, costliest first, the sequential scans
 * with a filter in their generic plan; each filter's columns tried as a
 * hypothetical index (hypopg, in a transaction rolled back, as the role that
 * ran the statement); kept when the planner uses it and the statement's cost
 * falls to o->suggest_gain or less. [{table, schema, columns, statement
 * (CREATE INDEX CONCURRENTLY ...), queryId, calls, meanMs, costBefore,
 * costAfter, gain, checked}]. Without hypopg: [] (caps says why). */
json_t *adb__dbmon_suggestions(PGconn *c, const adb__dbmon_caps *caps, const adb__dbmon_opts *o,
                               char *err, size_t errlen);

/* Findings from the figures above (dbmon_findings.c): [{kind, severity,
 * type, key, title, description, metadata}]; key is the alert's
 * deduplication key ("dbmon/<kind>/<object>"). Pure: no database. */
json_t *adb__dbmon_findings(const json_t *database, const json_t *tables, const json_t *indexes,
                            const json_t *slow, const json_t *suggestions,
                            const adb__dbmon_opts *o);

/* One round (dbmon_round.c): reads everything on a connection of h's owner
 * pool, raises each finding as an alert of ADB_PROCESS_ORG in one
 * transaction, and keeps the figures for /metrics and the summary. */
adb_status adb__dbmon_round(adb *h, const adb__dbmon_opts *o, char *err, size_t errlen);

/* The figures of the last round (zero before the first). */
typedef struct adb__dbmon_figures {
    long long rounds, round_failures;
    double last_round_ms;      /* its duration */
    int64_t last_round_at_ms;  /* Unix ms, 0: none yet */
    bool pss, hypopg;
    long long slow_queries, unused_indexes, duplicate_indexes, suggestions;
    long long tables_vacuum_due, dead_tuples;
    long long xid_age, findings, alerts_raised;
    long long alerts_resolved; /* open alerts whose finding was gone */
    int64_t database_bytes;
} adb__dbmon_figures;
void adb__dbmon_figures_get(adb *h, adb__dbmon_figures *out);
/* The last round's findings (a new reference; [] before the first). */
json_t *adb__dbmon_last_findings(adb *h);

/* The options serve runs with (its routes read them: the slow-query
 * threshold); the defaults until set. */
void adb__dbmon_set_opts(const adb__dbmon_opts *o);
void adb__dbmon_get_opts(adb__dbmon_opts *out);

/* The round every o->interval_s seconds in serve (its own thread; the
 * first round at once). NULL with err when it cannot start. Stop joins. */
typedef struct adb__dbmon adb__dbmon;
adb__dbmon *adb__dbmon_start(adb *h, const adb__dbmon_opts *o, char *err, size_t errlen);
void adb__dbmon_stop(adb__dbmon *m);

#endif
