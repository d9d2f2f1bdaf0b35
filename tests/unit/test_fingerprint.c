/*
 * test_fingerprint.c - the error fingerprint (src/monitor/fingerprint.c):
 * each varying part of a message stripped, what must stay kept, the key's
 * version prefix, and that messages differing only in ids share a key while
 * a different code, component or operation does not. Issue 20.
 */
#include "t.h"
#include "monitor/fingerprint.h"

#include <stdio.h>

/* computed independently: python3 -c "import hashlib; print(hashlib.sha256(b'v1\\nDATABASE_ERROR\\nPG_CONN_LOST\\nwriter\\ncommit\\ncould not connect to server: timeout after <n> ms').hexdigest()[:32])" */
#define FINGERPRINT_V1_VECTOR "v1-b8fe549733c99e42c781ef98d7964f3a"

static void norm(const char *in, const char *want)
{
    char out[ADB_ERROR_PATTERN_MAX];
    adb__error_normalize(in, out, sizeof(out));
    CHECK_MSG(strcmp(out, want) == 0, "normalize(%s) = [%s], want [%s]", in, out, want);
}

static void strips_varying_parts(void)
{
    norm("could not connect to server: timeout after 5000 ms",
         "could not connect to server: timeout after <n> ms");
    norm("row 12.5 of 300", "row <n> of <n>");
    norm("event 3f2504e0-4f89-11d3-9a0c-0305e82c3301 not found", "event <uuid> not found");
    norm("event 3F2504E0-4F89-11D3-9A0C-0305E82C3301", "event <uuid>");
    norm("at 2026-12-07T19:53:08.123456Z failed", "at <ts> failed");
    norm("at 2026-12-07 19:53:08+01:00 failed", "at <ts> failed");
    norm("at 2026-12-07 failed", "at <ts> failed");
    norm("started 19:53:08.5 ended 20:00", "started <ts> ended <ts>");
    norm("connect 10.0.0.12:5432 refused", "connect <ip> refused");
    norm("connect 192.168.1.1 refused", "connect <ip> refused");
    norm("connect fe80::1%eth0 and 2001:db8::ff00:42:8329 and ::1", "connect <ip>%eth<n> and <ip> and <ip>");
    norm("key k_ab12cd34ef56 revoked", "key k_<n> revoked");
    norm("key k_abcdefab and k_12345678 and k_ab12cd", "key k_<n> and k_<n> and k_<n>");
    norm("commit 0xDEADBEEF and 9f86d081884c7d65", "commit <n> and <n>");
    norm("relation \"audit_log_2026_12\" does not exist", "relation \"?\" does not exist");
    norm("value 'Bob O''Neil' rejected", "value '?''?' rejected");
    norm("unterminated 'quote 42", "unterminated 'quote <n>");
    norm("  many \t spaces\n\nhere  ", "many spaces here");
    norm("org-123 / dest 7: HTTP 503", "org-<n> / dest <n>: HTTP <n>");
    norm(NULL, "");
    /* kept: words, words with letters only, short hex-looking words */
    norm("failed facade cafe add bad ab12", "failed facade cafe add bad ab<n>");
    norm("std::vector Error::Foo", "std::vector Error::Foo");
}

static void bounded(void)
{
    char big[2000], out[16];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(adb__error_normalize(big, out, sizeof(out)) == 15);
    CHECK(strlen(out) == 15);
    /* a multibyte character cut in half is dropped, not half-written */
    char u[] = "abcdefghijklmn\xc3\xa9xyz"; /* é at bytes 14-15 */
    CHECK(adb__error_normalize(u, out, sizeof(out)) == 14);
    CHECK_STR(out, "abcdefghijklmn");
    char tiny[1];
    CHECK(adb__error_normalize("x", tiny, sizeof(tiny)) == 0);
    CHECK(tiny[0] == '\0');
}

static void keys(void)
{
    char a[ADB_ERROR_PATTERN_MAX], b[ADB_ERROR_PATTERN_MAX];
    char k1[ADB_ERROR_KEY_MAX], k2[ADB_ERROR_KEY_MAX], k3[ADB_ERROR_KEY_MAX];

    adb__error_normalize("delivery 17 to 10.1.2.3 failed: HTTP 500", a, sizeof(a));
    adb__error_normalize("delivery 912 to 172.16.0.9 failed: HTTP 502", b, sizeof(b));
    CHECK_STR(a, b);
    adb__error_fingerprint("DELIVERY_ERROR", "HTTP_5XX", "delivery", "deliver", a, k1);
    adb__error_fingerprint("DELIVERY_ERROR", "HTTP_5XX", "delivery", "deliver", b, k2);
    CHECK_STR(k1, k2);
    CHECK(strncmp(k1, "v1-", 3) == 0 && strlen(k1) == 35);
    adb__error_fingerprint("DELIVERY_ERROR", "HTTP_5XX", "delivery", "enqueue", a, k3);
    CHECK(strcmp(k1, k3) != 0);
    adb__error_fingerprint("DELIVERY_ERROR", "HTTP_4XX", "delivery", "deliver", a, k3);
    CHECK(strcmp(k1, k3) != 0);
    adb__error_fingerprint("DELIVERY_ERROR", "HTTP_5XX", "writer", "deliver", a, k3);
    CHECK(strcmp(k1, k3) != 0);
    /* members are separated: moving text between them changes the key */
    adb__error_fingerprint("A", "BC", "x", "y", "", k2);
    adb__error_fingerprint("AB", "C", "x", "y", "", k3);
    CHECK(strcmp(k2, k3) != 0);
    /* the published vector of version 1: a change of the normalization or the key must bump
     * ADB_ERROR_FINGERPRINT_VERSION (docs/monitoring.md) */
    adb__error_fingerprint("DATABASE_ERROR", "PG_CONN_LOST", "writer", "commit",
                           "could not connect to server: timeout after <n> ms", k2);
    printf("# v1 vector: %s\n", k2);
    CHECK_STR(k2, FINGERPRINT_V1_VECTOR);
}

int main(void)
{
    RUN(strips_varying_parts);
    RUN(bounded);
    RUN(keys);
    return t_done();
}
