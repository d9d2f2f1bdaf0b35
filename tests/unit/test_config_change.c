/*
 * test_config_change.c - the configuration history (src/monitor/
 * config_change.c, mask.c): secret-named members masked at every depth,
 * the row written in the caller's transaction (nothing after a rollback),
 * refused bad input, tenant isolation of the rows as the API role, and the
 * organization's audit event after commit (without the values). Issue 20.
 */
#include "tdb.h"
#include "core/adb_internal.h"
#include "monitor/config_change.h"
#include "monitor/mask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char ci[1024];

static void secret_names(void)
{
    const char *yes[] = { "secret", "webhookSecret", "client_secret", "password", "smtpPassword",
                          "PASSWD", "token", "accessToken", "refresh-token", "privateKey",
                          "private_key", "apiKey", "api_key", "key", "hmacKey", "masterKey",
                          "signingKey", "awsAccessKeyId", "credentials", "Authorization",
                          "cookie", NULL };
    const char *no[] = { "keyId", "keyPrefix", "keys", "name", "url", "role", "timezone",
                         "retentionDays", "monkey_business", "", NULL };
    for (int i = 0; yes[i]; i++)
        CHECK_MSG(adb__config_secret_name(yes[i]), "%s is a secret name", yes[i]);
    for (int i = 0; no[i]; i++)
        CHECK_MSG(!adb__config_secret_name(no[i]), "%s is not a secret name", no[i]);
}

static void masks_every_depth(void)
{
    json_t *j = json_loads("{\"url\":\"https://x\",\"secret\":\"s3cr3t\",\"headers\":"
                           "{\"Authorization\":\"Bearer abc\",\"X-Trace\":\"1\"},"
                           "\"targets\":[{\"password\":{\"nested\":\"p\"}},{\"token\":null},7],"
                           "\"apiKey\":12345}", 0, NULL);
    REQUIRE(j);
    adb__config_mask(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(s, "{\"apiKey\":\"***\",\"headers\":{\"Authorization\":\"***\",\"X-Trace\":\"1\"},"
                 "\"secret\":\"***\",\"targets\":[{\"password\":\"***\"},{\"token\":null},7],"
                 "\"url\":\"https://x\"}");
    free(s);
    json_decref(j);
}

static void written_in_the_transaction(void)
{
    PGconn *c = PQconnectdb(ci);
    char err[256];
    adb__config_change ch = { .org = "cc1", .field = "delivery_destination.7",
                              .previous_json = "null",
                              .new_json = "{\"url\":\"https://h\",\"config\":{\"secret\":\"topsecret\"}}",
                              .changed_by = "key:0011223344556677", .reason = "new hook",
                              .new_version = "1" };

    REQUIRE(PQstatus(c) == CONNECTION_OK);
    /* rolled back: nothing */
    CHECK(t_exec(c, "BEGIN"));
    CHECK(adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK);
    CHECK(t_exec(c, "ROLLBACK"));
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event") == 0);
    /* committed: one row, masked */
    CHECK(t_exec(c, "BEGIN"));
    CHECK(adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK);
    CHECK(t_exec(c, "COMMIT"));
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event WHERE organization_id = 'cc1'"
                     " AND field = 'delivery_destination.7' AND previous_value = 'null'::jsonb"
                     " AND new_value = '{\"url\":\"https://h\",\"config\":{\"secret\":\"***\"}}'::jsonb"
                     " AND changed_by = 'key:0011223344556677' AND reason = 'new hook'"
                     " AND new_version = '1' AND previous_version IS NULL"
                     " AND environment <> ''") == 1);
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event WHERE new_value::text LIKE '%topsecret%'") == 0);
    /* bad input refused, nothing written */
    adb__config_change bad = ch;
    bad.new_json = "{not json";
    CHECK(adb__config_change_tx(c, &bad, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "new value") != NULL);
    bad = ch;
    bad.field = NULL;
    CHECK(adb__config_change_tx(c, &bad, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "field") != NULL);
    bad = ch;
    bad.changed_by = "";
    CHECK(adb__config_change_tx(c, &bad, err, sizeof(err)) == ADB_ERR_INVALID);
    char longr[300];
    memset(longr, 'r', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    bad = ch;
    bad.reason = longr;
    CHECK(adb__config_change_tx(c, &bad, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "reason") != NULL);
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event") == 1);
    /* a process-wide change (no organization) */
    adb__config_change pw = { .field = "AUDIT_SLOW_QUERY_THRESHOLD", .previous_json = "1000",
                              .new_json = "500", .changed_by = "cli:op" };
    CHECK(adb__config_change_tx(c, &pw, err, sizeof(err)) == ADB_OK);
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event WHERE organization_id IS NULL") == 1);
    PQfinish(c);
}

