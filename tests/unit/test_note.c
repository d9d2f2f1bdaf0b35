/*
 * test_note.c - C2SP signed notes, checkpoint bodies and cosignature/v1
 * (src/log/note.c): the signed-note example of ../shared/testdata/merkle
 * verifies and every single bit flipped in it fails; Go's sumdb/note example
 * key signs its text to the published signature byte for byte; malformed
 * notes, verifier keys and checkpoints are refused with their reason; signing
 * and cosigning round trips; unknown keys ignored, a known key's bad
 * signature fatal.
 */
#include <openssl/rand.h>
#include <stdint.h>

#include "../../src/log/note.h"
#include "t.h"

#define EM "\xe2\x80\x94"

/* ../shared/testdata/merkle/README.md, "Signed notes" */
static const char VEC_VKEY[] = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
static const char VEC_NOTE[] =
    "This is an example message.\n"
    "\n" EM " example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

/* golang.org/x/mod/sumdb/note's package example: the private key
 * PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)> and its note */
static const char GO_SEED_B64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char GO_VKEY[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char GO_TEXT[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char GO_LINE[] = EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
                              "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static char err[512];

static adb_status verify1(const char *msg, size_t len, const adb__note_verifier *v)
{
    size_t count = 0;
    return adb__note_verify(msg, len, v, 1, NULL, NULL, NULL, &count, err, sizeof(err));
}

static void make_signer(adb__note_signer *s, const char *name, uint8_t type)
{
    uint8_t seed[32];
    CHECK(RAND_bytes(seed, sizeof(seed)) == 1);
    CHECK(adb__note_signer_init(s, name, type, seed, err, sizeof(err)) == ADB_OK);
}

static void example_vector_verifies(void)
{
    adb__note_verifier v;
    adb__note n;
    bool ok[1];
    size_t count = 0;
    char back[ADB_NOTE_VKEY_MAX];

    REQUIRE(adb__note_vkey_parse(VEC_VKEY, &v, err, sizeof(err)) == ADB_OK);
    CHECK_STR(v.name, "example.com/foo");
    CHECK(v.type == ADB_NOTE_ED25519);
    CHECK(v.key_id == 0x530d903a);
    CHECK(adb__note_key_id("example.com/foo", 0x01, v.pub) == 0x530d903a);
    CHECK(adb__note_vkey_format(&v, back, sizeof(back)));
    CHECK_STR(back, VEC_VKEY);
    CHECK_MSG(adb__note_verify(VEC_NOTE, strlen(VEC_NOTE), &v, 1, &n, ok, NULL, &count, err,
                               sizeof(err)) == ADB_OK, "%s", err);
    CHECK(count == 1 && ok[0]);
    CHECK(n.text_len == strlen("This is an example message.\n"));
    CHECK(n.nsigs == 1);
}

static void example_vector_every_bit_flip_fails(void)
{
    adb__note_verifier v;
    char buf[sizeof(VEC_NOTE)];
    size_t len = strlen(VEC_NOTE), accepted = 0;

    REQUIRE(adb__note_vkey_parse(VEC_VKEY, &v, err, sizeof(err)) == ADB_OK);
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(buf, VEC_NOTE, len + 1);
            buf[i] = (char)(buf[i] ^ (1 << b));
            if (verify1(buf, len, &v) == ADB_OK) {
                accepted++;
                printf("#   flip of bit %d of byte %zu accepted\n", b, i);
            }
        }
    CHECK(accepted == 0);
    /* cut anywhere: refused too */
    for (size_t cut = 0; cut < len; cut++)
        CHECK(verify1(VEC_NOTE, cut, &v) != ADB_OK);
}

static void go_example_signs_byte_for_byte(void)
{
    uint8_t raw[33];
    adb__note_signer s;
    adb__note_verifier v, pv;
    char *note;
    size_t nl;
    char want[512];

    REQUIRE(adb__note_b64_decode(GO_SEED_B64, strlen(GO_SEED_B64), raw, sizeof(raw)) == 33);
    REQUIRE(raw[0] == ADB_NOTE_ED25519);
    REQUIRE(adb__note_signer_init(&s, "PeterNeumann", ADB_NOTE_ED25519, raw + 1, err,
                                  sizeof(err)) == ADB_OK);
    CHECK(s.key_id == 0xc74f20a3);
    adb__note_signer_verifier(&s, &v);
    REQUIRE(adb__note_vkey_parse(GO_VKEY, &pv, err, sizeof(err)) == ADB_OK);
    CHECK(memcmp(v.pub, pv.pub, 32) == 0 && v.key_id == pv.key_id);
    note = adb__note_sign(&s, GO_TEXT, strlen(GO_TEXT), 0, &nl, err, sizeof(err));
    REQUIRE(note);
    snprintf(want, sizeof(want), "%s\n%s", GO_TEXT, GO_LINE);
    CHECK_STR(note, want);
    CHECK(nl == strlen(want));
    CHECK(verify1(note, nl, &pv) == ADB_OK);
    free(note);
    adb__note_signer_free(&s);
}

static void vkeys_malformed_refused(void)
{
    static const char *bad[] = {
        "",
        "example.com/foo",
        "example.com/foo+530d903a",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",                  /* no name */
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",   /* id */
        "example.com/fo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",    /* name */
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",    /* 7 hex */
        "example.com/foo+0530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* 9 hex */
        "example.com/foo+530d903g+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",   /* not hex */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",    /* base64 */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l",   /* bits */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\n", /* newline */
        " example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",       /* space */
        /* Go's: wrong length key and unknown algorithm, both with the id adjusted */
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    };
    adb__note_verifier v;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_MSG(adb__note_vkey_parse(bad[i], &v, err, sizeof(err)) == ADB_ERR_INVALID,
                  "accepted \"%s\"", bad[i]);
        CHECK_MSG(err[0] != '\0', "no reason for \"%s\"", bad[i]);
    }
    /* every truncation and every byte incremented, as Go tests it */
    char buf[sizeof(VEC_VKEY)];
    size_t len = strlen(VEC_VKEY);
    for (size_t i = 0; i < len; i++)
        for (size_t j = i + 1; j <= len; j++) {
            if (i == 0 && j == len)
                continue;
            memcpy(buf, VEC_VKEY + i, j - i);
            buf[j - i] = '\0';
            CHECK_MSG(adb__note_vkey_parse(buf, &v, err, sizeof(err)) != ADB_OK, "accepted %s", buf);
        }
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, VEC_VKEY, len + 1);
        buf[i]++;
        CHECK_MSG(adb__note_vkey_parse(buf, &v, err, sizeof(err)) != ADB_OK, "accepted %s", buf);
    }
    /* the reasons say what is wrong */
    CHECK(adb__note_vkey_parse(bad[4], &v, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "id does not match") != NULL);
}

