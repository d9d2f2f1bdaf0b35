/*
 * test_compliance.c - the pure parts of issue 17's compliance code: the
 * per-organization subject keys (subject_key.c) and the HIPAA accounting's
 * exclusions, suspensions and summary form (hipaa_accounting.c).
 */
#include "t.h"
#include "compliance/hipaa.h"
#include "compliance/subject_key.h"

#include <jansson.h>

static adb__keys keys_of(const char *master)
{
    adb__keys k;
    memset(&k, 0, sizeof(k));
    if (!adb__keys_derive((const unsigned char *)master, strlen(master), &k))
        printf("# could not derive keys\n");
    return k;
}

static void subject_index_is_keyed_per_org(void)
{
    adb__keys k1 = keys_of("0123456789abcdef0123456789abcdef-master-one");
    adb__keys k2 = keys_of("0123456789abcdef0123456789abcdef-master-two");
    unsigned char a[32], b[32], c[32], a2[32];

    REQUIRE(adb__subject_index(&k1, "org-a", "alice", a));
    REQUIRE(adb__subject_index(&k1, "org-b", "alice", b));
    REQUIRE(adb__subject_index(&k2, "org-a", "alice", c));
    REQUIRE(adb__subject_index(&k1, "org-a", "alice", a2));
    CHECK(memcmp(a, a2, 32) == 0);  /* deterministic: a lookup finds it again */
    CHECK(memcmp(a, b, 32) != 0);   /* two organizations: unlinkable */
    CHECK(memcmp(a, c, 32) != 0);   /* another master key: another index */
    /* org "a\nb" with subject "c" must not collide with org "a" and subject "b\nc" */
    unsigned char x[32], y[32];
    REQUIRE(adb__subject_index(&k1, "a\nb", "c", x));
    REQUIRE(adb__subject_index(&k1, "a", "b\nc", y));
    CHECK(memcmp(x, y, 32) != 0);
    CHECK(!adb__subject_index(&k1, "", "alice", x));
    CHECK(!adb__subject_index(&k1, "org-a", "", x));
    unsigned char kk[32];
    CHECK(!adb__org_key(&k1, "org-a", "bad purpose", kk));
    CHECK(adb__org_key(&k1, "org-a", "pseudonym", kk));
}

static void subject_seal_round_trip_and_binding(void)
{
    adb__keys k1 = keys_of("0123456789abcdef0123456789abcdef-master-one");
    adb__keys k2 = keys_of("0123456789abcdef0123456789abcdef-master-two");
    size_t n1 = 0, n2 = 0;
    unsigned char *s1 = adb__subject_seal(&k1, "org-a", "patient-42", &n1);
    unsigned char *s2 = adb__subject_seal(&k1, "org-a", "patient-42", &n2);
    char *o;

    REQUIRE(s1 && s2);
    CHECK(n1 == strlen("patient-42") + ADB_SUBJECT_ENC_OVERHEAD);
    CHECK(n1 == n2 && memcmp(s1, s2, n1) != 0); /* a random nonce each time */
    o = adb__subject_open(&k1, "org-a", s1, n1);
    CHECK_STR(o, "patient-42");
    free(o);
    CHECK(adb__subject_open(&k1, "org-b", s1, n1) == NULL); /* moved to another org */
    CHECK(adb__subject_open(&k2, "org-a", s1, n1) == NULL); /* another master key */
    for (size_t i = 0; i < n1; i++) {                       /* every byte flipped */
        s1[i] ^= 0x01;
        o = adb__subject_open(&k1, "org-a", s1, n1);
        CHECK_MSG(o == NULL, "flip at %zu opened", i);
        free(o);
        s1[i] ^= 0x01;
    }
    CHECK(adb__subject_open(&k1, "org-a", s1, 10) == NULL);
    free(s1);
    free(s2);
}

