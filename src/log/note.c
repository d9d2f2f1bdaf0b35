/*
 * note.c - C2SP signed notes, checkpoint bodies and cosignature/v1 (note.h).
 *
 * Parsing follows c2sp.org/signed-note: the text ends at the last blank
 * line, every signature line is checked for form before any is verified,
 * unknown keys are skipped (a key is its name and key id together) and a
 * known key whose signature fails rejects the whole note. Ed25519 is
 * OpenSSL's (EVP_PKEY_ED25519, one-shot EVP_DigestSign with no digest).
 */
#include "note.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/digest.h"
#include "../core/util.h"

static const char EM_DASH[] = "\xe2\x80\x94"; /* U+2014 */

/* --- base64 ---------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t adb__note_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long adb__note_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;

    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int a = b64val(s[i]), b = b64val(s[i + 1]), c, d;
        if (a < 0 || b < 0)
            return -1;
        if (last && s[i + 2] == '=' && s[i + 3] == '=') {
            if (b & 15) /* unused bits must be zero: one text per value */
                return -1;
            if (o + 1 > cap)
                return -1;
            out[o++] = (uint8_t)(a << 2 | b >> 4);
            break;
        }
        c = b64val(s[i + 2]);
        if (c < 0)
            return -1;
        if (last && s[i + 3] == '=') {
            if (c & 3)
                return -1;
            if (o + 2 > cap)
                return -1;
            out[o++] = (uint8_t)(a << 2 | b >> 4);
            out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
            break;
        }
        d = b64val(s[i + 3]);
        if (d < 0 || o + 3 > cap)
            return -1;
        out[o++] = (uint8_t)(a << 2 | b >> 4);
        out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
        out[o++] = (uint8_t)((c & 3) << 6 | d);
    }
    return (long)o;
}

/* --- names and key ids ----------------------------------------------------- */

/* The code point of the valid UTF-8 sequence of n bytes at s. */
static uint32_t codepoint(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    if (n == 2)
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    if (n == 3)
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Unicode White_Space (what Go's unicode.IsSpace accepts). */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

static bool name_valid(const char *name, size_t len)
{
    if (len == 0 || len > ADB_NOTE_MAX_NAME)
        return false;
    for (size_t i = 0; i < len;) {
        size_t n = adb__utf8_seq(name + i, len - i);
        if (n == 0)
            return false;
        uint32_t c = codepoint((const unsigned char *)name + i, n);
        if (c < 0x20 || c == 0x7f || c == '+' || is_space(c))
            return false;
        i += n;
    }
    return true;
}

bool adb__note_name_valid(const char *name)
{
    return name && name_valid(name, strnlen(name, ADB_NOTE_MAX_NAME + 1));
}

uint32_t adb__note_key_id(const char *name, uint8_t type, const uint8_t pub[32])
{
    size_t nl = strlen(name);
    uint8_t buf[ADB_NOTE_MAX_NAME + 2 + 32], md[32];

    if (nl > ADB_NOTE_MAX_NAME)
        return 0;
    memcpy(buf, name, nl);
    buf[nl] = '\n';
    buf[nl + 1] = type;
    memcpy(buf + nl + 2, pub, 32);
    if (!adb__sha256(buf, nl + 2 + 32, md))
        return 0;
    return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
}

/* --- keys ------------------------------------------------------------------ */

static bool type_known(uint8_t type)
{
    return type == ADB_NOTE_ED25519 || type == ADB_NOTE_COSIG_V1;
}

adb_status adb__note_signer_init(adb__note_signer *s, const char *name, uint8_t type,
                                 const uint8_t seed[32], char *err, size_t errlen)
{
    size_t publen = 32;
    EVP_PKEY *pk;

    memset(s, 0, sizeof(*s));
    if (!adb__note_name_valid(name)) {
        adb__fmt(err, errlen, "invalid key name: it must be 1 to %d bytes of UTF-8 without "
                 "spaces, '+' or control characters", ADB_NOTE_MAX_NAME);
        return ADB_ERR_INVALID;
    }
    if (!type_known(type)) {
        adb__fmt(err, errlen, "unsupported signature type 0x%02x", type);
        return ADB_ERR_INVALID;
    }
    pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!pk || EVP_PKEY_get_raw_public_key(pk, s->pub, &publen) != 1 || publen != 32) {
        EVP_PKEY_free(pk);
        adb__fmt(err, errlen, "could not make an Ed25519 key (OpenSSL)");
        return ADB_ERR_INTERNAL;
    }
    memcpy(s->name, name, strlen(name) + 1);
    s->type = type;
    s->key_id = adb__note_key_id(name, type, s->pub);
    s->pkey = pk;
    return ADB_OK;
}

void adb__note_signer_free(adb__note_signer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->pkey); /* OpenSSL clears the private key it frees */
    OPENSSL_cleanse(s, sizeof(*s));
}

