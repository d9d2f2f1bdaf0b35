/*
 * migrate.c - applies the numbered SQL files of migrations/ in order.
 *
 * The files are compiled into the library (tools/embed_migrations.c writes
 * them into a generated source); a directory can be loaded instead for
 * development and tests. History lives in schema_migrations; a session
 * advisory lock serializes runners across processes and servers.
 */
#include "auditdb.h"
#include "../core/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "auditdb" in ASCII: the advisory lock key of the migration runner */
#define MIGRATE_LOCK_KEY "27413180558893156"
#define MIGRATION_MAX_BYTES (4u << 20)

extern const adb_migration adb__builtin_migrations[];
extern const size_t adb__builtin_migrations_count;

static const char create_history_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum char(64) NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " duration_ms double precision NOT NULL)";

void adb_migrations_builtin(adb_migration_set *set)
{
    set->items = adb__builtin_migrations;
    set->count = adb__builtin_migrations_count;
    set->owned = NULL;
}

void adb_migration_checksum(const adb_migration *m, char out[65])
{
    adb__sha256_hex(m->sql, m->len, out);
}

/* Parses "NNNN_name.sql"; returns the version or -1. */
static int parse_name(const char *name)
{
    size_t n = strlen(name), digits = 0;
    long long v;
    char num[16];

    while (name[digits] >= '0' && name[digits] <= '9')
        digits++;
    if (digits == 0 || digits >= sizeof(num) || name[digits] != '_' || n < digits + 6 ||
        strcmp(name + n - 4, ".sql") != 0)
        return -1;
    memcpy(num, name, digits);
    num[digits] = '\0';
    if (!adb__parse_int(num, 1, 999999, &v))
        return -1;
    return (int)v;
}

static int cmp_migration(const void *a, const void *b)
{
    const adb_migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

void adb_migrations_free(adb_migration_set *set)
{
    adb_migration *items = set->owned;

    if (items) {
        for (size_t i = 0; i < set->count; i++) {
            free((char *)items[i].name);
            free((char *)items[i].sql);
        }
        free(items);
    }
    memset(set, 0, sizeof(*set));
}

adb_status adb_migrations_load_dir(const char *dir, adb_migration_set *set, char *errbuf,
                                   size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    adb_migration *items = NULL;
    size_t n = 0, cap = 0;
    adb_status st = ADB_OK;

    memset(set, 0, sizeof(*set));
    if (!d) {
        adb__fmt(errbuf, errlen, "could not open migrations directory \"%s\": %s", dir,
                 strerror(errno));
        return ADB_ERR_IO;
    }
    while ((de = readdir(d)) != NULL) {
        int version = parse_name(de->d_name);
        char path[4096];
        if (version < 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            adb_migration *ni = realloc(items, ncap * sizeof(*items));
            if (!ni) {
                st = ADB_ERR_NOMEM;
                adb__fmt(errbuf, errlen, "out of memory");
                break;
            }
            items = ni;
            cap = ncap;
        }
        adb_migration *m = &items[n];
        memset(m, 0, sizeof(*m));
        m->version = version;
        m->name = strdup(de->d_name);
        adb__fmt(path, sizeof(path), "%s/%s", dir, de->d_name);
        m->sql = adb__read_file(path, MIGRATION_MAX_BYTES, &m->len);
        n++;
        if (!m->name || !m->sql) {
            adb__fmt(errbuf, errlen, "could not read migration \"%s\": %s", path, strerror(errno));
            st = ADB_ERR_IO;
            break;
        }
    }
    closedir(d);
    set->items = items;
    set->count = n;
    set->owned = items;
    if (st != ADB_OK) {
        adb_migrations_free(set);
        return st;
    }
    qsort(items, n, sizeof(*items), cmp_migration);
    for (size_t i = 1; i < n; i++) {
        if (items[i].version == items[i - 1].version) {
            adb__fmt(errbuf, errlen, "two migrations have version %d: \"%s\" and \"%s\"",
                     items[i].version, items[i - 1].name, items[i].name);
            adb_migrations_free(set);
            return ADB_ERR_INVALID;
        }
    }
    return ADB_OK;
}

/* ---- history ------------------------------------------------------------ */

typedef struct applied_row {
    int version;
    char name[128];
    char checksum[65];
    char applied_at[40];
    double duration_ms;
} applied_row;

static void pg_error(char *errbuf, size_t errlen, const char *what, PGconn *c, PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    size_t n;

    if (!m || !*m)
        m = PQerrorMessage(c);
    n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    adb__fmt(errbuf, errlen, "%s: %.*s", what, (int)n, m);
}

static adb_status exec_simple(PGconn *c, const char *sql, const char *what, char *errbuf,
                              size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType rs = PQresultStatus(r);
    adb_status st = ADB_OK;

    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
        pg_error(errbuf, errlen, what, c, r);
        st = PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
    }
    PQclear(r);
    return st;
}