static void exclusions_name_their_clause(void)
{
    CHECK_STR(adb__hipaa_exclusion("treatment"), "(a)(1)(i)");
    CHECK_STR(adb__hipaa_exclusion("payment"), "(a)(1)(i)");
    CHECK_STR(adb__hipaa_exclusion("operations"), "(a)(1)(i)");
    CHECK_STR(adb__hipaa_exclusion("individual"), "(a)(1)(ii)");
    CHECK_STR(adb__hipaa_exclusion("incidental"), "(a)(1)(iii)");
    CHECK_STR(adb__hipaa_exclusion("authorization"), "(a)(1)(iv)");
    CHECK_STR(adb__hipaa_exclusion("directory"), "(a)(1)(v)");
    CHECK_STR(adb__hipaa_exclusion("national_security"), "(a)(1)(vi)");
    CHECK_STR(adb__hipaa_exclusion("correctional"), "(a)(1)(vii)");
    CHECK_STR(adb__hipaa_exclusion("limited_data_set"), "(a)(1)(viii)");
    CHECK(adb__hipaa_exclusion("public_health") == NULL);
    CHECK(adb__hipaa_exclusion("Treatment") == NULL); /* exact values only */
    CHECK(adb__hipaa_exclusion(NULL) == NULL);        /* unknown basis: accounted for */
}

static void recipient_keys_fold(void)
{
    char k[64];
    adb__hipaa_recipient_key("  State  Health\tDept ", k, sizeof(k));
    CHECK_STR(k, "state health dept");
    adb__hipaa_recipient_key(NULL, k, sizeof(k));
    CHECK_STR(k, "");
    adb__hipaa_recipient_key("ABCDEFGH", k, 4);
    CHECK_STR(k, "abc");
}

static void summary_form_and_suspension(void)
{
    const adb__disclosure d[] = {
        { "e1", "2026-01-05T10:00:00.000000Z", "State Registry", "1 Main St", "immunizations", "public health reporting", "public_health" },
        { "e2", "2026-01-06T10:00:00.000000Z", "Dr. Who", NULL, "chart", "treatment", "treatment" },
        { "e3", "2026-02-05T10:00:00.000000Z", "state registry", NULL, "immunizations", "public health reporting", "public_health" },
        { "e4", "2026-03-01T10:00:00.000000Z", "County Police", NULL, "ED visit", "law enforcement", "law_enforcement" },
        { "e5", "2026-03-05T10:00:00.000000Z", "State Registry", NULL, "lab", "research", "research" },
        { "e6", "2026-04-05T10:00:00.000000Z", "State  Registry", NULL, "immunizations", "public health reporting", "public_health" },
        { "e7", "2026-04-06T10:00:00.000000Z", "Court", NULL, "records", "subpoena", NULL },
    };
    const char *susp[] = { "county police" };
    adb__hipaa_counts c;
    json_t *a = adb__hipaa_accounting(d, 7, susp, 1, &c);

    REQUIRE(a);
    CHECK(c.excluded == 1);
    CHECK(c.suspended == 1);
    CHECK(c.listed == 5);
    CHECK(c.entries == 3);
    REQUIRE(json_array_size(a) == 3);
    json_t *s = json_array_get(a, 0);
    CHECK_STR(json_string_value(json_object_get(s, "eventId")), "e1");
    json_t *sum = json_object_get(s, "summary");
    CHECK(json_integer_value(json_object_get(sum, "count")) == 3);
    CHECK_STR(json_string_value(json_object_get(sum, "lastDate")), "2026-04-05T10:00:00.000000Z");
    CHECK_STR(json_string_value(json_object_get(json_object_get(s, "recipient"), "address")), "1 Main St");
    /* same recipient, another purpose: an entry of its own, no summary */
    CHECK_STR(json_string_value(json_object_get(json_array_get(a, 1), "eventId")), "e5");
    CHECK(json_is_null(json_object_get(json_array_get(a, 1), "summary")));
    /* no basis: accounted for */
    CHECK_STR(json_string_value(json_object_get(json_array_get(a, 2), "eventId")), "e7");
    json_decref(a);

    a = adb__hipaa_accounting(d, 0, NULL, 0, &c);
    CHECK(a && json_array_size(a) == 0 && c.entries == 0);
    json_decref(a);
}

int main(void)
{
    RUN(subject_index_is_keyed_per_org);
    RUN(subject_seal_round_trip_and_binding);
    RUN(exclusions_name_their_clause);
    RUN(recipient_keys_fold);
    RUN(summary_form_and_suspension);
    return t_done();
}