void adb__note_signer_verifier(const adb__note_signer *s, adb__note_verifier *v)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->name, s->name, sizeof(v->name));
    v->type = s->type;
    v->key_id = s->key_id;
    memcpy(v->pub, s->pub, 32);
}

adb_status adb__note_verifier_init(adb__note_verifier *v, const char *name, uint8_t type,
                                   const uint8_t pub[32], char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    if (!adb__note_name_valid(name)) {
        adb__fmt(err, errlen, "invalid key name");
        return ADB_ERR_INVALID;
    }
    if (!type_known(type)) {
        adb__fmt(err, errlen, "unsupported signature type 0x%02x", type);
        return ADB_ERR_INVALID;
    }
    memcpy(v->name, name, strlen(name) + 1);
    v->type = type;
    memcpy(v->pub, pub, 32);
    v->key_id = adb__note_key_id(name, type, pub);
    return ADB_OK;
}

bool adb__note_vkey_format(const adb__note_verifier *v, char *out, size_t cap)
{
    uint8_t raw[33];
    char b64[48];

    raw[0] = v->type;
    memcpy(raw + 1, v->pub, 32);
    adb__note_b64_encode(raw, sizeof(raw), b64);
    return adb__fmt(out, cap, "%s+%08x+%s", v->name, (unsigned)v->key_id, b64);
}

adb_status adb__note_vkey_parse(const char *text, adb__note_verifier *v, char *err, size_t errlen)
{
    const char *p1, *p2;
    uint8_t raw[34];
    uint32_t id = 0;
    long n;

    memset(v, 0, sizeof(*v));
    if (!text || !(p1 = strchr(text, '+')) || !(p2 = strchr(p1 + 1, '+'))) {
        adb__fmt(err, errlen, "a verifier key has the form name+keyid+base64key");
        return ADB_ERR_INVALID;
    }
    if (!name_valid(text, (size_t)(p1 - text))) {
        adb__fmt(err, errlen, "the verifier key's name is not a valid key name");
        return ADB_ERR_INVALID;
    }
    if (p2 - p1 - 1 != 8) {
        adb__fmt(err, errlen, "the verifier key's id must be 8 hex digits");
        return ADB_ERR_INVALID;
    }
    for (const char *c = p1 + 1; c < p2; c++) {
        int h = adb__hexval(*c);
        if (h < 0) {
            adb__fmt(err, errlen, "the verifier key's id must be 8 hex digits");
            return ADB_ERR_INVALID;
        }
        id = id << 4 | (uint32_t)h;
    }
    n = adb__note_b64_decode(p2 + 1, strlen(p2 + 1), raw, sizeof(raw));
    if (n < 0) {
        adb__fmt(err, errlen, "the verifier key's key is not canonical base64");
        return ADB_ERR_INVALID;
    }
    if (n < 1 || !type_known(raw[0])) {
        adb__fmt(err, errlen, "the verifier key's type is not Ed25519 (0x01) or an Ed25519 "
                 "cosignature (0x04)");
        return ADB_ERR_INVALID;
    }
    if (n != 33) {
        adb__fmt(err, errlen, "the verifier key's Ed25519 public key is not 32 bytes");
        return ADB_ERR_INVALID;
    }
    memcpy(v->name, text, (size_t)(p1 - text));
    v->name[p1 - text] = '\0';
    v->type = raw[0];
    memcpy(v->pub, raw + 1, 32);
    v->key_id = adb__note_key_id(v->name, v->type, v->pub);
    if (v->key_id != id) {
        adb__fmt(err, errlen, "the verifier key's id does not match its name and key");
        memset(v, 0, sizeof(*v));
        return ADB_ERR_INVALID;
    }
    return ADB_OK;
}

/* --- Ed25519 ---------------------------------------------------------------- */

