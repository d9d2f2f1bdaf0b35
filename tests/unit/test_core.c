/*
 * test_core.c - the status table, configuration loading and helpers.
 */
#include "t.h"
#include "auditdb.h"
#include "core/util.h"

static void status_table_is_complete(void)
{
    int seen[64] = { 0 };
#define T_STATUS(name, num, text)                                  \
    CHECK(num < 64);                                               \
    CHECK_MSG(seen[num]++ == 0, "status number %d reused", num);   \
    CHECK_STR(adb_status_name(ADB_##name), #name);                 \
    CHECK_STR(adb_strerror(ADB_##name), text);
    ADB_STATUS_LIST(T_STATUS)
#undef T_STATUS
    CHECK_STR(adb_strerror((adb_status)999), "unknown status");
}

static void config_defaults(void)
{
    adb_config cfg;
    const char *vars[] = { "AUDIT_DB_URL", "AUDIT_DB_POOL_MIN", "AUDIT_DB_POOL_MAX", "AUDITDB_HOME",
                           "AUDITDB_LISTEN", "AUDIT_MONITORING_ENABLED", NULL };

    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    REQUIRE(adb_config_load(&cfg) == ADB_OK);
    CHECK(cfg.db_url == NULL);
    CHECK(cfg.pool_min == 2);
    CHECK(cfg.pool_max == 10);
    CHECK_STR(cfg.listen, "127.0.0.1:8080");
    CHECK(cfg.home && cfg.home[0] == '/');
    CHECK(cfg.home && strstr(cfg.home, "/.auditdb") != NULL);
    CHECK(cfg.monitoring);
    adb_config_free(&cfg);
}

static void config_rejects_bad_values(void)
{
    adb_config cfg;

    setenv("AUDIT_DB_POOL_MAX", "ten", 1);
    CHECK(adb_config_load(&cfg) == ADB_ERR_CONFIG);
    CHECK(strstr(cfg.errmsg, "AUDIT_DB_POOL_MAX") != NULL);
    CHECK(strstr(cfg.errmsg, "\"ten\"") != NULL);
    adb_config_free(&cfg);

    setenv("AUDIT_DB_POOL_MAX", "3", 1);
    setenv("AUDIT_DB_POOL_MIN", "5", 1);
    CHECK(adb_config_load(&cfg) == ADB_ERR_CONFIG);
    CHECK(strstr(cfg.errmsg, "AUDIT_DB_POOL_MIN (5) is greater than AUDIT_DB_POOL_MAX (3)") != NULL);
    adb_config_free(&cfg);
    unsetenv("AUDIT_DB_POOL_MIN");

    setenv("AUDIT_DB_POOL_MAX", "4", 1);
    setenv("AUDIT_GDPR_ENABLED", "maybe", 1);
    CHECK(adb_config_load(&cfg) == ADB_ERR_CONFIG);
    CHECK(strstr(cfg.errmsg, "AUDIT_GDPR_ENABLED") != NULL);
    adb_config_free(&cfg);
    unsetenv("AUDIT_GDPR_ENABLED");

    CHECK(adb_config_load(&cfg) == ADB_OK);
    CHECK(cfg.pool_max == 4);
    adb_config_free(&cfg);
    unsetenv("AUDIT_DB_POOL_MAX");
}

static void config_table_documents_every_setting(void)
{
    int n = 0;
    for (const adb_config_key *k = adb_config_keys(); k->name; k++, n++) {
        CHECK(k->help && strlen(k->help) > 10);
        CHECK(strncmp(k->name, "AUDIT", 5) == 0 || strcmp(k->name, "REDIS_URL") == 0);
    }
    CHECK(n >= 13);
}

static void sha256_known_vector(void)
{
    char hex[65];

    adb__sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void parse_int_bounds(void)
{
    long long v = 0;

    CHECK(adb__parse_int("42", 0, 100, &v) && v == 42);
    CHECK(!adb__parse_int("101", 0, 100, &v));
    CHECK(!adb__parse_int("4x", 0, 100, &v));
    CHECK(!adb__parse_int("", 0, 100, &v));
    CHECK(!adb__parse_int("99999999999999999999999", 0, 100, &v));
}

int main(void)
{
    RUN(status_table_is_complete);
    RUN(config_defaults);
    RUN(config_rejects_bad_values);
    RUN(config_table_documents_every_setting);
    RUN(sha256_known_vector);
    RUN(parse_int_bounds);
    return t_done();
}