/* Reads schema_migrations into a malloc()ed array (caller frees). A missing
 * table is an empty history. */
static adb_status read_history(PGconn *c, applied_row **out, size_t *n, char *errbuf, size_t errlen)
{
    PGresult *r;

    *out = NULL;
    *n = 0;
    r = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_error(errbuf, errlen, "could not read migration history", c, r);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists)
        return ADB_OK;
    r = PQexec(c, "SELECT version, name, checksum, "
                  "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                  "duration_ms FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_error(errbuf, errlen, "could not read migration history", c, r);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    int rows = PQntuples(r);
    applied_row *a = calloc(rows ? (size_t)rows : 1, sizeof(*a));
    if (!a) {
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        long long v = 0;
        adb__parse_int(PQgetvalue(r, i, 0), 0, 999999, &v);
        a[i].version = (int)v;
        adb__fmt(a[i].name, sizeof(a[i].name), "%s", PQgetvalue(r, i, 1));
        adb__fmt(a[i].checksum, sizeof(a[i].checksum), "%s", PQgetvalue(r, i, 2));
        adb__fmt(a[i].applied_at, sizeof(a[i].applied_at), "%s", PQgetvalue(r, i, 3));
        a[i].duration_ms = strtod(PQgetvalue(r, i, 4), NULL);
    }
    PQclear(r);
    *out = a;
    *n = (size_t)rows;
    return ADB_OK;
}

static const adb_migration *find_migration(const adb_migration_set *set, int version)
{
    for (size_t i = 0; i < set->count; i++)
        if (set->items[i].version == version)
            return &set->items[i];
    return NULL;
}

static bool is_applied(const applied_row *a, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].version == version)
            return true;
    return false;
}

/* Refuses a history this binary cannot continue. */
static adb_status validate_history(const adb_migration_set *set, const applied_row *a, size_t n,
                                   char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const adb_migration *m = find_migration(set, a[i].version);
        char sum[65];
        if (!m) {
            adb__fmt(errbuf, errlen, "the database has migration %d (\"%s\") applied, which this "
                     "auditdb %s does not know: the schema is newer than this binary",
                     a[i].version, a[i].name, ADB_VERSION_STRING);
            return ADB_ERR_SCHEMA_NEWER;
        }
        adb_migration_checksum(m, sum);
        if (strcmp(sum, a[i].checksum) != 0) {
            adb__fmt(errbuf, errlen, "migration \"%s\" was changed after it was applied "
                     "(checksum recorded %.12s..., file now %.12s...): restore the file, or add "
                     "the change as a new migration", m->name, a[i].checksum, sum);
            return ADB_ERR_CHECKSUM;
        }
    }
    return ADB_OK;
}

static adb_status apply_one(PGconn *c, const adb_migration *m, double *ms, char *errbuf,
                            size_t errlen)
{
    char what[200], version[16], duration[32], sum[65];
    double t0 = adb__now_ms();
    adb_status st;
    PGresult *r;

    adb__fmt(what, sizeof(what), "migration \"%s\" failed", m->name);
    if ((st = exec_simple(c, "BEGIN", what, errbuf, errlen)) != ADB_OK)
        return st;
    if ((st = exec_simple(c, m->sql, what, errbuf, errlen)) != ADB_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
        return st == ADB_ERR_DB_QUERY ? ADB_ERR_MIGRATION : st;
    }
    *ms = adb__now_ms() - t0;
    adb_migration_checksum(m, sum);
    adb__fmt(version, sizeof(version), "%d", m->version);
    adb__fmt(duration, sizeof(duration), "%.3f", *ms);
    const char *params[] = { version, m->name, sum, duration };
    r = PQexecParams(c, "INSERT INTO schema_migrations (version, name, checksum, duration_ms) "
                        "VALUES ($1::integer, $2, $3, $4::double precision)",
                     4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_error(errbuf, errlen, what, c, r);
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return ADB_ERR_MIGRATION;
    }
    PQclear(r);
    return exec_simple(c, "COMMIT", what, errbuf, errlen);
}