static bool ed25519_sign(void *pkey, const void *msg, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = 64;
    bool ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, pkey) == 1 &&
              EVP_DigestSign(c, sig, &sl, msg, len) == 1 && sl == 64;
    EVP_MD_CTX_free(c);
    return ok;
}

/* Public keys already made into OpenSSL keys: making one (EVP_PKEY_new_raw_
 * public_key) costs about as much as the verification itself on OpenSSL 3
 * (bench/README.md, "Receipts"), and a verifier sees few keys (the log's and
 * its witnesses'). Shared by all threads; a key in use holds a reference of
 * its own, so replacing a slot never frees a key another thread verifies with. */
#define PKEY_SLOTS 16
static struct {
    uint8_t pub[32];
    EVP_PKEY *pk;
} pkeys[PKEY_SLOTS];
static unsigned pkeys_next;
static pthread_mutex_t pkeys_mu = PTHREAD_MUTEX_INITIALIZER;

/* An OpenSSL key for pub with a reference for the caller (EVP_PKEY_free it). */
static EVP_PKEY *public_key(const uint8_t pub[32])
{
    EVP_PKEY *pk = NULL;

    pthread_mutex_lock(&pkeys_mu);
    for (unsigned i = 0; i < PKEY_SLOTS && !pk; i++)
        if (pkeys[i].pk && !memcmp(pkeys[i].pub, pub, 32) && EVP_PKEY_up_ref(pkeys[i].pk) == 1)
            pk = pkeys[i].pk;
    pthread_mutex_unlock(&pkeys_mu);
    if (pk)
        return pk;
    if (!(pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32)))
        return NULL;
    pthread_mutex_lock(&pkeys_mu);
    if (EVP_PKEY_up_ref(pk) == 1) {
        unsigned i = pkeys_next++ % PKEY_SLOTS;
        EVP_PKEY_free(pkeys[i].pk);
        memcpy(pkeys[i].pub, pub, 32);
        pkeys[i].pk = pk;
    }
    pthread_mutex_unlock(&pkeys_mu);
    return pk;
}

static bool ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                           const uint8_t sig[64])
{
    EVP_PKEY *pk = public_key(pub);
    EVP_MD_CTX *c = pk ? EVP_MD_CTX_new() : NULL;
    bool ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
              EVP_DigestVerify(c, sig, 64, msg, len) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

/* --- notes ------------------------------------------------------------------ */

/* Valid UTF-8 without control characters but '\n'. */
static bool clean_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
            return false;
    return adb__utf8_valid(s, len);
}

bool adb__note_text_valid(const char *text, size_t len)
{
    if (!text || len == 0 || text[len - 1] != '\n' || len > ADB_NOTE_MAX_LEN)
        return false;
    /* a text of blank lines only would sign nothing */
    size_t i = 0;
    while (i < len && text[i] == '\n')
        i++;
    return i < len && clean_text(text, len);
}

char *adb__cosig_message(const char *text, size_t len, uint64_t timestamp, size_t *outlen)
{
    char head[64];
    int hl = snprintf(head, sizeof(head), "cosignature/v1\ntime %llu\n",
                      (unsigned long long)timestamp);
    char *m = malloc((size_t)hl + len + 1);

    if (!m)
        return NULL;
    memcpy(m, head, (size_t)hl);
    memcpy(m + hl, text, len);
    m[(size_t)hl + len] = '\0';
    *outlen = (size_t)hl + len;
    return m;
}

