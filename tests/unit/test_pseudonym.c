/*
 * test_pseudonym.c - the pure parts of pseudonymization (src/compliance/
 * pseudonym.c, org_keys.c): the three strategies, their keys per
 * organization, the AES-256-GCM pseudonym's round trip and its binding.
 */
#include "t.h"
#include "compliance/org_keys.h"
#include "compliance/pseudonym.h"
#include "core/util.h"

static adb__keys keys_of(const char *master)
{
    adb__keys k;
    memset(&k, 0, sizeof(k));
    if (!adb__keys_derive((const unsigned char *)master, strlen(master), &k))
        printf("# could not derive keys\n");
    return k;
}

static void strategies_parse(void)
{
    adb__psn_strategy s;
    CHECK(adb__psn_strategy_parse("hash", &s) && s == ADB_PSN_HASH);
    CHECK(adb__psn_strategy_parse("token", &s) && s == ADB_PSN_TOKEN);
    CHECK(adb__psn_strategy_parse("tokenize", &s) && s == ADB_PSN_TOKEN);
    CHECK(adb__psn_strategy_parse("encryption", &s) && s == ADB_PSN_ENCRYPTION);
    CHECK(adb__psn_strategy_parse("encrypt", &s) && s == ADB_PSN_ENCRYPTION);
    CHECK(!adb__psn_strategy_parse("mask", &s));
    CHECK(!adb__psn_strategy_parse("", &s));
    CHECK(!adb__psn_strategy_parse(NULL, &s));
    CHECK(!adb__psn_strategy_parse("HASH", &s));
}

static bool only_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (adb__hexval(s[i]) < 0)
            return false;
    return s[n] == '\0';
}

/* hash: keyed per organization, deterministic within one, never the bare
 * SHA-256 of the identifier; another master key gives another pseudonym */
static void hash_is_keyed_per_org(void)
{
    adb__keys k1 = keys_of("0123456789abcdef0123456789abcdef-master-one");
    adb__keys k2 = keys_of("0123456789abcdef0123456789abcdef-master-two");
    char a[ADB_PSEUDONYM_MAX], a2[ADB_PSEUDONYM_MAX], b[ADB_PSEUDONYM_MAX], c[ADB_PSEUDONYM_MAX];
    char bare[65];

    REQUIRE(adb__pseudonym_make(&k1, "org-a", ADB_PSN_HASH, "alice", a));
    REQUIRE(adb__pseudonym_make(&k1, "org-a", ADB_PSN_HASH, "alice", a2));
    REQUIRE(adb__pseudonym_make(&k1, "org-b", ADB_PSN_HASH, "alice", b));
    REQUIRE(adb__pseudonym_make(&k2, "org-a", ADB_PSN_HASH, "alice", c));
    CHECK(!strncmp(a, "psn-h-", 6) && only_hex(a + 6, 32));
    CHECK_STR(a, a2);
    CHECK(strcmp(a, b) != 0);
    CHECK(strcmp(a, c) != 0);
    adb__sha256_hex("alice", 5, bare);
    CHECK(strncmp(a + 6, bare, 32) != 0);
    CHECK(!adb__pseudonym_make(&k1, "org-a", ADB_PSN_HASH, "", a));
}

static void token_is_random(void)
{
    adb__keys k = keys_of("0123456789abcdef0123456789abcdef-master-one");
    char a[ADB_PSEUDONYM_MAX], b[ADB_PSEUDONYM_MAX];

    REQUIRE(adb__pseudonym_make(&k, "org-a", ADB_PSN_TOKEN, "alice", a));
    REQUIRE(adb__pseudonym_make(&k, "org-a", ADB_PSN_TOKEN, "alice", b));
    CHECK(!strncmp(a, "psn-t-", 6) && only_hex(a + 6, 32)); /* 128 bits */
    CHECK(strcmp(a, b) != 0);
}

static size_t unhex(const char *s, unsigned char *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(adb__hexval(s[2 * i]) << 4 | adb__hexval(s[2 * i + 1]));
    return n;
}

/* encryption: AES-256-GCM under the organization's key, bound to it; a
 * flipped byte or another organization does not open */
static void encryption_round_trip_and_binding(void)
{
    adb__keys k = keys_of("0123456789abcdef0123456789abcdef-master-one");
    char p[ADB_PSEUDONYM_MAX], p2[ADB_PSEUDONYM_MAX], *out = NULL;
    unsigned char ct[ADB_PSEUDONYM_MAX];

    REQUIRE(adb__pseudonym_make(&k, "org-a", ADB_PSN_ENCRYPTION, "alice", p));
    REQUIRE(adb__pseudonym_make(&k, "org-a", ADB_PSN_ENCRYPTION, "alice", p2));
    CHECK(!strncmp(p, "psn-e-", 6));
    CHECK(strcmp(p, p2) != 0); /* a fresh nonce each time */
    size_t n = unhex(p + 6, ct);
    CHECK(n == 12 + 5 + 16);
    REQUIRE(adb__org_open(&k, "org-a", ADB_ORGKEY_PSEUDONYM, "pseudonym\norg-a", ct, n, &out));
    CHECK_STR(out, "alice");
    free(out);
    out = NULL;
    CHECK(!adb__org_open(&k, "org-b", ADB_ORGKEY_PSEUDONYM, "pseudonym\norg-b", ct, n, &out));
    CHECK(!adb__org_open(&k, "org-a", ADB_ORGKEY_PSEUDONYM, "pseudonym\norg-b", ct, n, &out));
    ct[14] ^= 1;
    CHECK(!adb__org_open(&k, "org-a", ADB_ORGKEY_PSEUDONYM, "pseudonym\norg-a", ct, n, &out));
    CHECK(out == NULL);
}

int main(void)
{
    RUN(strategies_parse);
    RUN(hash_is_keyed_per_org);
    RUN(token_is_random);
    RUN(encryption_round_trip_and_binding);
    return t_done();
}