static void notes_malformed_refused(void)
{
    adb__note_verifier v;
    static const struct {
        const char *note, *reason;
    } bad[] = {
        { "This is an example message.\n" EM " example.com/foo AAAAAAA=\n", "no blank line" },
        { "\n\n" EM " example.com/foo Uw2QOkn8\n", "empty" },
        { "This is an example message.\n\n", "no signature line" },
        { "This is an example message.\n\n- example.com/foo Uw2QOkn8\n", "em dash" },
        { "This is an example message.\n\n" EM "example.com/foo Uw2QOkn8\n", "em dash" },
        { "This is an example message.\n\n" EM " example.com/foo Uw2QOkn8", "newline" },
        { "This is an example message.\n\n" EM " example.com/foo Uw2QOkn=\n", "base64" },
        { "This is an example message.\n\n" EM " example.com/foo Uw2QOg==\n", "key id and a signature" },
        { "This is an example message.\n\n" EM " example.com/foo  Uw2QOkn8\n", "base64" },
        { "This is an example message.\n\n" EM " example+com/foo Uw2QOkn8\n", "key name" },
        { "This is an example message.\n\n" EM "  Uw2QOkn8\n", "key name" },
        { "This is an example message.\n\n" EM " example.com/foo\n", "key name" },
        { "This is an\texample message.\n\n" EM " example.com/foo Uw2QOkn8\n", "control" },
        { "This is an \xff message.\n\n" EM " example.com/foo Uw2QOkn8\n", "UTF-8" },
        { "This is an example message.\r\n\n" EM " example.com/foo Uw2QOkn8\n", "control" },
    };

    REQUIRE(adb__note_vkey_parse(VEC_VKEY, &v, err, sizeof(err)) == ADB_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_MSG(verify1(bad[i].note, strlen(bad[i].note), &v) == ADB_ERR_INVALID,
                  "case %zu accepted or wrong status", i);
        CHECK_MSG(strstr(err, bad[i].reason) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  bad[i].reason);
    }

    /* 100 signatures pass the form check, 101 do not */
    char *big = malloc(200000);
    REQUIRE(big);
    size_t o = (size_t)sprintf(big, "%s", VEC_NOTE);
    for (int i = 1; i < ADB_NOTE_MAX_SIGS; i++)
        o += (size_t)sprintf(big + o, EM " other.example/%d AAAAAAAAAAAA\n", i);
    CHECK_MSG(verify1(big, o, &v) == ADB_OK, "%s", err);
    o += (size_t)sprintf(big + o, EM " one.more/x AAAAAAAAAAAA\n");
    CHECK(verify1(big, o, &v) == ADB_ERR_INVALID);
    CHECK(strstr(err, "more than 100 signatures") != NULL);
    free(big);
}