size_t adb__note_sign_line(const adb__note_signer *s, const char *text, size_t len,
                           uint64_t timestamp, char *line, size_t cap, char *err, size_t errlen)
{
    uint8_t raw[4 + 8 + 64];
    size_t rl = 0;
    char b64[4 * ((sizeof(raw) + 2) / 3) + 1];

    if (!s || !s->pkey) {
        adb__fmt(err, errlen, "no signing key");
        return 0;
    }
    if (!adb__note_text_valid(text, len)) {
        adb__fmt(err, errlen, "a note's text must be non-empty UTF-8 ending in a newline, "
                 "without control characters");
        return 0;
    }
    raw[0] = (uint8_t)(s->key_id >> 24);
    raw[1] = (uint8_t)(s->key_id >> 16);
    raw[2] = (uint8_t)(s->key_id >> 8);
    raw[3] = (uint8_t)s->key_id;
    rl = 4;
    if (s->type == ADB_NOTE_COSIG_V1) {
        size_t ml;
        char *m;
        if (timestamp > (uint64_t)INT64_MAX) {
            adb__fmt(err, errlen, "a cosignature's timestamp must not exceed 2^63 - 1");
            return 0;
        }
        for (int i = 0; i < 8; i++)
            raw[4 + i] = (uint8_t)(timestamp >> (56 - 8 * i));
        rl = 12;
        if (!(m = adb__cosig_message(text, len, timestamp, &ml))) {
            adb__fmt(err, errlen, "out of memory");
            return 0;
        }
        bool ok = ed25519_sign(s->pkey, m, ml, raw + rl);
        free(m);
        if (!ok) {
            adb__fmt(err, errlen, "Ed25519 signing failed (OpenSSL)");
            return 0;
        }
    } else if (!ed25519_sign(s->pkey, text, len, raw + rl)) {
        adb__fmt(err, errlen, "Ed25519 signing failed (OpenSSL)");
        return 0;
    }
    rl += 64;
    adb__note_b64_encode(raw, rl, b64);
    if (!adb__fmt(line, cap, "%s %s %s\n", EM_DASH, s->name, b64)) {
        adb__fmt(err, errlen, "signature line buffer too small");
        return 0;
    }
    return strlen(line);
}

size_t adb__cosign(const adb__note_signer *s, const char *text, size_t len, uint64_t timestamp,
                   char *line, size_t cap, char *err, size_t errlen)
{
    if (!s || s->type != ADB_NOTE_COSIG_V1) {
        adb__fmt(err, errlen, "a cosignature needs a cosignature/v1 (type 0x04) key");
        return 0;
    }
    return adb__note_sign_line(s, text, len, timestamp, line, cap, err, errlen);
}