adb_status adb_migrate_up(PGconn *c, const adb_migration_set *set, adb_migrate_cb cb, void *ud,
                          int *applied, char *errbuf, size_t errlen)
{
    applied_row *hist = NULL;
    size_t nhist = 0;
    adb_status st;

    *applied = 0;
    if ((st = exec_simple(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
                          "could not take the migration lock", errbuf, errlen)) != ADB_OK)
        return st;
    if ((st = exec_simple(c, create_history_sql, "could not create schema_migrations", errbuf,
                          errlen)) != ADB_OK ||
        (st = read_history(c, &hist, &nhist, errbuf, errlen)) != ADB_OK ||
        (st = validate_history(set, hist, nhist, errbuf, errlen)) != ADB_OK)
        goto out;
    for (size_t i = 0; i < set->count; i++) {
        const adb_migration *m = &set->items[i];
        double ms = 0;
        if (is_applied(hist, nhist, m->version))
            continue;
        if ((st = apply_one(c, m, &ms, errbuf, errlen)) != ADB_OK)
            goto out;
        (*applied)++;
        if (cb)
            cb(ud, m, ms);
    }
out:
    free(hist);
    /* the lock is per session: release it even after a failure */
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    return st;
}

adb_status adb_migrate_status(PGconn *c, const adb_migration_set *set, adb_migration_status **out,
                              size_t *n, char *errbuf, size_t errlen)
{
    applied_row *hist = NULL;
    size_t nhist = 0, k = 0;
    adb_migration_status *rows;
    adb_status st;

    *out = NULL;
    *n = 0;
    if ((st = read_history(c, &hist, &nhist, errbuf, errlen)) != ADB_OK)
        return st;
    rows = calloc(set->count + nhist + 1, sizeof(*rows));
    if (!rows) {
        free(hist);
        return ADB_ERR_NOMEM;
    }
    for (size_t i = 0; i < set->count; i++) {
        const adb_migration *m = &set->items[i];
        adb_migration_status *s = &rows[k++];
        s->version = m->version;
        adb__fmt(s->name, sizeof(s->name), "%s", m->name);
        adb_migration_checksum(m, s->checksum);
        s->state = ADB_MIGRATION_PENDING;
        for (size_t j = 0; j < nhist; j++) {
            if (hist[j].version != m->version)
                continue;
            s->state = strcmp(hist[j].checksum, s->checksum) == 0 ? ADB_MIGRATION_APPLIED
                                                                  : ADB_MIGRATION_CHANGED;
            adb__fmt(s->applied_at, sizeof(s->applied_at), "%s", hist[j].applied_at);
            s->duration_ms = hist[j].duration_ms;
        }
    }
    for (size_t j = 0; j < nhist; j++) {
        if (find_migration(set, hist[j].version))
            continue;
        adb_migration_status *s = &rows[k++];
        s->version = hist[j].version;
        adb__fmt(s->name, sizeof(s->name), "%s", hist[j].name);
        adb__fmt(s->checksum, sizeof(s->checksum), "%s", hist[j].checksum);
        adb__fmt(s->applied_at, sizeof(s->applied_at), "%s", hist[j].applied_at);
        s->duration_ms = hist[j].duration_ms;
        s->state = ADB_MIGRATION_UNKNOWN;
    }
    free(hist);
    *out = rows;
    *n = k;
    return ADB_OK;
}

adb_status adb_migrate_check(PGconn *c, const adb_migration_set *set, int *pending, char *errbuf,
                             size_t errlen)
{
    applied_row *hist = NULL;
    size_t nhist = 0;
    adb_status st;

    *pending = 0;
    if ((st = read_history(c, &hist, &nhist, errbuf, errlen)) != ADB_OK)
        return st;
    st = validate_history(set, hist, nhist, errbuf, errlen);
    for (size_t i = 0; st == ADB_OK && i < set->count; i++)
        if (!is_applied(hist, nhist, set->items[i].version))
            (*pending)++;
    free(hist);
    return st;
}