static void unknown_keys_ignored_known_bad_fatal(void)
{
    adb__note_verifier v;
    char buf[1024];
    adb__note_signer other;

    REQUIRE(adb__note_vkey_parse(VEC_VKEY, &v, err, sizeof(err)) == ADB_OK);
    /* unknown key: same name other id, other name same id, both around the good line */
    snprintf(buf, sizeof(buf), "%s" EM " example.com/foo AAAAAAAAAAAA\n"
             EM " example.com/bar Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n",
             VEC_NOTE);
    CHECK_MSG(verify1(buf, strlen(buf), &v) == ADB_OK, "%s", err);
    /* only unknown keys: not found */
    snprintf(buf, sizeof(buf), "This is an example message.\n\n" EM " example.com/foo AAAAAAAAAAAA\n");
    CHECK(verify1(buf, strlen(buf), &v) == ADB_ERR_NOT_FOUND);
    /* a known key's second, bad signature rejects the note */
    snprintf(buf, sizeof(buf), "%s" EM " example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQQ=\n",
             VEC_NOTE);
    CHECK(verify1(buf, strlen(buf), &v) == ADB_ERR_INVALID);
    CHECK(strstr(err, "does not verify") != NULL);
    /* the right key id with a signature of the wrong length */
    snprintf(buf, sizeof(buf), "This is an example message.\n\n" EM " example.com/foo Uw2QOkn8\n");
    CHECK(verify1(buf, strlen(buf), &v) == ADB_ERR_INVALID);
    /* two verifiers: the other one did not sign, count stays 1 */
    make_signer(&other, "other.example/key", ADB_NOTE_ED25519);
    adb__note_verifier vs[2];
    bool ok[2];
    size_t count = 9;
    vs[0] = v;
    adb__note_signer_verifier(&other, &vs[1]);
    CHECK(adb__note_verify(VEC_NOTE, strlen(VEC_NOTE), vs, 2, NULL, ok, NULL, &count, err,
                           sizeof(err)) == ADB_OK);
    CHECK(count == 1 && ok[0] && !ok[1]);
    adb__note_signer_free(&other);
}