static void tenant_isolation_and_event(void)
{
    adb *db = t_open(ci, NULL);
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    REQUIRE(db);
    CHECK(adb_org_ensure(db, "cc1", NULL, err, sizeof(err)) == ADB_OK);
    CHECK(adb_org_ensure(db, "cc2", NULL, err, sizeof(err)) == ADB_OK);
    /* as the API role of cc2: writes its own, sees only its own */
    PGconn *c = adb_tenant_begin(db, "cc2", &st, err, sizeof(err));
    REQUIRE(c);
    adb__config_change ch = { .org = "cc2", .field = "organization_settings.timezone",
                              .previous_json = "\"UTC\"", .new_json = "\"Europe/Lisbon\"",
                              .changed_by = "key:aa", .reason = "moved" };
    CHECK(adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK);
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event") == 1);
    /* another organization's row is refused by the policy */
    adb__config_change other = ch;
    other.org = "cc1";
    CHECK(adb__config_change_tx(c, &other, err, sizeof(err)) == ADB_ERR_DB_QUERY);
    adb_tenant_end(db, c, false);
    c = adb_tenant_begin(db, "cc2", &st, err, sizeof(err));
    REQUIRE(c);
    CHECK(adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK);
    /* no update or delete for the API role: the history is append-only */
    PGresult *r = PQexec(c, "DELETE FROM config_change_event");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    PQclear(r);
    adb_tenant_end(db, c, false);
    c = adb_tenant_begin(db, "cc2", &st, err, sizeof(err));
    REQUIRE(c);
    CHECK(adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK);
    adb_tenant_end(db, c, true);
    adb__config_change_announce(db, &ch);
    adb_close(db);

    PGconn *o = PQconnectdb(ci);
    CHECK(t_count(o, "SELECT count(*) FROM config_change_event WHERE organization_id = 'cc2'") == 1);
    CHECK(t_count(o, "SELECT count(*) FROM audit_log WHERE organization_id = 'cc2'"
                     " AND action = 'config.change'"
                     " AND target_resource_id = 'organization_settings.timezone'"
                     " AND details->>'reason' = 'moved' AND details->>'change' = 'updated'") == 1);
    CHECK(t_count(o, "SELECT count(*) FROM audit_log WHERE details::text LIKE '%Lisbon%'") == 0);
    PQfinish(o);
}

/* what changes by itself left out; a long field, principal or reason cut
 * to 255 bytes on a character boundary (never refused, never invalid UTF-8) */
static void documents_and_long_texts(void)
{
    static const char *const drop[] = { "updatedAt", "version", NULL };
    json_t *doc = json_pack("{s:s, s:s, s:i, s:b}", "name", "n", "updatedAt", "t", "version", 3,
                            "enabled", 1);
    json_t *kept = adb__config_doc_without(doc, drop);
    char *s = json_dumps(kept, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(s, "{\"enabled\":true,\"name\":\"n\"}");
    CHECK(json_object_size(doc) == 4); /* the original untouched */
    CHECK(adb__config_doc_without(NULL, drop) == NULL);
    free(s);
    json_decref(kept);
    json_decref(doc);

    PGconn *c = PQconnectdb(ci);
    char err[256], why[400];
    adb__config_change_rec rec;
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    /* 130 two-byte characters: 260 bytes, a cut at 255 would split one */
    why[0] = '\0';
    for (int i = 0; i < 130; i++)
        strcat(why, "\xc3\xa9");
    json_t *prev = json_pack("{s:s}", "description", "v1"), *next = json_pack("{s:s}", "description", "v2");
    CHECK(t_exec(c, "BEGIN"));
    CHECK(adb__config_change_json_tx(c, &rec, "cc1", why, prev, next, why, why, err, sizeof(err)) == ADB_OK);
    CHECK(rec.written && strlen(rec.field) == 254 && strlen(rec.reason) == 254);
    CHECK(t_exec(c, "COMMIT"));
    adb__config_change_rec_done(NULL, &rec, false);
    CHECK(t_count(c, "SELECT count(*) FROM config_change_event WHERE length(reason) = 127"
                     " AND length(field) = 127 AND length(changed_by) = 127") == 1);
    /* the same document before and after: nothing written */
    CHECK(adb__config_change_json_tx(c, &rec, "cc1", "same", prev, prev, "x", NULL, err, sizeof(err)) == ADB_OK);
    CHECK(!rec.written);
    adb__config_change_rec_done(NULL, &rec, false);
    json_decref(prev);
    json_decref(next);
    PQfinish(c);
}

int main(void)
{
    RUN(secret_names);
    RUN(masks_every_depth);
    if (!t_migrated_db("t_config_change", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(written_in_the_transaction);
    RUN(tenant_isolation_and_event);
    RUN(documents_and_long_texts);
    return t_done();
}
