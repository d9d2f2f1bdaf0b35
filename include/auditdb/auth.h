/*
 * auth.h - organizations, API keys and role permissions.
 *
 * A key is "adb_<id>_<secret>": the id (16 hex digits) is public and
 * indexes apikey; only the SHA-256 of the secret is stored, and the presented
 * secret is compared in constant time. A key belongs to one organization and
 * one role; a role grants resource/action pairs ("*" and "prefix.*" match),
 * and inherits other roles of its organization. Decisions are cached for
 * 5 minutes and dropped when a key or role changes (NOTIFY auditdb_auth).
 */
#ifndef AUDITDB_AUTH_H
#define AUDITDB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "log.h"

#define ADB_KEY_TEXT_MAX 96

typedef struct adb_principal {
    char key_id[24];
    char organization_id[256];
    char role[51];
} adb_principal;

typedef struct adb_key_info {
    char id[24];
    char display[32];          /* "adb_<id>": safe to show and log */
    char organization_id[256];
    char role[51];
    char name[256];
    char created_at[40];
    char last_used_at[40];     /* "" if never */
    bool revoked;
} adb_key_info;

/* Creates organization org (name defaults to its id) with the default roles,
 * unless it exists. */
ADB_WUR adb_status adb_org_ensure(adb *db, const char *org, const char *name, char *errbuf,
                                  size_t errlen);

/* The role of operator keys: no organization, process-wide figures only
 * (docs/auth.md, "Operator"). */
#define ADB_OPERATOR_ROLE "operator"

/* Creates a key; the full key text (shown once, never stored) goes to
 * key_out. ERR_NOT_FOUND when the organization or role does not exist.
 * org is NULL for an operator key (role ADB_OPERATOR_ROLE) and only then. */
ADB_WUR adb_status adb_key_create(adb *db, const char *org, const char *role, const char *name,
                                  char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info,
                                  char *errbuf, size_t errlen);

/* Lists keys (of org, or all when NULL); *out is malloc()ed, caller frees. */
ADB_WUR adb_status adb_key_list(adb *db, const char *org, adb_key_info **out, size_t *n,
                                char *errbuf, size_t errlen);

/* Revokes a key by id or display form; ERR_NOT_FOUND if unknown. */
ADB_WUR adb_status adb_key_revoke(adb *db, const char *id, char *errbuf, size_t errlen);

/* How many keys exist (revoked or not). */
ADB_WUR adb_status adb_key_count(adb *db, long long *n, char *errbuf, size_t errlen);

/* Authenticates a presented key. ADB_OK fills p; ERR_NOT_FOUND for a key
 * that is malformed, unknown, revoked or whose secret differs (the caller
 * cannot tell which); database errors otherwise. */
adb_status adb_key_authenticate(adb *db, const char *presented, adb_principal *p,
                                char *errbuf, size_t errlen);

/* May p do action on resource? ADB_OK yes, ERR_NOT_FOUND no (also for an
 * inheritance cycle or an unknown role), database errors otherwise.
 * Resources under "operator." are an operator key's alone, whatever the
 * organization's roles say, and an operator key may do nothing else. */
adb_status adb_permission_check(adb *db, const adb_principal *p, const char *resource,
                                const char *action, char *errbuf, size_t errlen);

/* The same, granted only by an entry naming resource and action exactly (no
 * wildcard: "*:*" does not grant it), in the role or one it inherits; read
 * fresh, not cached. For rights that must be given on purpose (the reversal
 * of pseudonyms, compliance.gdpr:reverse; docs/gdpr.md). */
adb_status adb_permission_check_explicit(adb *db, const adb_principal *p, const char *resource,
                                         const char *action, char *errbuf, size_t errlen);

/* A connection inside a transaction that reads as the tenant: SET LOCAL
 * ROLE auditdb_app (owns nothing, row-level security applies) and
 * auditdb.organization_id = org. NULL with *st and errbuf on failure.
 * End it with adb_tenant_end(). */
PGconn *adb_tenant_begin(adb *db, const char *org, adb_status *st, char *errbuf, size_t errlen);

/* Reads as the tenant in one round trip: SET LOCAL ROLE and set_config,
 * the statement sql (prepared on the connection), optionally a second
 * statement extra_sql (prepared too, unless it is an EXPLAIN, which cannot
 * be) with the first extra_nparams of the same params, sent as one libpq
 * pipeline, whose Sync ends the one transaction they run in.
 * plan: how sql is planned (SET LOCAL plan_cache_mode): ADB_PLAN_AUTO as
 * PostgreSQL decides; ADB_PLAN_CUSTOM for these very values each time, for
 * statements whose best plan depends on them (a generic plan of a filtered
 * keyset page scans every match); ADB_PLAN_GENERIC once for all values, for
 * statements whose one plan suits every value (PostgreSQL's own choice may
 * keep planning them: a partitioned table's generic plan looks costlier
 * than it runs). Returns sql's result (caller PQclear()s; *extra_result gets
 * extra_sql's, or NULL) or NULL with *st when the database failed. */
typedef enum adb_plan_mode { ADB_PLAN_AUTO, ADB_PLAN_CUSTOM, ADB_PLAN_GENERIC } adb_plan_mode;
PGresult *adb_tenant_query(adb *db, const char *org, const char *sql, int nparams,
                           const char *const *params, adb_plan_mode plan, const char *extra_sql,
                           int extra_nparams, PGresult **extra_result, adb_status *st);

/* Commits (or rolls back) and gives the connection back to the pool. */
void adb_tenant_end(adb *db, PGconn *c, bool commit);

/* HMAC-SHA256 of a hex hash under the server's signature key (hex), as
 * event signatures are made; used to sign auth_audit_log rows. */
void adb_sign_hex(adb *db, const char *hash, char out[65]);

/* Drops cached keys and role decisions (after a NOTIFY, or a change made here). */
void adb_auth_cache_clear(adb *db);

#endif