static void sign_verify_round_trip(void)
{
    adb__note_signer s, s2;
    adb__note_verifier v, v2, pv;
    char vk[ADB_NOTE_VKEY_MAX], line[ADB_NOTE_SIGLINE_MAX];
    const char *text = "auditdb.local/acme\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    char *note, *both;
    size_t nl, count = 0;
    bool ok[2];

    make_signer(&s, "auditdb.local", ADB_NOTE_ED25519);
    make_signer(&s2, "second.example/k", ADB_NOTE_ED25519);
    adb__note_signer_verifier(&s, &v);
    adb__note_signer_verifier(&s2, &v2);
    REQUIRE(adb__note_vkey_format(&v, vk, sizeof(vk)));
    CHECK(strncmp(vk, "auditdb.local+", 14) == 0);
    REQUIRE(adb__note_vkey_parse(vk, &pv, err, sizeof(err)) == ADB_OK);
    CHECK(memcmp(&pv, &v, sizeof(v)) == 0);

    note = adb__note_sign(&s, text, strlen(text), 0, &nl, err, sizeof(err));
    REQUIRE(note);
    CHECK(verify1(note, nl, &v) == ADB_OK);
    CHECK(verify1(note, nl, &v2) == ADB_ERR_NOT_FOUND);
    /* a second signature appended: both count */
    REQUIRE(adb__note_sign_line(&s2, text, strlen(text), 0, line, sizeof(line), err, sizeof(err)));
    both = malloc(nl + strlen(line) + 1);
    REQUIRE(both);
    memcpy(both, note, nl);
    strcpy(both + nl, line);
    adb__note_verifier vs[2] = { v, v2 };
    CHECK(adb__note_verify(both, strlen(both), vs, 2, NULL, ok, NULL, &count, err,
                           sizeof(err)) == ADB_OK);
    CHECK(count == 2 && ok[0] && ok[1]);
    free(both);
    free(note);

    /* texts a note cannot carry */
    CHECK(adb__note_sign(&s, "", 0, 0, &nl, err, sizeof(err)) == NULL);
    CHECK(adb__note_sign(&s, "no newline", 10, 0, &nl, err, sizeof(err)) == NULL);
    CHECK(adb__note_sign(&s, "\n", 1, 0, &nl, err, sizeof(err)) == NULL);
    CHECK(adb__note_sign(&s, "a\tb\n", 4, 0, &nl, err, sizeof(err)) == NULL);
    /* names a key cannot have */
    uint8_t seed[32] = { 0 };
    adb__note_signer bad;
    CHECK(adb__note_signer_init(&bad, "a+b", ADB_NOTE_ED25519, seed, err, sizeof(err)) != ADB_OK);
    CHECK(adb__note_signer_init(&bad, "a b", ADB_NOTE_ED25519, seed, err, sizeof(err)) != ADB_OK);
    CHECK(adb__note_signer_init(&bad, "a\xc2\xa0" "b", ADB_NOTE_ED25519, seed, err, sizeof(err)) != ADB_OK);
    CHECK(adb__note_signer_init(&bad, "", ADB_NOTE_ED25519, seed, err, sizeof(err)) != ADB_OK);
    CHECK(adb__note_signer_init(&bad, "ok", 0x02, seed, err, sizeof(err)) != ADB_OK);
    adb__note_signer_free(&s);
    adb__note_signer_free(&s2);
}

