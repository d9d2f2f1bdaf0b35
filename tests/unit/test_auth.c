/*
 * test_auth.c - organizations, keys, roles: authentication outcomes,
 * wildcard and inherited permissions, cycles refused when written, and
 * cached decisions dropped when a role changes (NOTIFY), and operator keys
 * (process-wide figures only, which no organization's role grants).
 */
#include "tdb.h"
#include "core/util.h"

#include <unistd.h>

static char ci[1024];

static void watch(adb_options *o)
{
    o->watch_auth = true;
}

static void keys_authenticate_and_revoke(void)
{
    adb *db = t_open(ci, NULL);
    char key[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX];
    adb_key_info info;
    adb_principal p;

    REQUIRE(db);
    CHECK(adb_org_ensure(db, "acme", "ACME", err, sizeof(err)) == ADB_OK);
    CHECK(adb_org_ensure(db, "acme", NULL, err, sizeof(err)) == ADB_OK); /* again: fine */
    CHECK_MSG(adb_key_create(db, "acme", "viewer", "reader", key, &info, err, sizeof(err)) == ADB_OK, "%s", err);
    CHECK(strncmp(key, "adb_", 4) == 0 && strlen(key) > 40);
    CHECK_STR(info.role, "viewer");
    CHECK(adb_key_authenticate(db, key, &p, err, sizeof(err)) == ADB_OK);
    CHECK_STR(p.organization_id, "acme");
    CHECK_STR(p.key_id, info.id);
    /* the stored value is a hash, not the secret */
    PGconn *c = PQconnectdb(ci);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM apikey WHERE key = '%s' OR key = '%s'", key, key + 21);
    CHECK(t_count(c, sql) == 0);
    /* wrong secret, malformed, unknown */
    char wrong[ADB_KEY_TEXT_MAX];
    snprintf(wrong, sizeof(wrong), "%s", key);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'A' ? 'B' : 'A';
    CHECK(adb_key_authenticate(db, wrong, &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_key_authenticate(db, "not-a-key", &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_key_authenticate(db, "adb_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaa", &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_key_authenticate(db, NULL, &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    /* an unknown role or organization */
    CHECK(adb_key_create(db, "acme", "overlord", NULL, key, NULL, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_key_create(db, "nobody-org", "admin", NULL, key, NULL, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    /* revoke: refused at once, even though the key was cached */
    CHECK(adb_key_revoke(db, info.display, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_authenticate(db, key, &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_key_revoke(db, "adb_ffffffffffffffff", err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    adb_key_info *list = NULL;
    size_t n = 0;
    CHECK(adb_key_list(db, "acme", &list, &n, err, sizeof(err)) == ADB_OK && n == 1 && list[0].revoked);
    free(list);
    PQfinish(c);
    adb_close(db);
}

static void revoked_key_is_refused(void)
{
    adb *db = t_open(ci, NULL);
    char key[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX];
    adb_key_info info;
    adb_principal p;

    REQUIRE(db);
    REQUIRE(adb_key_create(db, "acme", "admin", NULL, key, &info, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_authenticate(db, key, &p, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_revoke(db, info.id, err, sizeof(err)) == ADB_OK);
    CHECK(adb_key_authenticate(db, key, &p, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    adb_close(db);
}

static bool may(adb *db, const char *org, const char *role, const char *res, const char *act)
{
    adb_principal p = { "k", "", "" };
    char err[ADB_ERRMSG_MAX];
    adb__fmt(p.organization_id, sizeof(p.organization_id), "%s", org);
    adb__fmt(p.role, sizeof(p.role), "%s", role);
    return adb_permission_check(db, &p, res, act, err, sizeof(err)) == ADB_OK;
}

static void default_roles_and_wildcards(void)
{
    adb *db = t_open(ci, NULL);
    REQUIRE(db);
    CHECK(may(db, "acme", "admin", "audit.events", "create"));
    CHECK(may(db, "acme", "admin", "anything", "at-all"));
    CHECK(may(db, "acme", "ingest", "audit.events", "create"));
    CHECK(!may(db, "acme", "ingest", "audit.events", "read"));
    CHECK(may(db, "acme", "viewer", "audit.events", "read"));
    CHECK(may(db, "acme", "viewer", "archives", "read"));
    CHECK(!may(db, "acme", "viewer", "audit.events", "verify"));
    CHECK(may(db, "acme", "auditor", "audit.events", "read"));   /* inherited from viewer */
    CHECK(may(db, "acme", "auditor", "audit.events", "verify"));
    CHECK(may(db, "acme", "auditor", "reports", "generate"));    /* reports:* */
    /* issue 20 (migration 0034): the auditor reads alerts and metrics, the responder works alerts */
    CHECK(may(db, "acme", "auditor", "metrics", "read"));
    CHECK(may(db, "acme", "auditor", "alerts", "read"));
    CHECK(!may(db, "acme", "auditor", "alerts", "manage"));
    CHECK(!may(db, "acme", "auditor", "metrics", "manage"));
    CHECK(may(db, "acme", "responder", "alerts", "manage"));
    CHECK(may(db, "acme", "responder", "alerts.rules", "manage"));
    CHECK(may(db, "acme", "responder", "audit.events", "read")); /* inherited from viewer */
    CHECK(!may(db, "acme", "responder", "reports", "generate"));
    CHECK(!may(db, "acme", "responder", "operator.errors", "read"));
    CHECK(!may(db, "acme", "nosuchrole", "audit.events", "read"));
    CHECK(!may(db, "other-org", "admin", "audit.events", "read")); /* roles are per organization */
    PGconn *c = PQconnectdb(ci);
    CHECK(t_exec(c, "INSERT INTO organization_role (organization_id, name, permissions) VALUES"
                    " ('acme', 'audit-ops', '[{\"resource\":\"audit.*\",\"action\":\"read\"}]')"));
    PQfinish(c);
    CHECK(may(db, "acme", "audit-ops", "audit.events", "read"));
    CHECK(may(db, "acme", "audit-ops", "audit", "read"));
    CHECK(!may(db, "acme", "audit-ops", "auditing", "read"));
    CHECK(!may(db, "acme", "audit-ops", "audit.events", "create"));
    adb_close(db);
}

static void inheritance_cycles_refused(void)
{
    PGconn *c = PQconnectdb(ci);
    PGresult *r;

    CHECK(t_exec(c, "INSERT INTO organization_role (organization_id, name, permissions, inherits)"
                    " VALUES ('acme', 'a', '[]', '[\"b\"]'), ('acme', 'b', '[]', '[\"c\"]'),"
                    " ('acme', 'c', '[]', NULL)"));
    r = PQexec(c, "UPDATE organization_role SET inherits = '[\"a\"]' WHERE organization_id = 'acme' AND name = 'c'");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "inheritance cycles are not allowed") != NULL, "%s", PQresultErrorMessage(r));
    PQclear(r);
    r = PQexec(c, "INSERT INTO organization_role (organization_id, name, permissions, inherits)"
                  " VALUES ('acme', 'self', '[]', '[\"self\"]')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(c);
}

static void role_change_drops_cached_decisions(void)
{
    adb *db = t_open(ci, watch);
    PGconn *c = PQconnectdb(ci);

    REQUIRE(db);
    CHECK(!may(db, "acme", "ingest", "audit.events", "read")); /* cached: no */
    CHECK(t_exec(c, "UPDATE organization_role SET permissions = permissions ||"
                    " '[{\"resource\":\"audit.events\",\"action\":\"read\"}]'"
                    " WHERE organization_id = 'acme' AND name = 'ingest'"));
    bool granted = false;
    for (int i = 0; i < 50 && !granted; i++) {
        adb__sleep_ms(100);
        granted = may(db, "acme", "ingest", "audit.events", "read");
    }
    CHECK_MSG(granted, "the cached decision outlived the role change");
    PQfinish(c);
    adb_close(db);
}

static void operator_keys(void)
{
    adb *db = t_open(ci, NULL);
    char key[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX];
    adb_key_info info;
    adb_principal p;

    REQUIRE(db);
    CHECK(adb_org_ensure(db, "acme", NULL, err, sizeof(err)) == ADB_OK);
    /* no organization's role grants process-wide figures, not even "*" */
    CHECK(!may(db, "acme", "admin", "operator.metrics", "read"));
    CHECK(!may(db, "acme", "admin", "operator", "read"));
    PGconn *c = PQconnectdb(ci);
    CHECK(t_exec(c, "INSERT INTO organization_role (organization_id, name, permissions) VALUES"
                    " ('acme', 'operator', '[{\"resource\":\"operator.*\",\"action\":\"*\"}]')"));
    CHECK(!may(db, "acme", "operator", "operator.metrics", "read")); /* a tenant role so named */
    /* an operator key: no organization; only operator keys may have none */
    CHECK(adb_key_create(db, NULL, "admin", NULL, key, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK_MSG(adb_key_create(db, NULL, ADB_OPERATOR_ROLE, "scraper", key, &info, err, sizeof(err)) == ADB_OK,
              "%s", err);
    CHECK_STR(info.organization_id, "");
    CHECK(adb_key_authenticate(db, key, &p, err, sizeof(err)) == ADB_OK);
    CHECK_STR(p.organization_id, "");
    CHECK_STR(p.role, ADB_OPERATOR_ROLE);
    CHECK(adb_permission_check(db, &p, "operator.metrics", "read", err, sizeof(err)) == ADB_OK);
    CHECK(adb_permission_check(db, &p, "audit.events", "read", err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb_permission_check(db, &p, "archives", "read", err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(!t_exec(c, "UPDATE apikey SET organization_id = NULL WHERE role = 'admin'"));
    PQfinish(c);
    adb_close(db);
}

int main(void)
{
    if (!t_migrated_db("t_auth", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(keys_authenticate_and_revoke);
    RUN(revoked_key_is_refused);
    RUN(default_roles_and_wildcards);
    RUN(inheritance_cycles_refused);
    RUN(role_change_drops_cached_decisions);
    RUN(operator_keys);
    return t_done();
}
