/*
 * auth.c - organizations, API keys, role permissions and their cache.
 * See include/auditdb/auth.h for the rules; docs/auth.md for the design.
 */
#include "auditdb.h"
#include "../core/adb_internal.h"
#include "../core/digest.h"
#include "../integrity/integrity.h"
#include "../core/util.h"
#include "../event/json.h"
#include "operator.h"
#include "key_usage.h"
#include "key_changes.h"
#include "../monitor/config_change.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_TTL_MS (5 * 60 * 1000.0)
#define KEY_TTL_MS (5 * 60 * 1000.0)
#define CACHE_SLOTS 256
#define MAX_PERMS 128
#define MAX_ROLE_DEPTH 16

typedef struct perm {
    char resource[64];
    char action[32];
} perm;

typedef struct role_entry {
    char org[256];
    char role[51];
    double expires;
    bool valid;       /* false: unknown role or a cycle: deny */
    int nperms;
    perm perms[MAX_PERMS];
} role_entry;

typedef struct key_entry {
    char id[24];
    unsigned char secret_hash[32];
    adb_principal who;
    double expires;
} key_entry;

struct adb__auth {
    pthread_mutex_t mu;
    role_entry *roles;  /* CACHE_SLOTS, direct-mapped by hash */
    key_entry *keys;    /* CACHE_SLOTS */
    /* adb__auth_cache_stats: lookups answered from memory or not, live entries replaced */
    long long key_hits, key_misses, key_evictions, role_hits, role_misses, role_evictions;
};