static void checkpoint_bodies(void)
{
    uint8_t root[32];
    char body[ADB_CHECKPOINT_BODY_MAX], origin[ADB_NOTE_MAX_ORIGIN + 1];
    adb__checkpoint_body cp;
    size_t bl;

    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)i;
    CHECK(adb__checkpoint_origin("auditdb.local", "acme corp/ü", origin, sizeof(origin)));
    CHECK_STR(origin, "auditdb.local/acme%20corp%2F%C3%BC");
    bl = adb__checkpoint_body_format(origin, 20852163, root, body, sizeof(body));
    REQUIRE(bl > 0);
    CHECK_STR(body, "auditdb.local/acme%20corp%2F%C3%BC\n20852163\n"
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    REQUIRE(adb__checkpoint_body_parse(body, bl, &cp, err, sizeof(err)) == ADB_OK);
    CHECK_STR(cp.origin, origin);
    CHECK(cp.size == 20852163 && memcmp(cp.root, root, 32) == 0 && cp.extensions == 0);

    /* the spec's example, with an extension line */
    const char *spec = "example.com/behind-the-sofa\n20852163\n"
                       "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nsome extension\n";
    CHECK(adb__checkpoint_body_parse(spec, strlen(spec), &cp, err, sizeof(err)) == ADB_OK);
    CHECK(cp.extensions == 1 && cp.size == 20852163);
    const char *zero = "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    CHECK(adb__checkpoint_body_parse(zero, strlen(zero), &cp, err, sizeof(err)) == ADB_OK);
    CHECK(cp.size == 0);

    static const struct {
        const char *text, *reason;
    } bad[] = {
        { "", "UTF-8 text" },
        { "o\n1\n", "at least three lines" },
        { "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "newline" },
        { "\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "line 1" },
        { "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "leading zeroes" },
        { "o\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal" },
        { "o\n1 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal" },
        { "o\n9223372036854775808\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "2^63" },
        { "o\n99999999999999999999\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "2^63" },
        { "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "32 bytes" },
        { "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", "32 bytes" },
        { "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n", "line 4" },
        { "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nx\ty\n", "UTF-8 text" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_MSG(adb__checkpoint_body_parse(bad[i].text, strlen(bad[i].text), &cp, err,
                                             sizeof(err)) == ADB_ERR_INVALID, "case %zu accepted", i);
        CHECK_MSG(strstr(err, bad[i].reason) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  bad[i].reason);
    }
    CHECK(adb__checkpoint_body_format("", 1, root, body, sizeof(body)) == 0);
    CHECK(adb__checkpoint_body_format("a\nb", 1, root, body, sizeof(body)) == 0);
}

static void cosignatures(void)
{
    adb__note_signer log, wit;
    adb__note_verifier lv, wv, wv_as_plain;
    char body[ADB_CHECKPOINT_BODY_MAX], line[ADB_NOTE_SIGLINE_MAX], vk[ADB_NOTE_VKEY_MAX];
    uint8_t root[32] = { 1, 2, 3 };
    char *note, *cos;
    size_t bl, nl, count;
    bool ok[2];
    uint64_t times[2];

    make_signer(&log, "auditdb.local", ADB_NOTE_ED25519);
    make_signer(&wit, "witness.example/w1", ADB_NOTE_COSIG_V1);
    adb__note_signer_verifier(&log, &lv);
    adb__note_signer_verifier(&wit, &wv);
    /* the witness's vkey says type 0x04 and parses back */
    REQUIRE(adb__note_vkey_format(&wv, vk, sizeof(vk)));
    REQUIRE(adb__note_vkey_parse(vk, &wv_as_plain, err, sizeof(err)) == ADB_OK);
    CHECK(wv_as_plain.type == ADB_NOTE_COSIG_V1 && wv_as_plain.key_id == wv.key_id);
    /* the same key as a plain note key has another key id */
    CHECK(adb__note_key_id(wv.name, ADB_NOTE_ED25519, wv.pub) != wv.key_id);

    bl = adb__checkpoint_body_format("auditdb.local/acme", 5, root, body, sizeof(body));
    REQUIRE(bl);
    note = adb__note_sign(&log, body, bl, 0, &nl, err, sizeof(err));
    REQUIRE(note);
    REQUIRE(adb__cosign(&wit, body, bl, 1679315147, line, sizeof(line), err, sizeof(err)));
    /* a plain key cannot cosign */
    CHECK(adb__cosign(&log, body, bl, 1, line + 0, 0, err, sizeof(err)) == 0);
    cos = malloc(nl + strlen(line) + 1);
    REQUIRE(cos);
    memcpy(cos, note, nl);
    strcpy(cos + nl, line);
    adb__note_verifier vs[2] = { lv, wv };
    CHECK_MSG(adb__note_verify(cos, strlen(cos), vs, 2, NULL, ok, times, &count, err,
                               sizeof(err)) == ADB_OK, "%s", err);
    CHECK(count == 2 && ok[0] && ok[1] && times[0] == 0 && times[1] == 1679315147);

    /* the signed message is cosignature/v1, the time line, the body */
    size_t ml;
    char *m = adb__cosig_message(body, bl, 1679315147, &ml);
    REQUIRE(m);
    CHECK(strncmp(m, "cosignature/v1\ntime 1679315147\nauditdb.local/acme\n5\n", 52) == 0);
    free(m);

    /* the timestamp is signed: change it in the line and the signature fails */
    adb__note n;
    REQUIRE(adb__note_parse(cos, strlen(cos), &n, err, sizeof(err)) == ADB_OK);
    uint8_t raw[76];
    REQUIRE(adb__note_b64_decode(n.sigs[1].b64, n.sigs[1].b64_len, raw, sizeof(raw)) == 76);
    CHECK(raw[4] == 0 && raw[11] == (uint8_t)(1679315147 & 0xff));
    raw[11] ^= 1;
    char b64[128], forged[1024];
    adb__note_b64_encode(raw, 76, b64);
    snprintf(forged, sizeof(forged), "%s" EM " witness.example/w1 %s\n", note, b64);
    CHECK(adb__note_verify(forged, strlen(forged), vs, 2, NULL, ok, times, &count, err,
                           sizeof(err)) == ADB_ERR_INVALID);
    /* a cosignature over another body fails */
    char body2[ADB_CHECKPOINT_BODY_MAX];
    size_t bl2 = adb__checkpoint_body_format("auditdb.local/acme", 6, root, body2, sizeof(body2));
    REQUIRE(adb__cosign(&wit, body2, bl2, 1679315147, line, sizeof(line), err, sizeof(err)));
    snprintf(forged, sizeof(forged), "%s%s", note, line);
    CHECK(adb__note_verify(forged, strlen(forged), vs, 2, NULL, ok, times, &count, err,
                           sizeof(err)) == ADB_ERR_INVALID);
    /* timestamps above 2^63 - 1 are refused */
    CHECK(adb__cosign(&wit, body, bl, (uint64_t)INT64_MAX + 1, line, sizeof(line), err,
                      sizeof(err)) == 0);

    free(cos);
    free(note);
    adb__note_signer_free(&log);
    adb__note_signer_free(&wit);
}

static void spec_cosignature_example_parses(void)
{
    /* c2sp.org/tlog-cosignature's example line: its key is not published, but
     * its timestamp is the one of the example's signed message */
    const char *cp = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
                     EM " example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
                     EM " witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    adb__note n;
    uint8_t raw[76];

    REQUIRE(adb__note_parse(cp, strlen(cp), &n, err, sizeof(err)) == ADB_OK);
    CHECK(n.nsigs == 2);
    REQUIRE(adb__note_b64_decode(n.sigs[1].b64, n.sigs[1].b64_len, raw, sizeof(raw)) == 76);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | raw[4 + i];
    CHECK(t == 1679315147);
}

static void base64_strict(void)
{
    uint8_t out[8];
    char enc[16];

    CHECK(adb__note_b64_decode("", 0, out, sizeof(out)) == 0);
    CHECK(adb__note_b64_decode("YQ==", 4, out, sizeof(out)) == 1 && out[0] == 'a');
    CHECK(adb__note_b64_decode("YR==", 4, out, sizeof(out)) == -1);
    CHECK(adb__note_b64_decode("YWI=", 4, out, sizeof(out)) == 2);
    CHECK(adb__note_b64_decode("YWJ=", 4, out, sizeof(out)) == -1);
    CHECK(adb__note_b64_decode("YQ=", 3, out, sizeof(out)) == -1);
    CHECK(adb__note_b64_decode("YQ==YQ==", 8, out, sizeof(out)) == -1);
    CHECK(adb__note_b64_decode("Y Q=", 4, out, sizeof(out)) == -1);
    CHECK(adb__note_b64_decode("YWJj", 4, out, 2) == -1);
    CHECK(adb__note_b64_encode((const uint8_t *)"abcd", 4, enc) == 8);
    CHECK_STR(enc, "YWJjZA==");
}

int main(void)
{
    RUN(example_vector_verifies);
    RUN(example_vector_every_bit_flip_fails);
    RUN(go_example_signs_byte_for_byte);
    RUN(vkeys_malformed_refused);
    RUN(notes_malformed_refused);
    RUN(unknown_keys_ignored_known_bad_fatal);
    RUN(sign_verify_round_trip);
    RUN(checkpoint_bodies);
    RUN(cosignatures);
    RUN(spec_cosignature_example_parses);
    RUN(base64_strict);
    return t_done();
}
