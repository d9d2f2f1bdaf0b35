/*
 * test_event.c - event validation and normalization, the canonical form of
 * docs/integrity.md (its worked example), the smart-logs v1 vectors, and
 * timestamps.
 */
#include "t.h"
#include "auditdb.h"
#include "event/event.h"
#include "event/json.h"
#include "integrity/integrity.h"
#include "integrity/commit.h"
#include "core/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>

static adb__validation val(void)
{
    adb__validation v;
    adb__validation_default(&v);
    v.now_us = 1706700000LL * 1000000; /* 2024-01-31T11:20:00Z */
    return v;
}

/* Builds an event from JSON text; NULL with errs on refusal. */
static adb__event *build(const char *json, const adb__validation *v, adb_event_errors *errs)
{
    adb_json_error je;
    adb_json_doc *doc = adb__json_parse(json, strlen(json), NULL, &je);
    adb__event *ev;

    errs->count = 0;
    if (!doc) {
        adb__errors_add(errs, "INVALID_JSON", "", "%s", je.message);
        return NULL;
    }
    ev = adb__event_from_json(adb__json_root(doc), NULL, v, errs);
    adb__json_free(doc);
    return ev;
}

static bool has_error(const adb_event_errors *e, const char *code, const char *field)
{
    for (int i = 0; i < e->count; i++)
        if (!strcmp(e->e[i].code, code) && !strcmp(e->e[i].field, field))
            return true;
    return false;
}

static void dump(const adb_event_errors *e)
{
    for (int i = 0; i < e->count; i++)
        printf("#     %s %s: %s\n", e->e[i].code, e->e[i].field, e->e[i].message);
}