static unsigned slot_of(const char *a, const char *b)
{
    unsigned h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    for (; b && *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h % CACHE_SLOTS;
}

adb__auth *adb__auth_new(void)
{
    adb__auth *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->roles = calloc(CACHE_SLOTS, sizeof(*a->roles));
    a->keys = calloc(CACHE_SLOTS, sizeof(*a->keys));
    if (!a->roles || !a->keys) {
        adb__auth_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void adb__auth_free(adb__auth *a)
{
    if (!a)
        return;
    if (a->keys)
        OPENSSL_cleanse(a->keys, CACHE_SLOTS * sizeof(*a->keys));
    free(a->roles);
    free(a->keys);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void adb_auth_cache_clear(adb *db)
{
    adb__auth *a = db->auth;
    pthread_mutex_lock(&a->mu);
    memset(a->roles, 0, CACHE_SLOTS * sizeof(*a->roles));
    OPENSSL_cleanse(a->keys, CACHE_SLOTS * sizeof(*a->keys));
    pthread_mutex_unlock(&a->mu);
}

void adb__auth_cache_stats(adb *db, adb__cache_stats *keys, adb__cache_stats *roles)
{
    adb__auth *a = db->auth;
    double now = adb__now_ms();
    memset(keys, 0, sizeof(*keys));
    memset(roles, 0, sizeof(*roles));
    pthread_mutex_lock(&a->mu);
    keys->hits = a->key_hits, keys->misses = a->key_misses, keys->evictions = a->key_evictions;
    roles->hits = a->role_hits, roles->misses = a->role_misses, roles->evictions = a->role_evictions;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        keys->entries += a->keys[i].id[0] && a->keys[i].expires > now;
        roles->entries += a->roles[i].expires > now;
    }
    pthread_mutex_unlock(&a->mu);
    keys->capacity = roles->capacity = CACHE_SLOTS;
    keys->bytes = (long long)(CACHE_SLOTS * sizeof(key_entry));
    roles->bytes = (long long)(CACHE_SLOTS * sizeof(role_entry));
}

/* ---- helpers ------------------------------------------------------------ */

static PGresult *query(adb *db, PGconn *c, const char *sql, int n, const char *const *params,
                       ExecStatusType want, char *errbuf, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    (void)db;
    if (PQresultStatus(r) != want) {
        adb__fmt(errbuf, errlen, "%s", PQresultErrorMessage(r));
        adb__oneline(errbuf);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* ---- organizations and keys --------------------------------------------- */

adb_status adb_org_ensure(adb *db, const char *org, const char *name, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    const char *p[] = { org, name ? name : org };
    PGresult *r;

    if (!c)
        return st;
    if (!org[0] || strlen(org) > 50) {
        adb_pool_release(db->pool, c);
        adb__fmt(errbuf, errlen, "organization id must have 1 to 50 characters");
        return ADB_ERR_INVALID;
    }
    if (org[0] == '_') { /* reserved: "_process" holds the service's own alerts */
        adb_pool_release(db->pool, c);
        adb__fmt(errbuf, errlen, "organization ids starting with \"_\" are reserved for the service");
        return ADB_ERR_INVALID;
    }
    /* two statements: the roles reference the organization inserted first */
    r = PQexecParams(c,
                     "INSERT INTO organization (id, name, created_at)"
                     " VALUES ($1, $2, now() AT TIME ZONE 'UTC') ON CONFLICT (id) DO NOTHING",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        r = PQexecParams(c, "SELECT auditdb_default_roles($1)", 1, NULL, p, NULL, NULL, 0);
    }
    st = PQresultStatus(r) == PGRES_TUPLES_OK ? ADB_OK : ADB_ERR_DB_QUERY;
    if (st != ADB_OK) {
        adb__fmt(errbuf, errlen, "could not create organization \"%s\": %s", org,
                 PQresultErrorMessage(r));
        adb__oneline(errbuf);
    }
    PQclear(r);
    adb_pool_release(db->pool, c);
    return st;
}

/* Splits "adb_<16 hex>_<secret>"; false if malformed. */
static bool parse_key(const char *s, char id[24], const char **secret)
{
    size_t n = strlen(s);

    if (n < 4 + 16 + 1 + 20 || n >= ADB_KEY_TEXT_MAX || strncmp(s, "adb_", 4) != 0 || s[20] != '_')
        return false;
    for (int i = 4; i < 20; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    memcpy(id, s + 4, 16);
    id[16] = '\0';
    *secret = s + 21;
    return true;
}

static void info_from_row(PGresult *r, int i, adb_key_info *k)
{
    memset(k, 0, sizeof(*k));
    adb__fmt(k->id, sizeof(k->id), "%s", PQgetvalue(r, i, 0));
    adb__fmt(k->display, sizeof(k->display), "adb_%s", k->id);
    adb__fmt(k->organization_id, sizeof(k->organization_id), "%s", PQgetvalue(r, i, 1));
    adb__fmt(k->role, sizeof(k->role), "%s", PQgetvalue(r, i, 2));
    adb__fmt(k->name, sizeof(k->name), "%s", PQgetvalue(r, i, 3));
    adb__fmt(k->created_at, sizeof(k->created_at), "%s", PQgetvalue(r, i, 4));
    adb__fmt(k->last_used_at, sizeof(k->last_used_at), "%s", PQgetvalue(r, i, 5));
    k->revoked = strcmp(PQgetvalue(r, i, 6), "t") == 0;
}

#define KEY_COLUMNS                                                                       \
    "id, organization_id, role, coalesce(name, ''),"                                     \
    " to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                            \
    " coalesce(to_char(last_request, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"           \
    " revoked_at IS NOT NULL"

adb_status adb_key_create(adb *db, const char *org, const char *role, const char *name,
                          char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info, char *errbuf,
                          size_t errlen)
{
    return adb__key_create_by(db, org, role, name, "library", key_out, info, errbuf, errlen);
}

/* the key as the configuration history shows it: never its secret or hash */
static json_t *key_doc(const adb_key_info *k, bool enabled)
{
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:b}", "id", k->id, "display", k->display,
                     "organizationId", k->organization_id[0] ? k->organization_id : NULL,
                     "role", k->role, "name", k->name, "enabled", enabled);
}

/* A new key of org with role in c's transaction (the role must exist in
 * the organization; only an operator key has no organization): key_out gets
 * its text (shown once), made its public description. */
static adb_status key_insert(PGconn *c, const char *org, const char *role, const char *name,
                             char key_out[ADB_KEY_TEXT_MAX], adb_key_info *made, char *errbuf,
                             size_t errlen)
{
    unsigned char idb[8], secret[32], h[32];
    char id[17], sec[48], hash[65], display[32];
    adb_status st;
    PGresult *r;

    if (RAND_bytes(idb, sizeof(idb)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) {
        adb__fmt(errbuf, errlen, "could not generate a key: no randomness");
        return ADB_ERR_INTERNAL;
    }
    if (!org && strcmp(role, ADB_OPERATOR_ROLE) != 0) {
        adb__fmt(errbuf, errlen, "a key of role \"%s\" needs an organization; only operator keys have none", role);
        return ADB_ERR_INVALID;
    }
    adb__hex(idb, sizeof(idb), id);
    adb__base64url(secret, sizeof(secret), sec);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!adb__sha256(sec, strlen(sec), h)) {
        OPENSSL_cleanse(sec, sizeof(sec));
        return ADB_ERR_INTERNAL;
    }
    adb__hex(h, 32, hash);
    adb__fmt(display, sizeof(display), "adb_%s", id);
    const char *p[] = { id, name ? name : "", display, hash, org, role };
    r = PQexecParams(c,
                     "INSERT INTO apikey (id, name, start, prefix, key, organization_id, role,"
                     " created_at, updated_at, enabled)"
                     " SELECT $1::text, nullif($2::text, ''), $3::text, 'adb', $4::text, $5::text, $6::text,"
                     " now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', true"
                     " WHERE EXISTS (SELECT 1 FROM organization_role WHERE organization_id = $5"
                     " AND name = $6) OR ($5 IS NULL AND $6 = '" ADB_OPERATOR_ROLE "')"
                     " RETURNING " KEY_COLUMNS,
                     6, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not create the key: %s", PQresultErrorMessage(r));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) == 0) {
        adb__fmt(errbuf, errlen, "organization \"%s\" has no role \"%s\" (or does not exist)", org ? org : "", role);
        st = ADB_ERR_NOT_FOUND;
    } else {
        info_from_row(r, 0, made);
        adb__fmt(key_out, ADB_KEY_TEXT_MAX, "adb_%s_%s", id, sec);
        st = ADB_OK;
    }
    OPENSSL_cleanse(sec, sizeof(sec));
    PQclear(r);
    return st;
}

/* The configuration history row of key k going from before to after (NULL:
 * none) in c's transaction: field "api_key.<id>", never the key's secret. */
static adb_status key_record(PGconn *c, adb__config_change_rec *rec, const adb_key_info *k,
                             json_t *before, json_t *after, const char *by, const char *why,
                             char *errbuf, size_t errlen)
{
    char fld[64];
    adb_status st;

    adb__fmt(fld, sizeof(fld), "api_key.%s", k->id);
    st = (before || after) ? adb__config_change_json_tx(c, rec, k->organization_id[0]
                                                        ? k->organization_id : NULL, fld, before,
                                                        after, by, why, errbuf, errlen)
                           : ADB_ERR_NOMEM;
    json_decref(before);
    json_decref(after);
    return st;
}

/* BEGIN on c; false (with why) when it failed. */
static bool key_begin(PGconn *c, char *errbuf, size_t errlen)
{
    PGresult *r = PQexec(c, "BEGIN");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        adb__fmt(errbuf, errlen, "could not begin: %s", PQresultErrorMessage(r));
        adb__oneline(errbuf);
    }
    PQclear(r);
    return ok;
}

/* Ends c's transaction: COMMIT when st is ADB_OK (a failed commit makes st
 * a database error), else ROLLBACK. Returns st. */
static adb_status key_end(PGconn *c, adb_status st, char *errbuf, size_t errlen)
{
    PGresult *r = PQexec(c, st == ADB_OK ? "COMMIT" : "ROLLBACK");
    if (st == ADB_OK && (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT"))) {
        adb__fmt(errbuf, errlen, "could not commit the key change: %s", PQresultErrorMessage(r));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
    return st;
}

/* Key changes are announced as audit events of the key's organization
 * (docs/monitoring.md, "Configuration changes") unless
 * AUDITDB_KEY_CHANGE_EVENTS is false (checked by the configuration table,
 * src/core/config.c); an operator key's change (no organization) has its
 * row only. */
static bool key_changes_announced(void)
{
    const char *v = getenv("AUDITDB_KEY_CHANGE_EVENTS");
    return !v || (strcmp(v, "false") != 0 && strcmp(v, "0") != 0);
}
#define KEY_CHANGES_ANNOUNCED key_changes_announced()

adb_status adb__key_create_by(adb *db, const char *org, const char *role, const char *name,
                              const char *by, char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info,
                              char *errbuf, size_t errlen)
{
    adb_key_info made = { 0 };
    adb__config_change_rec cc = { 0 };
    adb_status st;
    PGconn *c;

    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = key_begin(c, errbuf, errlen) ? ADB_OK : ADB_ERR_DB_QUERY;
    if (st == ADB_OK)
        st = key_insert(c, org, role, name, key_out, &made, errbuf, errlen);
    if (st == ADB_OK)
        st = key_record(c, &cc, &made, NULL, key_doc(&made, true), by, NULL, errbuf, errlen);
    st = key_end(c, st, errbuf, errlen);
    if (st != ADB_OK)
        OPENSSL_cleanse(key_out, ADB_KEY_TEXT_MAX);
    else if (info)
        *info = made;
    adb_pool_release(db->pool, c);
    adb__config_change_rec_done(db, &cc, st == ADB_OK && KEY_CHANGES_ANNOUNCED);
    return st;
}

/* The key id (with or without "adb_") as its row id. */
static void key_row_id(const char *id, char out[24])
{
    adb__fmt(out, 24, "%.16s", strncmp(id, "adb_", 4) == 0 ? id + 4 : id);
}

/* Key id's row locked in c's transaction: ADB_OK with *k and whether it is
 * active, ADB_ERR_NOT_FOUND, or a database error. */
static adb_status key_lock(adb *db, PGconn *c, const char *idbuf, adb_key_info *k, bool *active,
                           char *errbuf, size_t errlen)
{
    const char *p[] = { idbuf };
    PGresult *r = query(db, c, "SELECT " KEY_COLUMNS ", revoked_at IS NULL FROM apikey"
                               " WHERE id = $1 AND prefix = 'adb' FOR UPDATE",
                        1, p, PGRES_TUPLES_OK, errbuf, errlen);
    adb_status st = !r ? ADB_ERR_DB_QUERY : PQntuples(r) == 0 ? ADB_ERR_NOT_FOUND : ADB_OK;
    if (st == ADB_OK) {
        info_from_row(r, 0, k);
        *active = strcmp(PQgetvalue(r, 0, PQnfields(r) - 1), "t") == 0;
    }
    PQclear(r);
    return st;
}

adb_status adb__key_rotate_by(adb *db, const char *id, const char *by,
                              char key_out[ADB_KEY_TEXT_MAX], adb_key_info *info, char *errbuf,
                              size_t errlen)
{
    adb__config_change_rec old_cc = { 0 }, new_cc = { 0 };
    adb_key_info k = { 0 }, made = { 0 };
    char idbuf[24], why[64];
    bool active = false;
    adb_status st;
    PGconn *c;

    key_row_id(id, idbuf);
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = key_begin(c, errbuf, errlen) ? ADB_OK : ADB_ERR_DB_QUERY;
    if (st == ADB_OK)
        st = key_lock(db, c, idbuf, &k, &active, errbuf, errlen);
    if (st == ADB_ERR_NOT_FOUND || (st == ADB_OK && !active)) {
        adb__fmt(errbuf, errlen, st == ADB_OK ? "key \"%s\" is revoked: a revoked key is not rotated"
                                              : "no key \"%s\"", id);
        st = st == ADB_OK ? ADB_ERR_INVALID : st;
    }
    /* the successor: the same organization, role and name, then the key revoked */
    if (st == ADB_OK)
        st = key_insert(c, k.organization_id[0] ? k.organization_id : NULL, k.role, k.name,
                        key_out, &made, errbuf, errlen);
    if (st == ADB_OK) {
        const char *p[] = { idbuf };
        PGresult *r = query(db, c, "UPDATE apikey SET revoked_at = now(), enabled = false,"
                                   " updated_at = now() AT TIME ZONE 'UTC' WHERE id = $1 AND prefix = 'adb'",
                            1, p, PGRES_COMMAND_OK, errbuf, errlen);
        st = r ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    if (st == ADB_OK) {
        adb__fmt(why, sizeof(why), "rotated: replaced by %s", made.id);
        st = key_record(c, &old_cc, &k, key_doc(&k, true), key_doc(&k, false), by, why, errbuf,
                        errlen);
    }
    if (st == ADB_OK) {
        adb__fmt(why, sizeof(why), "rotated: replaces %s", k.id);
        st = key_record(c, &new_cc, &made, NULL, key_doc(&made, true), by, why, errbuf, errlen);
    }
    st = key_end(c, st, errbuf, errlen);
    if (st != ADB_OK)
        OPENSSL_cleanse(key_out, ADB_KEY_TEXT_MAX);
    else if (info)
        *info = made;
    adb_pool_release(db->pool, c);
    adb__config_change_rec_done(db, &old_cc, st == ADB_OK && KEY_CHANGES_ANNOUNCED);
    adb__config_change_rec_done(db, &new_cc, st == ADB_OK && KEY_CHANGES_ANNOUNCED);
    adb_auth_cache_clear(db);
    return st;
}

adb_status adb__key_set_role_by(adb *db, const char *id, const char *role, const char *by,
                                bool *changed, char *errbuf, size_t errlen)
{
    adb__config_change_rec cc = { 0 };
    adb_key_info k = { 0 }, after = { 0 };
    char idbuf[24];
    bool active = false;
    adb_status st;
    PGconn *c;

    *changed = false;
    key_row_id(id, idbuf);
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = key_begin(c, errbuf, errlen) ? ADB_OK : ADB_ERR_DB_QUERY;
    if (st == ADB_OK)
        st = key_lock(db, c, idbuf, &k, &active, errbuf, errlen);
    if (st == ADB_ERR_NOT_FOUND)
        adb__fmt(errbuf, errlen, "no key \"%s\"", id);
    else if (st == ADB_OK && !active) {
        adb__fmt(errbuf, errlen, "key \"%s\" is revoked: its role does not change", id);
        st = ADB_ERR_INVALID;
    } else if (st == ADB_OK && (!k.organization_id[0] || !strcmp(role, ADB_OPERATOR_ROLE))) {
        /* an operator key has no organization, an organization's key is never an operator's */
        adb__fmt(errbuf, errlen, "an operator key's role does not change, and no key becomes an"
                                 " operator's: create an operator key");
        st = ADB_ERR_INVALID;
    }
    if (st == ADB_OK && strcmp(k.role, role) != 0) {
        const char *p[] = { idbuf, role, k.organization_id };
        PGresult *r = query(db, c, "UPDATE apikey SET role = $2, updated_at = now() AT TIME ZONE 'UTC'"
                                   " WHERE id = $1 AND prefix = 'adb' AND EXISTS (SELECT 1 FROM"
                                   " organization_role WHERE organization_id = $3 AND name = $2)",
                            3, p, PGRES_COMMAND_OK, errbuf, errlen);
        st = !r ? ADB_ERR_DB_QUERY : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
        PQclear(r);
        if (st == ADB_ERR_NOT_FOUND)
            adb__fmt(errbuf, errlen, "organization \"%s\" has no role \"%s\"", k.organization_id,
                     role);
        after = k;
        adb__fmt(after.role, sizeof(after.role), "%s", role);
        if (st == ADB_OK)
            st = key_record(c, &cc, &k, key_doc(&k, true), key_doc(&after, true), by,
                            "role changed", errbuf, errlen);
        *changed = st == ADB_OK;
    }
    st = key_end(c, st, errbuf, errlen);
    if (st != ADB_OK)
        *changed = false;
    adb_pool_release(db->pool, c);
    adb__config_change_rec_done(db, &cc, st == ADB_OK && KEY_CHANGES_ANNOUNCED);
    adb_auth_cache_clear(db);
    return st;
}

adb_status adb_key_list(adb *db, const char *org, adb_key_info **out, size_t *n, char *errbuf,
                        size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    const char *p[] = { org ? org : "" };
    PGresult *r;

    *out = NULL;
    *n = 0;
    if (!c)
        return st;
    r = query(db, c, "SELECT " KEY_COLUMNS " FROM apikey WHERE prefix = 'adb'"
                     " AND ($1 = '' OR organization_id = $1) ORDER BY organization_id, created_at, id",
              1, p, PGRES_TUPLES_OK, errbuf, errlen);
    adb_pool_release(db->pool, c);
    if (!r)
        return ADB_ERR_DB_QUERY;
    *out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
    if (!*out) {
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < PQntuples(r); i++)
        info_from_row(r, i, &(*out)[i]);
    *n = (size_t)PQntuples(r);
    PQclear(r);
    return ADB_OK;
}

adb_status adb_key_revoke(adb *db, const char *id, char *errbuf, size_t errlen)
{
    return adb__key_revoke_by(db, id, "library", errbuf, errlen);
}

adb_status adb__key_revoke_by(adb *db, const char *id, const char *by, char *errbuf,
                              size_t errlen)
{
    adb_status st;
    PGconn *c;
    char idbuf[24];
    adb__config_change_rec cc = { 0 };
    adb_key_info k = { 0 };
    bool active = false;

    key_row_id(id, idbuf);
    const char *p[] = { idbuf };
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = key_begin(c, errbuf, errlen) ? ADB_OK : ADB_ERR_DB_QUERY;
    /* the key as it was, locked: a revoke of a revoked key records nothing */
    if (st == ADB_OK)
        st = key_lock(db, c, idbuf, &k, &active, errbuf, errlen);
    if (st == ADB_OK) {
        PGresult *r = query(db, c, "UPDATE apikey SET revoked_at = coalesce(revoked_at, now()), enabled = false,"
                                   " updated_at = now() AT TIME ZONE 'UTC' WHERE id = $1 AND prefix = 'adb'",
                            1, p, PGRES_COMMAND_OK, errbuf, errlen);
        st = r ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    if (st == ADB_OK && active)
        st = key_record(c, &cc, &k, key_doc(&k, true), key_doc(&k, false), by, "revoked", errbuf,
                        errlen);
    st = key_end(c, st, errbuf, errlen);
    adb_pool_release(db->pool, c);
    adb__config_change_rec_done(db, &cc, st == ADB_OK && KEY_CHANGES_ANNOUNCED);
    if (st == ADB_ERR_NOT_FOUND)
        adb__fmt(errbuf, errlen, "no key \"%s\"", id);
    adb_auth_cache_clear(db);
    return st;
}

adb_status adb_key_count(adb *db, long long *n, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    PGresult *r;

    *n = 0;
    if (!c)
        return st;
    r = query(db, c, "SELECT count(*) FROM apikey WHERE prefix = 'adb'", 0, NULL, PGRES_TUPLES_OK,
              errbuf, errlen);
    adb_pool_release(db->pool, c);
    if (!r)
        return ADB_ERR_DB_QUERY;
    *n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ADB_OK;
}

adb_status adb_key_authenticate(adb *db, const char *presented, adb_principal *p, char *errbuf,
                                size_t errlen)
{
    adb__auth *a = db->auth;
    char id[24];
    const char *secret;
    unsigned char h[32], stored[32];
    adb_status st;
    unsigned slot;
    bool hit = false;

    memset(p, 0, sizeof(*p));
    if (!presented || !parse_key(presented, id, &secret)) {
        adb__fmt(errbuf, errlen, "invalid API key");
        return ADB_ERR_NOT_FOUND;
    }
    if (!adb__sha256(secret, strlen(secret), h))
        return ADB_ERR_INTERNAL;
    slot = slot_of(id, NULL);
    pthread_mutex_lock(&a->mu);
    key_entry *e = &a->keys[slot];
    if (!strcmp(e->id, id) && e->expires > adb__now_ms()) {
        hit = true;
        memcpy(stored, e->secret_hash, 32);
        *p = e->who;
    }
    if (hit)
        a->key_hits++;
    else
        a->key_misses++;
    pthread_mutex_unlock(&a->mu);
    if (!hit) {
        PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
        const char *params[] = { id };
        PGresult *r;
        if (!c)
            return st;
        r = query(db, c, "SELECT key, organization_id, role FROM apikey WHERE id = $1 AND"
                         " prefix = 'adb' AND revoked_at IS NULL AND coalesce(enabled, true) AND"
                         " (expires_at IS NULL OR expires_at > now() AT TIME ZONE 'UTC')",
                  1, params, PGRES_TUPLES_OK, errbuf, errlen);
        adb_pool_release(db->pool, c);
        if (!r)
            return ADB_ERR_DB_QUERY;
        if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != 64) {
            PQclear(r);
            adb__fmt(errbuf, errlen, "invalid API key");
            return ADB_ERR_NOT_FOUND;
        }
        for (int i = 0; i < 32; i++) {
            unsigned v = 0;
            sscanf(PQgetvalue(r, 0, 0) + 2 * i, "%2x", &v);
            stored[i] = (unsigned char)v;
        }
        adb__fmt(p->key_id, sizeof(p->key_id), "%s", id);
        adb__fmt(p->organization_id, sizeof(p->organization_id), "%s", PQgetvalue(r, 0, 1));
        adb__fmt(p->role, sizeof(p->role), "%s", PQgetvalue(r, 0, 2));
        PQclear(r);
        pthread_mutex_lock(&a->mu);
        e = &a->keys[slot];
        if (e->id[0] && strcmp(e->id, id) != 0 && e->expires > adb__now_ms())
            a->key_evictions++;
        memcpy(e->id, id, sizeof(e->id));
        memcpy(e->secret_hash, stored, 32);
        e->who = *p;
        e->expires = adb__now_ms() + KEY_TTL_MS;
        pthread_mutex_unlock(&a->mu);
    }
    if (CRYPTO_memcmp(h, stored, 32) != 0) {
        memset(p, 0, sizeof(*p));
        adb__fmt(errbuf, errlen, "invalid API key");
        return ADB_ERR_NOT_FOUND;
    }
    adb__key_usage_note(db->key_usage, id); /* "last used", written in batches */
    return ADB_OK;
}

/* ---- roles -------------------------------------------------------------- */

/* Resolves role (and what it inherits) into e. */
static adb_status load_role(adb *db, const char *org, const char *role, role_entry *e,
                            char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    const char *params[] = { org };
    PGresult *r;

    memset(e, 0, sizeof(*e));
    adb__fmt(e->org, sizeof(e->org), "%s", org);
    adb__fmt(e->role, sizeof(e->role), "%s", role);
    if (!c)
        return st;
    r = query(db, c, "SELECT name, permissions::text, coalesce(inherits, '[]')::text"
                     " FROM organization_role WHERE organization_id = $1",
              1, params, PGRES_TUPLES_OK, errbuf, errlen);
    adb_pool_release(db->pool, c);
    if (!r)
        return ADB_ERR_DB_QUERY;
    /* walk the inherited roles, merging each once (cycles are refused when a
     * role is written; the visit limit guards against one slipping in) */
    struct { const char *name; } todo[MAX_ROLE_DEPTH * 8];
    int ntodo = 0;
    todo[ntodo++].name = role;
    e->valid = true;
    char seen[MAX_ROLE_DEPTH][51];
    int nseen = 0;
    while (ntodo > 0 && e->valid) {
        const char *name = todo[--ntodo].name;
        int row = -1;
        for (int i = 0; i < nseen; i++)
            if (!strcmp(seen[i], name))
                row = -2;
        if (row == -2)
            continue; /* already merged (diamond); cycles are refused at write time */
        if (nseen >= MAX_ROLE_DEPTH) {
            e->valid = false;
            break;
        }
        adb__fmt(seen[nseen++], 51, "%s", name);
        for (int i = 0; i < PQntuples(r); i++)
            if (!strcmp(PQgetvalue(r, i, 0), name))
                row = i;
        if (row < 0) {
            e->valid = false; /* unknown role: deny */
            break;
        }
        adb_json_error je;
        adb_json_doc *perms = adb__json_parse(PQgetvalue(r, row, 1), (size_t)PQgetlength(r, row, 1), NULL, &je);
        const adb_json *pa = perms ? adb__json_root(perms) : NULL;
        for (size_t k = 0; pa && pa->type == ADB_JSON_ARRAY && k < pa->count; k++) {
            const adb_json *res = adb__json_get(pa->items[k], "resource");
            const adb_json *act = adb__json_get(pa->items[k], "action");
            if (!res || !act || res->type != ADB_JSON_STRING || act->type != ADB_JSON_STRING ||
                e->nperms >= MAX_PERMS)
                continue;
            adb__fmt(e->perms[e->nperms].resource, sizeof(e->perms[0].resource), "%s", res->str);
            adb__fmt(e->perms[e->nperms].action, sizeof(e->perms[0].action), "%s", act->str);
            e->nperms++;
        }
        adb__json_free(perms);
        adb_json_doc *inh = adb__json_parse(PQgetvalue(r, row, 2), (size_t)PQgetlength(r, row, 2), NULL, &je);
        const adb_json *ia = inh ? adb__json_root(inh) : NULL;
        for (size_t k = 0; ia && ia->type == ADB_JSON_ARRAY && k < ia->count; k++) {
            if (ia->items[k]->type != ADB_JSON_STRING)
                continue;
            /* names live in r's rows: point at the row's copy */
            for (int i = 0; i < PQntuples(r); i++)
                if (!strcmp(PQgetvalue(r, i, 0), ia->items[k]->str) &&
                    ntodo < (int)(sizeof(todo) / sizeof(todo[0])))
                    todo[ntodo++].name = PQgetvalue(r, i, 0);
            bool known = false;
            for (int i = 0; i < PQntuples(r); i++)
                known |= !strcmp(PQgetvalue(r, i, 0), ia->items[k]->str);
            if (!known)
                e->valid = false;
        }
        adb__json_free(inh);
    }
    PQclear(r);
    e->expires = adb__now_ms() + ROLE_TTL_MS;
    return ADB_OK;
}

/* "*" matches all; "a.*" matches "a" and "a.anything"; else equality. */
static bool matches(const char *pattern, const char *value)
{
    size_t n = strlen(pattern);

    if (!strcmp(pattern, "*") || !strcmp(pattern, value))
        return true;
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(pattern, value, n - 2) == 0 && (value[n - 2] == '\0' || value[n - 2] == '.');
    return false;
}

adb_status adb_permission_check(adb *db, const adb_principal *p, const char *resource,
                                const char *action, char *errbuf, size_t errlen)
{
    adb__auth *a = db->auth;
    unsigned slot = slot_of(p->organization_id, p->role);
    role_entry *e, fresh;
    bool hit = false, allowed = false, valid = false;

    if (adb__operator_is(p) || adb__operator_resource(resource))
        return adb__operator_check(p, resource, errbuf, errlen); /* no role decides these */
    pthread_mutex_lock(&a->mu);
    e = &a->roles[slot];
    if (e->expires > adb__now_ms() && !strcmp(e->org, p->organization_id) && !strcmp(e->role, p->role)) {
        hit = true;
        valid = e->valid;
        for (int i = 0; valid && i < e->nperms && !allowed; i++)
            allowed = matches(e->perms[i].resource, resource) && matches(e->perms[i].action, action);
    }
    if (hit)
        a->role_hits++;
    else
        a->role_misses++;
    pthread_mutex_unlock(&a->mu);
    if (!hit) {
        adb_status st = load_role(db, p->organization_id, p->role, &fresh, errbuf, errlen);
        if (st != ADB_OK)
            return st;
        valid = fresh.valid;
        for (int i = 0; valid && i < fresh.nperms && !allowed; i++)
            allowed = matches(fresh.perms[i].resource, resource) && matches(fresh.perms[i].action, action);
        pthread_mutex_lock(&a->mu);
        if (a->roles[slot].expires > adb__now_ms() &&
            (strcmp(a->roles[slot].org, fresh.org) != 0 || strcmp(a->roles[slot].role, fresh.role) != 0))
            a->role_evictions++;
        a->roles[slot] = fresh;
        pthread_mutex_unlock(&a->mu);
    }
    if (!allowed) {
        adb__fmt(errbuf, errlen, valid ? "role \"%s\" may not %s %s" : "role \"%s\" is unknown or invalid",
                 p->role, action, resource);
        return ADB_ERR_NOT_FOUND;
    }
    return ADB_OK;
}

adb_status adb_permission_check_explicit(adb *db, const adb_principal *p, const char *resource,
                                         const char *action, char *errbuf, size_t errlen)
{
    role_entry e;
    bool allowed = false;

    if (adb__operator_is(p)) {
        adb__fmt(errbuf, errlen, "an operator key may not %s %s", action, resource);
        return ADB_ERR_NOT_FOUND;
    }
    adb_status st = load_role(db, p->organization_id, p->role, &e, errbuf, errlen);
    if (st != ADB_OK)
        return st;
    for (int i = 0; e.valid && i < e.nperms && !allowed; i++)
        allowed = !strcmp(e.perms[i].resource, resource) && !strcmp(e.perms[i].action, action);
    if (!allowed) {
        adb__fmt(errbuf, errlen, "role \"%s\" has no explicit grant of %s:%s (wildcards do not "
                 "grant it)", p->role, resource, action);
        return ADB_ERR_NOT_FOUND;
    }
    return ADB_OK;
}

/* ---- tenant transactions ------------------------------------------------ */

/* On the api login's pool when the service has one (adb_options.api_conninfo):
 * a statement that sets the role back to session_user is then still bound by
 * row-level security (docs/auth.md, "Database roles"). */

PGconn *adb_tenant_begin(adb *db, const char *org, adb_status *st, char *errbuf, size_t errlen)
{
    PGconn *c = adb_pool_acquire(adb__tenant_pool(db), st, errbuf, errlen);
    char proof[65];
    const char *p[] = { org, proof };
    PGresult *r;

    if (!c)
        return NULL;
    adb__db_tenant_proof(db, c, org, proof);
    r = PQexec(c, "BEGIN; SET LOCAL ROLE auditdb_app");
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        r = adb_pool_exec(adb__tenant_pool(db), c,
                          "SELECT set_config('auditdb.organization_id', $1, true),"
                          " set_config('auditdb.tenant_proof', $2, true)", 2, p);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            PQclear(r);
            return c;
        }
    }
    if (errbuf) {
        adb__fmt(errbuf, errlen, "could not open a tenant transaction: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
    }
    *st = PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
    PQclear(r);
    PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(db), c);
    return NULL;
}

PGresult *adb_tenant_query(adb *db, const char *org, const char *sql, int nparams,
                           const char *const *params, adb_plan_mode plan, const char *extra_sql,
                           int extra_nparams, PGresult **extra_result, adb_status *st)
{
    char proof[65];
    const char *p_set[] = { org, proof, plan == ADB_PLAN_CUSTOM ? "force_custom_plan" : "force_generic_plan" };
    adb_pool_stmt stmts[3];
    PGresult *res[3];
    int n = 0, at_sql, at_extra = -1;
    PGconn *c = adb_pool_acquire(adb__tenant_pool(db), st, NULL, 0);

    if (extra_result)
        *extra_result = NULL;
    if (!c)
        return NULL;
    /* the proof is bound to this connection's backend (docs/auth.md, "Tenant
     * proof"); none made: it stays empty and the policies admit no row */
    adb__db_tenant_proof(db, c, org, proof);
    /* No BEGIN and no COMMIT: the statements of a pipeline up to its Sync
     * run in one implicit transaction, which the Sync commits (the extended
     * protocol), so the settings below, made local to that transaction,
     * hold for the statement and end with it. SET LOCAL ROLE, the plan mode
     * and the tenant setting go in one statement (set_config(..., true) is
     * SET LOCAL), its proof too. Should a setting not hold, row-level
     * security leaves the statement no rows: it fails closed. */
    if (plan == ADB_PLAN_AUTO)
        stmts[n++] = (adb_pool_stmt){ "SELECT set_config('role', 'auditdb_app', true),"
                                      " set_config('auditdb.organization_id', $1, true),"
                                      " set_config('auditdb.tenant_proof', $2, true)",
                                      2, p_set, true };
    else
        stmts[n++] = (adb_pool_stmt){ "SELECT set_config('role', 'auditdb_app', true),"
                                      " set_config('plan_cache_mode', $3, true),"
                                      " set_config('auditdb.organization_id', $1, true),"
                                      " set_config('auditdb.tenant_proof', $2, true)",
                                      3, p_set, true };
    at_sql = n;
    stmts[n++] = (adb_pool_stmt){ sql, nparams, params, true };
    if (extra_sql) {
        at_extra = n;
        stmts[n++] = (adb_pool_stmt){ extra_sql, extra_nparams, params,
                                      strncmp(extra_sql, "EXPLAIN", 7) != 0 };
    }
    bool ok = adb_pool_pipeline(adb__tenant_pool(db), c, n, stmts, res);
    PGresult *out = NULL;
    for (int i = 0; i < n; i++) {
        if (i == at_sql && ok)
            out = res[i];
        else if (i == at_extra && ok && extra_result)
            *extra_result = res[i];
        else
            PQclear(res[i]);
    }
    if (!ok) {
        *st = PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
        if (PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF &&
            PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
    }
    adb_pool_release(adb__tenant_pool(db), c);
    OPENSSL_cleanse(proof, sizeof(proof));
    return out;
}

void adb_tenant_end(adb *db, PGconn *c, bool commit)
{
    if (!c)
        return;
    PQclear(PQexec(c, commit ? "COMMIT" : "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(db), c);
}

bool adb__tenant_commit(adb *db, PGconn *c)
{
    if (!c)
        return false;
    PGresult *r = PQexec(c, "COMMIT");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
    PQclear(r);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(db), c);
    return ok;
}

void adb_sign_hex(adb *db, const char *hash, char out[65])
{
    adb__signature(&db->keys, hash, out);
}
