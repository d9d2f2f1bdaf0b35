/*
 * test_migrate.c - the migration runner against the runner's PostgreSQL:
 * apply, re-apply, history checks, refusals, failure rollback.
 */
#include "t.h"
#include "auditdb.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static PGconn *fresh(const char *name)
{
    char ci[1024];
    PGconn *c;

    if (!t_fresh_db(name, ci, sizeof(ci)))
        return NULL;
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        printf("# connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void builtin_apply_then_nothing(void)
{
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int applied = -1, pending = -1;
    PGconn *c = fresh("t_migrate_builtin");
    char *v;

    REQUIRE(c);
    adb_migrations_builtin(&set);
    REQUIRE(set.count >= 3);
    for (size_t i = 1; i < set.count; i++)
        CHECK(set.items[i].version > set.items[i - 1].version);
    CHECK_MSG(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_OK, "%s", err);
    CHECK(applied == (int)set.count);
    CHECK(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_OK);
    CHECK(applied == 0);
    CHECK(adb_migrate_check(c, &set, &pending, err, sizeof(err)) == ADB_OK && pending == 0);
    v = t_query1(c, "SELECT count(*) FROM schema_migrations");
    CHECK(v && atoi(v) == (int)set.count);
    free(v);
    /* the recorded checksum is the SHA-256 of the file */
    char sum[65], sql[128];
    adb_migration_checksum(&set.items[0], sum);
    snprintf(sql, sizeof(sql), "SELECT checksum FROM schema_migrations WHERE version = %d",
             set.items[0].version);
    v = t_query1(c, sql);
    CHECK_STR(v, sum);
    free(v);
    v = t_query1(c, "SELECT bool_and(duration_ms >= 0 AND applied_at <= now()) FROM schema_migrations");
    CHECK_STR(v, "t");
    free(v);
    PQfinish(c);
}

static void status_lists_pending_applied_changed_unknown(void)
{
    adb_migration_set set;
    adb_migration_status *rows = NULL;
    size_t n = 0;
    char err[ADB_ERRMSG_MAX];
    int applied;
    PGconn *c = fresh("t_migrate_status");

    REQUIRE(c);
    write_file("0001_a.sql", "CREATE TABLE a (x int);");
    write_file("0002_b.sql", "CREATE TABLE b (x int);");
    REQUIRE(adb_migrations_load_dir(tmpdir, &set, err, sizeof(err)) == ADB_OK);
    REQUIRE(set.count == 2);
    CHECK(adb_migrate_status(c, &set, &rows, &n, err, sizeof(err)) == ADB_OK);
    CHECK(n == 2 && rows[0].state == ADB_MIGRATION_PENDING && rows[1].state == ADB_MIGRATION_PENDING);
    free(rows);
    CHECK(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_OK && applied == 2);
    adb_migrations_free(&set);

    /* edit 0002 after it was applied, and lose 0001's file from the binary */
    unlink("0001_a.sql");
    char path[512];
    snprintf(path, sizeof(path), "%s/0001_a.sql", tmpdir);
    unlink(path);
    write_file("0002_b.sql", "CREATE TABLE b (x bigint);");
    write_file("0003_c.sql", "CREATE TABLE c (x int);");
    REQUIRE(adb_migrations_load_dir(tmpdir, &set, err, sizeof(err)) == ADB_OK);
    CHECK(adb_migrate_status(c, &set, &rows, &n, err, sizeof(err)) == ADB_OK);
    REQUIRE(n == 3);
    CHECK(rows[0].version == 2 && rows[0].state == ADB_MIGRATION_CHANGED);
    CHECK(rows[1].version == 3 && rows[1].state == ADB_MIGRATION_PENDING);
    CHECK(rows[2].version == 1 && rows[2].state == ADB_MIGRATION_UNKNOWN);
    free(rows);

    /* up refuses both problems before applying anything */
    adb_status st = adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err));
    CHECK(st == ADB_ERR_SCHEMA_NEWER || st == ADB_ERR_CHECKSUM);
    CHECK(applied == 0);
    char *v = t_query1(c, "SELECT to_regclass('c') IS NULL");
    CHECK_STR(v, "t");
    free(v);
    adb_migrations_free(&set);
    snprintf(path, sizeof(path), "%s/0002_b.sql", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/0003_c.sql", tmpdir);
    unlink(path);
    PQfinish(c);
}

static void changed_checksum_refused(void)
{
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int applied, pending;
    PGconn *c = fresh("t_migrate_changed");

    REQUIRE(c);
    write_file("0001_a.sql", "CREATE TABLE a (x int);");
    REQUIRE(adb_migrations_load_dir(tmpdir, &set, err, sizeof(err)) == ADB_OK);
    CHECK(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_OK);
    adb_migrations_free(&set);
    write_file("0001_a.sql", "CREATE TABLE a (x int); -- edited");
    REQUIRE(adb_migrations_load_dir(tmpdir, &set, err, sizeof(err)) == ADB_OK);
    CHECK(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_ERR_CHECKSUM);
    CHECK_MSG(strstr(err, "0001_a.sql") && strstr(err, "was changed after it was applied"), "%s", err);
    CHECK(adb_migrate_check(c, &set, &pending, err, sizeof(err)) == ADB_ERR_CHECKSUM);
    adb_migrations_free(&set);
    char path[512];
    snprintf(path, sizeof(path), "%s/0001_a.sql", tmpdir);
    unlink(path);
    PQfinish(c);
}

static void failing_migration_rolls_back(void)
{
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int applied;
    PGconn *c = fresh("t_migrate_fail");
    char *v;

    REQUIRE(c);
    write_file("0001_ok.sql", "CREATE TABLE ok1 (x int);");
    write_file("0002_bad.sql", "CREATE TABLE half (x int);\nINSERT INTO nosuchtable VALUES (1);");
    REQUIRE(adb_migrations_load_dir(tmpdir, &set, err, sizeof(err)) == ADB_OK);
    CHECK(adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err)) == ADB_ERR_MIGRATION);
    CHECK(applied == 1);
    CHECK_MSG(strstr(err, "0002_bad.sql") && strstr(err, "nosuchtable"), "%s", err);
    v = t_query1(c, "SELECT to_regclass('half') IS NULL AND to_regclass('ok1') IS NOT NULL");
    CHECK_STR(v, "t");
    free(v);
    v = t_query1(c, "SELECT string_agg(version::text, ',') FROM schema_migrations");
    CHECK_STR(v, "1");
    free(v);
    /* the advisory lock was released: a second session can take it at once */
    v = t_query1(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
    CHECK_STR(v, "0");
    free(v);
    adb_migrations_free(&set);
    PQfinish(c);
}

static void load_dir_rejects_duplicates(void)
{
    char sub[300], err[ADB_ERRMSG_MAX], path[400];
    adb_migration_set set;
    FILE *f;

    snprintf(sub, sizeof(sub), "%s/dup", tmpdir);
    mkdir(sub, 0700);
    const char *names[] = { "0001_a.sql", "001_b.sql", "README", NULL };
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
        if ((f = fopen(path, "w"))) {
            fputs("SELECT 1;", f);
            fclose(f);
        }
    }
    CHECK(adb_migrations_load_dir(sub, &set, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK_MSG(strstr(err, "two migrations have version 1") != NULL, "%s", err);
    CHECK(adb_migrations_load_dir("/nonexistent/dir", &set, err, sizeof(err)) == ADB_ERR_IO);
    CHECK(strstr(err, "/nonexistent/dir") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/adb-migrate-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("not ok - mkdtemp\n");
        return 1;
    }
    RUN(builtin_apply_then_nothing);
    RUN(status_lists_pending_applied_changed_unknown);
    RUN(changed_checksum_refused);
    RUN(failing_migration_rolls_back);
    RUN(load_dir_rejects_duplicates);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return t_done();
}