static void docs_example_canonical_form_and_hash(void)
{
    adb__validation v = val();
    adb_event_errors errs;
    adb__keys k;
    adb__event *ev = build("{\"timestamp\":\"2024-01-31T10:05:03.12+01:00\",\"action\":"
                           "\"fhir.patient.read\",\"status\":\"success\",\"principalId\":\"doc-1\","
                           "\"organizationId\":\"org-1\",\"details\":{\"b\":1.50,\"a\":\"\\u00e9\\n\"}}",
                           &v, &errs);
    size_t len;

    dump(&errs);
    REQUIRE(ev);
    /* a new event's id: version 1 at the event's own instant */
    int64_t id_us = 0;
    CHECK(adb__event_id_time(ev->event_id, &id_us) && id_us == ev->ts_us);
    CHECK(ev->event_id[14] == '1' && strchr("89ab", ev->event_id[19]));
    /* the page's example: its id fixed (a new event's is random) */
    memcpy(ev->event_id, "d1c51900-c017-11ee-9c4f-2b7d5e31b806", 37);
    /* a new event is hashed under sha256-c14n-v3 with a random commitment key */
    CHECK_STR(ev->f[ADB_F_HASH_ALGORITHM], "sha256-c14n-v3");
    CHECK(ev->has_commit_key);
    unsigned char zero[32] = { 0 };
    CHECK(memcmp(ev->commit_key, zero, 32) != 0);
    /* the page's v3 example: commitment key 00 01 02 ... 1f */
    for (int i = 0; i < 32; i++)
        ev->commit_key[i] = (unsigned char)i;
    char *c = adb__canonical(ev, &len);
    CHECK_STR(c, "{\"action\":\"fhir.patient.read\",\"commitments\":{"
                 "\"details.a\":\"37e712217672a876c73b9eb25540f49b3b55c12892e2c7a96212634b79dc9315\","
                 "\"details.b\":\"0d0ad6d674893ddef10b61aab0ca3e5da3548b21205cfbbe9461062f9bb8aee6\","
                 "\"principalId\":\"330a160b7ace637192b1738aa7dc34c49efbbc1ea14a5ac4aeedcb26747b72f1\"},"
                 "\"dataClassification\":\"INTERNAL\",\"eventVersion\":\"1.0\",\"hashAlgorithm\":"
                 "\"sha256-c14n-v3\",\"id\":\"d1c51900-c017-11ee-9c4f-2b7d5e31b806\","
                 "\"organizationId\":\"org-1\",\"retentionPolicy\":\"standard\",\"status\":"
                 "\"success\",\"timestamp\":\"2024-01-31T09:05:03.120000Z\"}");
    free(c);
    REQUIRE(adb__keys_derive((const unsigned char *)"0123456789abcdef0123456789abcdef", 32, &k));
    CHECK(adb__event_seal(ev, &k, &errs));
    CHECK_STR(ev->hash, "a7139ddfe6943fef5dd76f979e68c69ad59b156baea9ed5b10abb7ab527e251c");
    /* the field key and commitment of principalId, as the page shows them */
    adb__hmac_key ek;
    unsigned char fk[32];
    char hex[65];
    REQUIRE(adb__hmac_key_init(&ek, ev->commit_key, 32));
    CHECK(adb__commit_field_key(&ek, ev->event_id, "principalId", 11, fk));
    adb__hex(fk, 32, hex);
    CHECK_STR(hex, "74fe6a421feb57fa0c2040af26d17c5ab217f0498e5f8c891ec83f63096a00e2");
    CHECK(adb__commitment(fk, ev->event_id, "principalId", 11, "\"doc-1\"", 7, hex));
    CHECK_STR(hex, "330a160b7ace637192b1738aa7dc34c49efbbc1ea14a5ac4aeedcb26747b72f1");
    /* a v3 event without its key is refused, not hashed with commitments left out */
    ev->has_commit_key = false;
    CHECK(!adb__event_seal(ev, &k, &errs));
    ev->has_commit_key = true;
    /* the same event stored under sha256-c14n-v2: values in place, no commitments */
    free(ev->f[ADB_F_HASH_ALGORITHM]);
    ev->f[ADB_F_HASH_ALGORITHM] = strdup(ADB_HASH_ALG_C14N_V2);
    errs.count = 0;
    c = adb__canonical(ev, &len);
    CHECK_STR(c, "{\"action\":\"fhir.patient.read\",\"dataClassification\":\"INTERNAL\",\"details\":"
                 "{\"a\":\"\xc3\xa9\\n\",\"b\":1.50},\"eventVersion\":\"1.0\",\"hashAlgorithm\":"
                 "\"sha256-c14n-v2\",\"id\":\"d1c51900-c017-11ee-9c4f-2b7d5e31b806\","
                 "\"organizationId\":\"org-1\",\"principalId\":\"doc-1\","
                 "\"retentionPolicy\":\"standard\",\"status\":\"success\",\"timestamp\":"
                 "\"2024-01-31T09:05:03.120000Z\"}");
    free(c);
    CHECK(adb__event_seal(ev, &k, &errs));
    CHECK_STR(ev->hash, "888d67ba2c95859f9dace79944e6f33c3315eaba7b32abcd3588de858c8c3541");
    CHECK_STR(ev->content_hash, ev->hash);
    CHECK(strlen(ev->signature) == 64);
    /* the same event stored before ids (sha256-c14n-v1): no "id" member */
    free(ev->f[ADB_F_HASH_ALGORITHM]);
    ev->f[ADB_F_HASH_ALGORITHM] = strdup(ADB_HASH_ALG_C14N_V1);
    CHECK(adb__event_seal(ev, &k, &errs));
    CHECK_STR(ev->hash, "40d8f4c811d4000db28239099570924a3811bdc8cb7d731978a48cbb920c87b9");
    adb__event_free(ev);
}

/* Ids: derived ones as docs/integrity.md defines them (the same value
 * tests/tools/adb_recompute.py computes), parsing, and the time they carry. */