char *adb__note_sign(const adb__note_signer *s, const char *text, size_t len, uint64_t timestamp,
                     size_t *outlen, char *err, size_t errlen)
{
    char line[ADB_NOTE_SIGLINE_MAX];
    size_t ll = adb__note_sign_line(s, text, len, timestamp, line, sizeof(line), err, errlen);
    char *out;

    if (!ll)
        return NULL;
    if (!(out = malloc(len + 1 + ll + 1))) {
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(out, text, len);
    out[len] = '\n';
    memcpy(out + len + 1, line, ll + 1);
    *outlen = len + 1 + ll;
    return out;
}

adb_status adb__note_parse(const char *msg, size_t len, adb__note *n, char *err, size_t errlen)
{
    size_t split = 0, i;
    bool found = false;
    const char *p, *end;

    n->text = NULL;
    n->text_len = 0;
    n->nsigs = 0;
    if (len > ADB_NOTE_MAX_LEN) {
        adb__fmt(err, errlen, "the note is longer than %d bytes", ADB_NOTE_MAX_LEN);
        return ADB_ERR_INVALID;
    }
    if (!clean_text(msg, len)) {
        adb__fmt(err, errlen, "the note is not UTF-8 text without control characters");
        return ADB_ERR_INVALID;
    }
    for (i = len; i >= 2; i--)
        if (msg[i - 2] == '\n' && msg[i - 1] == '\n') {
            split = i - 2;
            found = true;
            break;
        }
    if (!found) {
        adb__fmt(err, errlen, "the note has no blank line before its signatures");
        return ADB_ERR_INVALID;
    }
    n->text = msg;
    n->text_len = split + 1;
    if (!adb__note_text_valid(n->text, n->text_len)) {
        adb__fmt(err, errlen, "the note's text is empty");
        return ADB_ERR_INVALID;
    }
    p = msg + split + 2;
    end = msg + len;
    if (p == end) {
        adb__fmt(err, errlen, "the note has no signature line");
        return ADB_ERR_INVALID;
    }
    if (end[-1] != '\n') {
        adb__fmt(err, errlen, "the note's last signature line does not end in a newline");
        return ADB_ERR_INVALID;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *name, *sp;
        adb__note_sig *s;
        uint8_t raw[4 + 8 + 64];
        size_t bl;

        if (n->nsigs == ADB_NOTE_MAX_SIGS) {
            adb__fmt(err, errlen, "the note has more than %d signatures", ADB_NOTE_MAX_SIGS);
            return ADB_ERR_INVALID;
        }
        if ((size_t)(nl - p) < 4 || memcmp(p, EM_DASH, 3) != 0 || p[3] != ' ') {
            adb__fmt(err, errlen, "signature line %zu does not start with an em dash and a space",
                     n->nsigs + 1);
            return ADB_ERR_INVALID;
        }
        name = p + 4;
        sp = memchr(name, ' ', (size_t)(nl - name));
        if (!sp || !name_valid(name, (size_t)(sp - name))) {
            adb__fmt(err, errlen, "signature line %zu has no valid key name", n->nsigs + 1);
            return ADB_ERR_INVALID;
        }
        bl = (size_t)(nl - sp - 1);
        if (bl == 0 || bl > ADB_NOTE_MAX_SIG_B64) {
            adb__fmt(err, errlen, "signature line %zu has no signature or one too long",
                     n->nsigs + 1);
            return ADB_ERR_INVALID;
        }
        /* form only: decode the first block for the key id; the rest is
         * checked for base64 without keeping it */
        {
            uint8_t tmp[ADB_NOTE_MAX_SIG_B64 / 4 * 3];
            long dl = adb__note_b64_decode(sp + 1, bl, tmp, sizeof(tmp));
            if (dl < 5) {
                adb__fmt(err, errlen, "signature line %zu is not base64 of a key id and a "
                         "signature", n->nsigs + 1);
                return ADB_ERR_INVALID;
            }
            memcpy(raw, tmp, 4);
        }
        s = &n->sigs[n->nsigs++];
        s->name = name;
        s->name_len = (size_t)(sp - name);
        s->b64 = sp + 1;
        s->b64_len = bl;
        s->key_id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        s->line = p;
        s->line_len = (size_t)(nl - p) + 1;
        p = nl + 1;
    }
    return ADB_OK;
}

bool adb__note_sig_verify(const adb__note *n, const adb__note_sig *sig,
                          const adb__note_verifier *v, uint64_t *timestamp)
{
    uint8_t raw[4 + 8 + 64 + 1];
    long dl = adb__note_b64_decode(sig->b64, sig->b64_len, raw, sizeof(raw));

    if (timestamp)
        *timestamp = 0;
    if (sig->name_len != strlen(v->name) || memcmp(sig->name, v->name, sig->name_len) != 0 ||
        sig->key_id != v->key_id)
        return false;
    if (v->type == ADB_NOTE_ED25519)
        return dl == 4 + 64 && ed25519_verify(v->pub, n->text, n->text_len, raw + 4);
    if (v->type == ADB_NOTE_COSIG_V1) {
        uint64_t t = 0;
        size_t ml;
        char *m;
        bool ok;
        if (dl != 4 + 8 + 64)
            return false;
        for (int i = 0; i < 8; i++)
            t = t << 8 | raw[4 + i];
        if (t > (uint64_t)INT64_MAX || !(m = adb__cosig_message(n->text, n->text_len, t, &ml)))
            return false;
        ok = ed25519_verify(v->pub, m, ml, raw + 12);
        free(m);
        if (ok && timestamp)
            *timestamp = t;
        return ok;
    }
    return false;
}

adb_status adb__note_verify(const char *msg, size_t len, const adb__note_verifier *vs, size_t nv,
                            adb__note *n, bool *verified, uint64_t *times, size_t *count,
                            char *err, size_t errlen)
{
    adb__note local;
    adb_status st;
    bool *seen = verified;
    size_t c = 0;

    if (!n)
        n = &local;
    if (count)
        *count = 0;
    if (!seen && nv && !(seen = calloc(nv, sizeof(bool)))) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    for (size_t j = 0; j < nv; j++) {
        seen[j] = false;
        if (times)
            times[j] = 0;
    }
    if ((st = adb__note_parse(msg, len, n, err, errlen)) != ADB_OK)
        goto out;
    for (size_t i = 0; i < n->nsigs; i++) {
        const adb__note_sig *s = &n->sigs[i];
        for (size_t j = 0; j < nv; j++) {
            const adb__note_verifier *v = &vs[j];
            uint64_t t;
            if (s->key_id != v->key_id || s->name_len != strlen(v->name) ||
                memcmp(s->name, v->name, s->name_len) != 0)
                continue;
            if (!adb__note_sig_verify(n, s, v, &t)) {
                adb__fmt(err, errlen, "the signature by %s+%08x does not verify", v->name,
                         (unsigned)v->key_id);
                for (size_t k = 0; k < nv; k++)
                    seen[k] = false;
                c = 0;
                st = ADB_ERR_INVALID;
                goto out;
            }
            if (!seen[j]) {
                seen[j] = true;
                c++;
                if (times)
                    times[j] = t;
            }
        }
    }
    if (c == 0) {
        adb__fmt(err, errlen, "no known key signed the note");
        st = ADB_ERR_NOT_FOUND;
    }
out:
    if (count)
        *count = c;
    if (seen != verified)
        free(seen);
    return st;
}

/* --- checkpoints ----------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

bool adb__checkpoint_org_encode(const char *org, char *out, size_t cap)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)org; *p; p++) {
        if (unreserved(*p)) {
            if (o + 1 >= cap)
                return false;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= cap)
                return false;
            out[o++] = '%';
            out[o++] = HEX[*p >> 4];
            out[o++] = HEX[*p & 15];
        }
    }
    if (o >= cap)
        return false;
    out[o] = '\0';
    return true;
}

bool adb__checkpoint_origin(const char *log_name, const char *org, char *out, size_t cap)
{
    size_t nl = strlen(log_name);

    if (nl + 2 > cap)
        return false;
    memcpy(out, log_name, nl);
    out[nl] = '/';
    return adb__checkpoint_org_encode(org, out + nl + 1, cap - nl - 1) &&
           strlen(out) <= ADB_NOTE_MAX_ORIGIN;
}

size_t adb__checkpoint_body_format(const char *origin, uint64_t size, const uint8_t root[32],
                                   char *out, size_t cap)
{
    char b64[48];

    if (!origin || !*origin || strchr(origin, '\n') || strlen(origin) > ADB_NOTE_MAX_ORIGIN)
        return 0;
    adb__note_b64_encode(root, 32, b64);
    if (!adb__fmt(out, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64))
        return 0;
    return strlen(out);
}

adb_status adb__checkpoint_body_parse(const char *text, size_t len, adb__checkpoint_body *cp,
                                      char *err, size_t errlen)
{
    const char *p = text, *end = text + len, *nl;
    size_t line = 0;

    memset(cp, 0, sizeof(*cp));
    if (!text || len == 0 || text[len - 1] != '\n' || !clean_text(text, len)) {
        adb__fmt(err, errlen, "a checkpoint is UTF-8 text ending in a newline");
        return ADB_ERR_INVALID;
    }
    for (; p < end; p = nl + 1, line++) {
        size_t ll;
        nl = memchr(p, '\n', (size_t)(end - p));
        ll = (size_t)(nl - p);
        if (ll == 0) {
            adb__fmt(err, errlen, "line %zu of the checkpoint is empty", line + 1);
            return ADB_ERR_INVALID;
        }
        if (line == 0) {
            if (ll > ADB_NOTE_MAX_ORIGIN) {
                adb__fmt(err, errlen, "the checkpoint's origin is longer than %d bytes",
                         ADB_NOTE_MAX_ORIGIN);
                return ADB_ERR_INVALID;
            }
            memcpy(cp->origin, p, ll);
            cp->origin[ll] = '\0';
        } else if (line == 1) {
            uint64_t v = 0;
            if (ll > 19 || (ll > 1 && p[0] == '0')) {
                adb__fmt(err, errlen, "the checkpoint's size is not a decimal without leading "
                         "zeroes below 2^63");
                return ADB_ERR_INVALID;
            }
            for (size_t i = 0; i < ll; i++) {
                if (p[i] < '0' || p[i] > '9') {
                    adb__fmt(err, errlen, "the checkpoint's size is not a decimal number");
                    return ADB_ERR_INVALID;
                }
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            if (v > (uint64_t)INT64_MAX) {
                adb__fmt(err, errlen, "the checkpoint's size is not below 2^63");
                return ADB_ERR_INVALID;
            }
            cp->size = v;
        } else if (line == 2) {
            if (adb__note_b64_decode(p, ll, cp->root, 32) != 32) {
                adb__fmt(err, errlen, "the checkpoint's root is not base64 of 32 bytes");
                return ADB_ERR_INVALID;
            }
        } else {
            cp->extensions++;
        }
    }
    if (line < 3) {
        adb__fmt(err, errlen, "a checkpoint has at least three lines: origin, size, root");
        return ADB_ERR_INVALID;
    }
    return ADB_OK;
}
