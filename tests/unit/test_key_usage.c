/*
 * test_key_usage.c - keys' last-use times (src/auth/key_usage.c): noted at
 * authentication, written when the handle closes, the latest time kept, and
 * a key noted after thousands of others (the index grown many times) still
 * written. Issue 14, item 21.
 */
#include "tdb.h"
#include "auth/key_usage.h"
#include "core/adb_internal.h"

#include <stdio.h>

static char ci[1024];

static void last_use_written_at_close(void)
{
    adb *db = t_open(ci, NULL);
    char k1[ADB_KEY_TEXT_MAX], k2[ADB_KEY_TEXT_MAX], k3[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX];
    adb_key_info i1, i2, i3;
    adb_principal p;

    REQUIRE(db);
    CHECK(adb_org_ensure(db, "use", NULL, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_create(db, "use", "viewer", NULL, k1, &i1, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_create(db, "use", "viewer", NULL, k2, &i2, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_create(db, "use", "viewer", NULL, k3, &i3, err, sizeof(err)) == ADB_OK);
    for (int i = 0; i < 50; i++)
        CHECK(adb_key_authenticate(db, k1, &p, err, sizeof(err)) == ADB_OK);
    /* a failed authentication is no use */
    k2[strlen(k2) - 1] = k2[strlen(k2) - 1] == 'A' ? 'B' : 'A';
    CHECK(adb_key_authenticate(db, k2, &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    /* 5,000 other keys first: key 3 lands in an index grown nine times */
    for (int i = 0; i < 5000; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%016x", i);
        adb__key_usage_note(db->key_usage, id);
    }
    CHECK(adb_key_authenticate(db, k3, &p, err, sizeof(err)) == ADB_OK);
    adb_close(db); /* flushes */

    PGconn *c = PQconnectdb(ci);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM apikey WHERE id IN ('%s', '%s') AND"
             " last_request > now() AT TIME ZONE 'UTC' - interval '1 minute'", i1.id, i3.id);
    CHECK(t_count(c, sql) == 2);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM apikey WHERE id = '%s' AND last_request IS NULL", i2.id);
    CHECK(t_count(c, sql) == 1);
    /* a later flush with an older time does not move it back */
    CHECK(t_exec(c, "UPDATE apikey SET last_request = '2999-01-01' WHERE prefix = 'adb'"));
    db = t_open(ci, NULL);
    REQUIRE(db);
    CHECK(adb_key_authenticate(db, k1, &p, err, sizeof(err)) == ADB_OK);
    adb_close(db);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM apikey WHERE id = '%s' AND last_request = '2999-01-01'", i1.id);
    CHECK(t_count(c, sql) == 1);
    PQfinish(c);
}

int main(void)
{
    if (!t_migrated_db("t_key_usage", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(last_use_written_at_close);
    return t_done();
}