static void event_ids(void)
{
    char id[37], again[37];
    int64_t us = 0, t;

    REQUIRE(adb__timestamp_parse("2024-06-01T00:00:01Z", 20, &t));
    adb__event_id_derive(t, "abababababababababababababababababababababababababababababababab", id);
    CHECK_STR(id, "e42f1680-1fa9-11ef-a5c8-57a586b2cfae");
    CHECK(adb__event_id_time(id, &us) && us == t);
    /* before 1582-10-15: no version 1; a version 4 id of the same bits */
    REQUIRE(adb__timestamp_parse("1500-01-01T00:00:00Z", 20, &t));
    adb__event_id_derive(t, "ab", id);
    CHECK(id[14] == '4' && !adb__event_id_time(id, &us));
    CHECK(adb__event_id_new(t, id) && id[14] == '4');
    /* any case in, lowercase out; nothing else */
    CHECK(adb__event_id_parse("E42F1680-1FA9-11EF-A5C8-57A586B2CFAE", 36, again));
    CHECK_STR(again, "e42f1680-1fa9-11ef-a5c8-57a586b2cfae");
    CHECK(!adb__event_id_parse("e42f1680-1fa9-11ef-a5c8-57a586b2cfa", 35, again));
    CHECK(!adb__event_id_parse("e42f1680x1fa9-11ef-a5c8-57a586b2cfae", 36, again));
    CHECK(!adb__event_id_parse("g42f1680-1fa9-11ef-a5c8-57a586b2cfae", 36, again));
    /* new ids at one instant differ */
    REQUIRE(adb__timestamp_parse("2024-06-01T00:00:01Z", 20, &t));
    CHECK(adb__event_id_new(t, id) && adb__event_id_new(t, again) && strcmp(id, again) != 0);
}

static void legacy_vectors(void)
{
    adb__validation v = val();
    adb_event_errors errs;
    adb__keys k;
    size_t len;

    v.now_us = 1704067200LL * 1000000;
    v.allow_legacy_hash = true;
    adb__event *ev = build("{\"timestamp\":\"2023-10-26T10:30:00.000Z\",\"action\":\"userLogin\","
                           "\"status\":\"success\",\"principalId\":\"user-12345\",\"organizationId\":"
                           "\"org-67890\",\"targetResourceType\":\"User\",\"targetResourceId\":"
                           "\"user-12345\",\"outcomeDescription\":\"User logged in successfully\","
                           "\"hashAlgorithm\":\"SHA-256\",\"hash\":"
                           "\"1a5173f0c32c592cbe9d3c03c2af6ab212b16de1c903bfe2d1f231e926adf2b7\"}",
                           &v, &errs);
    dump(&errs);
    REQUIRE(ev);
    char *c = adb__legacy_canonical(ev, &len);
    CHECK_STR(c, "action:\"userLogin\"|organizationId:\"org-67890\"|outcomeDescription:\"User logged "
                 "in successfully\"|principalId:\"user-12345\"|status:\"success\"|targetResourceId:"
                 "\"user-12345\"|targetResourceType:\"User\"|timestamp:\"2023-10-26T10:30:00.000Z\"");
    free(c);
    REQUIRE(adb__keys_derive((const unsigned char *)"0123456789abcdef0123456789abcdef", 32, &k));
    CHECK(adb__event_seal(ev, &k, &errs));
    /* the original's signature: HMAC over the hex text with its secret */
    unsigned char md[32];
    unsigned int mdlen = 0;
    char hex[65];
    const char *secret = "test-secret-key-for-testing-purposes-only";
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)ev->hash, 64, md, &mdlen);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    CHECK_STR(hex, "f28d2a320fda4af94c2f50b867aa72d5f51735118e827eef82b1dd2cf88f0a44");
    adb__event_free(ev);

    /* vector 2: absent fields are null; an organization is still required here */
    ev = build("{\"timestamp\":\"2024-01-01T00:00:00.000Z\",\"action\":\"auth.login.success\","
               "\"status\":\"success\",\"organizationId\":\"\"}", &v, &errs);
    CHECK(ev == NULL && has_error(&errs, "EMPTY_VALUE", "organizationId"));
    adb__event_free(ev);
    adb__event e2;
    memset(&e2, 0, sizeof(e2));
    e2.f[ADB_F_ACTION] = "auth.login.success";
    e2.f[ADB_F_STATUS] = "success";
    REQUIRE(adb__timestamp_parse("2024-01-01T00:00:00.000Z", 24, &e2.ts_us));
    adb__timestamp_format(e2.ts_us, e2.ts_text);
    c = adb__legacy_canonical(&e2, &len);
    char h[65];
    REQUIRE(c);
    adb__sha256_hex(c, len, h);
    CHECK_STR(h, "e42a0f6b79536a31d41356f71ba7636129ce3cc0fc0080a7e048c4bd3326b063");
    free(c);

    /* a wrong legacy hash is refused */
    ev = build("{\"timestamp\":\"2023-10-26T10:30:00.000Z\",\"action\":\"userLogin\",\"status\":"
               "\"success\",\"organizationId\":\"o\",\"hashAlgorithm\":\"SHA-256\",\"hash\":"
               "\"1a5173f0c32c592cbe9d3c03c2af6ab212b16de1c903bfe2d1f231e926adf2b7\"}", &v, &errs);
    REQUIRE(ev);
    CHECK(!adb__event_seal(ev, &k, &errs));
    CHECK(has_error(&errs, "INVALID_VALUE", "hash"));
    adb__event_free(ev);
}

static void timestamps(void)
{
    int64_t us;
    char out[ADB_TS_TEXT_MAX];
    struct { const char *in, *out; } ok[] = {
        { "2024-01-31T10:05:03Z", "2024-01-31T10:05:03.000000Z" },
        { "2024-01-31t10:05:03.5z", "2024-01-31T10:05:03.500000Z" },
        { "2024-01-31T10:05:03.123456789+02:00", "2024-01-31T08:05:03.123456Z" },
        { "2024-01-31T00:30:00-0130", "2024-01-31T02:00:00.000000Z" },
        { "2024-03-01T00:30:00+01", "2024-02-29T23:30:00.000000Z" },
        { "2024-01-31 10:05:03.12+00", "2024-01-31T10:05:03.120000Z" },
        { "1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000001Z" },
        { "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z" },
        { "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z" },
        { "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z" },
        { "2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000000Z" },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK_MSG(adb__timestamp_parse(ok[i].in, strlen(ok[i].in), &us), "%s", ok[i].in);
        adb__timestamp_format(us, out);
        CHECK_STR(out, ok[i].out);
    }
    const char *bad[] = { "2024-01-31T10:05:03", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                          "1900-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-31T24:00:00Z",
                          "2024-01-31T10:60:00Z", "2024-01-31T10:05:60Z", "2024-01-31T10:05:03.Z",
                          "2024-01-31T10:05:03.1234567890Z", "2024-01-31T10:05:03+25:00",
                          "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "yesterday",
                          "2024-1-31T10:05:03Z", "2024-01-31T10:05:03Zjunk", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(!adb__timestamp_parse(bad[i], strlen(bad[i]), &us), "accepted %s", bad[i]);
}

static void validation_errors_name_field_and_rule(void)
{
    adb__validation v = val();
    adb_event_errors e;
    adb__event *ev;
    struct { const char *json, *code, *field; } cases[] = {
        { "{\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\"}", "REQUIRED_FIELD_MISSING", "timestamp" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"status\":\"success\",\"organizationId\":\"o\"}", "REQUIRED_FIELD_MISSING", "action" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"organizationId\":\"o\"}", "REQUIRED_FIELD_MISSING", "status" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\"}", "REQUIRED_FIELD_MISSING", "organizationId" },
        /* present as null is missing (issue 14: null passed, and PostgreSQL refused it) */
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":null,\"status\":\"success\",\"organizationId\":\"o\"}", "REQUIRED_FIELD_MISSING", "action" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":null,\"organizationId\":\"o\"}", "REQUIRED_FIELD_MISSING", "status" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":null}", "REQUIRED_FIELD_MISSING", "organizationId" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"\",\"status\":\"success\",\"organizationId\":\"o\"}", "EMPTY_VALUE", "action" },
        { "{\"timestamp\":12,\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\"}", "INVALID_TYPE", "timestamp" },
        { "{\"timestamp\":\"31/01/2024\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\"}", "INVALID_FORMAT", "timestamp" },
        { "{\"timestamp\":\"2030-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\"}", "INVALID_VALUE", "timestamp" },
        { "{\"timestamp\":\"2001-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\"}", "INVALID_VALUE", "timestamp" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"ok\",\"organizationId\":\"o\"}", "INVALID_VALUE", "status" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":7,\"status\":\"success\",\"organizationId\":\"o\"}", "INVALID_TYPE", "action" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"dataClassification\":\"SECRET\"}", "INVALID_VALUE", "dataClassification" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"eventVersion\":\"3.0\"}", "INVALID_VALUE", "eventVersion" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"details\":[1]}", "INVALID_TYPE", "details" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"details\":{\"x\":{\"y\":{\"z\":{}}}}}", "EXCEEDS_MAX_DEPTH", "details.x" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"details\":{\"ip\":1},\"ip\":2}", "INVALID_VALUE", "ip" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"signature\":\"x\"}", "INVALID_VALUE", "signature" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"hash\":\"x\"}", "INVALID_VALUE", "hash" },
        { "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"sessionContext\":\"s\"}", "INVALID_TYPE", "sessionContext" },
        { "[]", "INVALID_TYPE", "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ev = build(cases[i].json, &v, &e);
        CHECK_MSG(ev == NULL && has_error(&e, cases[i].code, cases[i].field), "case %zu: want %s %s",
                  i, cases[i].code, cases[i].field);
        if (ev)
            adb__event_free(ev);
        else if (!has_error(&e, cases[i].code, cases[i].field))
            dump(&e);
    }
    /* lengths: 255 characters (not bytes) pass, 256 fail; 10000 for outcomeDescription */
    char big[12000 * 2 + 400];
    char name[600];
    size_t n = 0;
    for (int i = 0; i < 255; i++) {
        name[n++] = '\xc3';
        name[n++] = '\xa9';
    }
    name[n] = '\0';
    snprintf(big, sizeof(big), "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"%s\",\"status\":\"success\",\"organizationId\":\"o\"}", name);
    ev = build(big, &v, &e);
    CHECK(ev != NULL);
    adb__event_free(ev);
    snprintf(big, sizeof(big), "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"%se\",\"status\":\"success\",\"organizationId\":\"o\"}", name);
    ev = build(big, &v, &e);
    CHECK(ev == NULL && has_error(&e, "EXCEEDS_MAX_LENGTH", "action"));
    char *outcome = malloc(10002);
    memset(outcome, 'x', 10001);
    outcome[10001] = '\0';
    snprintf(big, sizeof(big), "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\",\"organizationId\":\"o\",\"outcomeDescription\":\"%s\"}", outcome);
    ev = build(big, &v, &e);
    CHECK(ev == NULL && has_error(&e, "EXCEEDS_MAX_LENGTH", "outcomeDescription"));
    free(outcome);
    /* several problems are all reported */
    ev = build("{\"timestamp\":\"x\",\"action\":1,\"status\":\"no\",\"organizationId\":\"o\"}", &v, &e);
    CHECK(ev == NULL && e.count == 3);
}

static void defaults_and_details(void)
{
    adb__validation v = val();
    adb_event_errors e;
    adb__event *ev = build("{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":"
                           "\"failure\",\"organizationId\":\"o\",\"dataClassification\":\"PHI\","
                           "\"sessionContext\":{\"ip\":\"10.0.0.1\"},\"zeta\":1E+3,\"alpha\":[-0.0],"
                           "\"principalId\":\"\"}", &v, &e);
    dump(&e);
    REQUIRE(ev);
    CHECK_STR(ev->f[ADB_F_RETENTION_POLICY], "phi_extended");
    CHECK_STR(ev->f[ADB_F_EVENT_VERSION], "1.0");
    CHECK_STR(ev->f[ADB_F_HASH_ALGORITHM], "sha256-c14n-v3");
    CHECK_STR(ev->f[ADB_F_PRINCIPAL_ID], ""); /* empty is kept, not dropped */
    CHECK(ev->f[ADB_F_CORRELATION_ID] == NULL);
    CHECK_STR(ev->details, "{\"alpha\":[0.0],\"sessionContext\":{\"ip\":\"10.0.0.1\"},\"zeta\":1000}");
    adb__event_free(ev);

    /* the forced tenant fills the organization and refuses another one */
    v.organization_id = "tenant-1";
    ev = build("{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\"}", &v, &e);
    REQUIRE(ev);
    CHECK_STR(ev->f[ADB_F_ORGANIZATION_ID], "tenant-1");
    adb__event_free(ev);
    ev = build("{\"timestamp\":\"2024-01-31T10:00:00Z\",\"action\":\"a\",\"status\":\"success\","
               "\"organizationId\":\"tenant-2\"}", &v, &e);
    CHECK(ev == NULL && has_error(&e, "INVALID_VALUE", "organizationId"));
}

static void presets_fill_and_require(void)
{
    adb__validation v = val();
    adb_event_errors e;
    adb_json_error je;
    char *required[] = { "principalId", "sessionContext" };
    adb__preset p = { "authentication", "*", "auth.generic", "CONFIDENTIAL", required, 2, NULL };
    const char *defaults = "{\"retentionPolicy\":\"auth-logs-1-year\",\"action\":\"auth.generic\"}";
    p.defaults = adb__json_parse(defaults, strlen(defaults), NULL, &je);
    REQUIRE(p.defaults);
    const char *json = "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"status\":\"success\",\"organizationId\":\"o\"}";
    adb_json_doc *doc = adb__json_parse(json, strlen(json), NULL, &je);
    adb__event *ev = adb__event_from_json(adb__json_root(doc), &p, &v, &e);
    CHECK(ev == NULL && has_error(&e, "REQUIRED_FIELD_MISSING", "principalId") &&
          has_error(&e, "REQUIRED_FIELD_MISSING", "sessionContext"));
    adb__json_free(doc);
    json = "{\"timestamp\":\"2024-01-31T10:00:00Z\",\"status\":\"success\",\"organizationId\":\"o\","
           "\"principalId\":\"u\",\"sessionContext\":{\"s\":1}}";
    doc = adb__json_parse(json, strlen(json), NULL, &je);
    ev = adb__event_from_json(adb__json_root(doc), &p, &v, &e);
    dump(&e);
    REQUIRE(ev);
    CHECK_STR(ev->f[ADB_F_ACTION], "auth.generic");
    CHECK_STR(ev->f[ADB_F_RETENTION_POLICY], "auth-logs-1-year");
    CHECK_STR(ev->f[ADB_F_DATA_CLASSIFICATION], "CONFIDENTIAL");
    adb__event_free(ev);
    adb__json_free(doc);
    adb__json_free(p.defaults);
}

static void chain_link_definition(void)
{
    adb__keys k;
    char link[65];

    REQUIRE(adb__keys_derive((const unsigned char *)"0123456789abcdef0123456789abcdef", 32, &k));
    adb__chain_link(&k, "org-1", 1, adb__chain_genesis,
                    "40d8f4c811d4000db28239099570924a3811bdc8cb7d731978a48cbb920c87b9", link);
    /* recomputed independently: HMAC-SHA256(K_chain, "adb-chain-v1\n" org "\n" seq "\n" prev "\n" hash) */
    const char *msg = "adb-chain-v1\norg-1\n1\n0000000000000000000000000000000000000000000000000000000000000000\n"
                      "40d8f4c811d4000db28239099570924a3811bdc8cb7d731978a48cbb920c87b9";
    unsigned char md[32];
    unsigned int mdlen;
    char hex[65];
    HMAC(EVP_sha256(), k.chain, 32, (const unsigned char *)msg, strlen(msg), md, &mdlen);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    CHECK_STR(link, hex);
    char link2[65];
    adb__chain_link(&k, "org-1", 2, adb__chain_genesis,
                    "40d8f4c811d4000db28239099570924a3811bdc8cb7d731978a48cbb920c87b9", link2);
    CHECK(strcmp(link, link2) != 0);
    adb__keys other;
    REQUIRE(adb__keys_derive((const unsigned char *)"another key another key another!", 32, &other));
    CHECK(strcmp(k.fingerprint, other.fingerprint) != 0 && strlen(k.fingerprint) == 32);
}

int main(void)
{
    RUN(docs_example_canonical_form_and_hash);
    RUN(event_ids);
    RUN(legacy_vectors);
    RUN(timestamps);
    RUN(validation_errors_name_field_and_rule);
    RUN(defaults_and_details);
    RUN(presets_fill_and_require);
    RUN(chain_link_definition);
    return t_done();
}
