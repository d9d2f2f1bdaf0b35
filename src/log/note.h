/*
 * note.h - C2SP signed notes (c2sp.org/signed-note), checkpoint bodies
 * (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures
 * (c2sp.org/tlog-cosignature, cosignature/v1), internal.
 *
 * Keys are Ed25519 through OpenSSL. A key is named; its 32-bit key id is the
 * first 4 bytes of SHA-256(name || 0x0A || type || 32-byte public key), type
 * 0x01 for note signatures (the log's key) and 0x04 for timestamped
 * cosignatures (witnesses). Verifier keys travel as text
 * `name+<8 hex key id>+base64(type || public key)`.
 *
 * Nothing here logs, prints or keeps a private key outside the signer (its
 * EVP_PKEY); adb__note_signer_free wipes it. docs/checkpoints.md.
 */
#ifndef ADB_NOTE_H
#define ADB_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditdb/status.h"

#define ADB_NOTE_ED25519 0x01  /* signature type: Ed25519 over the note text */
#define ADB_NOTE_COSIG_V1 0x04 /* signature type: timestamped cosignature/v1 */

#define ADB_NOTE_MAX_NAME 255      /* bytes of a key name */
#define ADB_NOTE_MAX_SIGS 100      /* signature lines a note may carry (spec: >= 16) */
#define ADB_NOTE_MAX_SIG_B64 4096  /* base64 characters of one signature */
#define ADB_NOTE_MAX_LEN 65536     /* bytes of a whole note */
#define ADB_NOTE_MAX_ORIGIN 1024   /* bytes of a checkpoint origin line */
/* A vkey's text: name '+' 8 hex '+' base64 of 33 bytes (44), NUL. */
#define ADB_NOTE_VKEY_MAX (ADB_NOTE_MAX_NAME + 1 + 8 + 1 + 44 + 1)
/* One signature line: em dash (3 bytes), space, name, space, base64 of at
 * most 4 + 8 + 64 bytes (104), newline, NUL. */
#define ADB_NOTE_SIGLINE_MAX (3 + 1 + ADB_NOTE_MAX_NAME + 1 + 104 + 1 + 1)
/* A checkpoint body without extension lines: origin, size (20 digits), base64
 * root (44), three newlines, NUL. */
#define ADB_CHECKPOINT_BODY_MAX (ADB_NOTE_MAX_ORIGIN + 1 + 20 + 1 + 44 + 1 + 1)

/* A private key. Owns pkey; free with adb__note_signer_free. */
typedef struct adb__note_signer {
    char name[ADB_NOTE_MAX_NAME + 1];
    uint8_t type; /* ADB_NOTE_ED25519 or ADB_NOTE_COSIG_V1 */
    uint32_t key_id;
    uint8_t pub[32];
    void *pkey; /* EVP_PKEY * */
} adb__note_signer;

/* A public key that notes are verified against (plain data, no free). */
typedef struct adb__note_verifier {
    char name[ADB_NOTE_MAX_NAME + 1];
    uint8_t type;
    uint32_t key_id;
    uint8_t pub[32];
} adb__note_verifier;

/* One signature line of a parsed note; name and b64 point into the note. */
typedef struct adb__note_sig {
    const char *name;
    size_t name_len;
    const char *b64; /* base64(key id || signature) */
    size_t b64_len;
    uint32_t key_id;
    const char *line; /* the whole line with its newline */
    size_t line_len;
} adb__note_sig;

/* A parsed (not yet verified) note; every pointer points into the caller's
 * buffer, which must outlive it. */
typedef struct adb__note {
    const char *text; /* the signed text, ending in '\n' */
    size_t text_len;
    size_t nsigs;
    adb__note_sig sigs[ADB_NOTE_MAX_SIGS];
} adb__note;

/* A checkpoint body: origin, tree size, root; extension lines counted. */
typedef struct adb__checkpoint_body {
    char origin[ADB_NOTE_MAX_ORIGIN + 1];
    uint64_t size;
    uint8_t root[32];
    size_t extensions; /* extension lines after the root (parse only) */
} adb__checkpoint_body;

/* --- names, key ids, base64 -------------------------------------------- */

/* True when name is a valid key name: 1..ADB_NOTE_MAX_NAME bytes of UTF-8,
 * no Unicode space, no '+', no control character. */
bool adb__note_name_valid(const char *name);

/* SHA-256(name || 0x0A || type || pub)[:4] read big-endian. */
uint32_t adb__note_key_id(const char *name, uint8_t type, const uint8_t pub[32]);

/* Standard base64 (RFC 4648 section 4, padded) of n bytes into out, which
 * needs 4 * ceil(n / 3) + 1 bytes; returns the length written (NUL added). */
size_t adb__note_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly len characters of canonical padded base64 (no whitespace,
 * unused bits zero) into out (cap bytes); the decoded length, or -1 when the
 * text is not canonical base64 or decodes to more than cap bytes. */
long adb__note_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap);

/* --- keys ---------------------------------------------------------------- */

/* Makes s from a 32-byte Ed25519 seed (RFC 8032 private key), a key name and
 * a type (ADB_NOTE_ED25519 or ADB_NOTE_COSIG_V1). ADB_ERR_INVALID for a bad
 * name or type, ADB_ERR_INTERNAL when OpenSSL fails. On error s needs no
 * free. */
adb_status adb__note_signer_init(adb__note_signer *s, const char *name, uint8_t type,
                                 const uint8_t seed[32], char *err, size_t errlen) ADB_WUR;

/* Frees the key (NULL or a failed init are fine). */
void adb__note_signer_free(adb__note_signer *s);

/* The verifier of a signer's key. */
void adb__note_signer_verifier(const adb__note_signer *s, adb__note_verifier *v);

/* Makes a verifier from name, type and public key (key id computed). */
adb_status adb__note_verifier_init(adb__note_verifier *v, const char *name, uint8_t type,
                                   const uint8_t pub[32], char *err, size_t errlen) ADB_WUR;

/* The vkey text `name+hhhhhhhh+base64(type||pub)` into out (cap >=
 * ADB_NOTE_VKEY_MAX); false when cap is too small. */
bool adb__note_vkey_format(const adb__note_verifier *v, char *out, size_t cap);

/* Parses a vkey strictly: the whole string (no surrounding space), a valid
 * name, exactly 8 hex digits, canonical base64 of 33 bytes whose first is
 * 0x01 or 0x04, and the key id recomputed from them equal to the one given.
 * ADB_ERR_INVALID with the reason in err otherwise. */
adb_status adb__note_vkey_parse(const char *text, adb__note_verifier *v, char *err,
                                size_t errlen) ADB_WUR;

/* --- notes --------------------------------------------------------------- */

/* True when text (len bytes) can be a note's text: non-empty, ends in '\n',
 * valid UTF-8, no control character but '\n'. */
bool adb__note_text_valid(const char *text, size_t len);

/* One signature line ("— name base64\n", NUL-terminated) by s over text (len
 * bytes, a valid note text) into line (cap >= ADB_NOTE_SIGLINE_MAX); returns
 * its length, 0 on error (err filled). For a ADB_NOTE_COSIG_V1 signer the
 * line is a cosignature/v1 at timestamp (seconds since the Epoch, at most
 * 2^63 - 1); for ADB_NOTE_ED25519 timestamp is ignored. */
size_t adb__note_sign_line(const adb__note_signer *s, const char *text, size_t len,
                           uint64_t timestamp, char *line, size_t cap, char *err, size_t errlen);

/* A whole signed note: text, a blank line and s's signature line. Returns a
 * malloc()ed NUL-terminated note (caller frees) with its length in *outlen, or
 * NULL with err filled. */
char *adb__note_sign(const adb__note_signer *s, const char *text, size_t len, uint64_t timestamp,
                     size_t *outlen, char *err, size_t errlen);

/* Splits msg (len bytes) into text and signature lines (n points into msg),
 * rejecting what the spec rejects: not UTF-8, a control character but '\n',
 * no blank line before the signatures, an empty text, no signature line, a
 * malformed line (no em dash and space, invalid name, not canonical base64,
 * fewer than 5 decoded bytes), more than ADB_NOTE_MAX_SIGS lines or more
 * than ADB_NOTE_MAX_LEN bytes. ADB_ERR_INVALID with the reason. */
adb_status adb__note_parse(const char *msg, size_t len, adb__note *n, char *err,
                           size_t errlen) ADB_WUR;

/* Verifies one signature line of a parsed note against v (the caller
 * matched name and key id); for a cosignature *timestamp gets its time (may
 * be NULL). */
bool adb__note_sig_verify(const adb__note *n, const adb__note_sig *sig,
                          const adb__note_verifier *v, uint64_t *timestamp);

/* Parses msg and verifies it against nv known keys: lines whose (name, key
 * id) match no known key are ignored; each that matches is verified and one
 * that fails makes the whole note fail. verified (nv entries, may be NULL)
 * gets which known keys signed it, times (nv entries, may be NULL) the
 * cosignature times (0 for plain signatures), *count how many known keys
 * signed it. ADB_OK when at least one did; ADB_ERR_INVALID for a malformed
 * note or a known key's bad signature; ADB_ERR_NOT_FOUND when no known key
 * signed it. n (may be NULL) gets the parse. */
adb_status adb__note_verify(const char *msg, size_t len, const adb__note_verifier *vs, size_t nv,
                            adb__note *n, bool *verified, uint64_t *times, size_t *count,
                            char *err, size_t errlen) ADB_WUR;

/* --- checkpoints (tlog-checkpoint) ---------------------------------------- */

/* The origin of an organization's checkpoints: `<log name>/<org>` with the
 * org's bytes outside A-Za-z0-9-._~ as %XX (uppercase). False when it does
 * not fit cap (>= ADB_NOTE_MAX_ORIGIN + 1 is always enough for an org id of
 * up to 250 bytes and a valid log name). */
bool adb__checkpoint_origin(const char *log_name, const char *org, char *out, size_t cap);

/* The percent-encoding alone (file names: `<encoded>.checkpoint`). */
bool adb__checkpoint_org_encode(const char *org, char *out, size_t cap);

/* "origin\nsize\nbase64(root)\n" into out (cap >= ADB_CHECKPOINT_BODY_MAX);
 * its length, or 0 when origin is empty, has a newline or does not fit. */
size_t adb__checkpoint_body_format(const char *origin, uint64_t size, const uint8_t root[32],
                                   char *out, size_t cap);

/* Parses a checkpoint's note text (len bytes, ending in '\n'): origin
 * (non-empty, at most ADB_NOTE_MAX_ORIGIN bytes), size (decimal, no leading
 * zero but "0", fits 63 bits), root (canonical base64 of 32 bytes), then
 * any number of non-empty extension lines. ADB_ERR_INVALID with the reason. */
adb_status adb__checkpoint_body_parse(const char *text, size_t len, adb__checkpoint_body *cp,
                                      char *err, size_t errlen) ADB_WUR;

/* --- cosignatures (tlog-cosignature, cosignature/v1) --------------------- */

/* The message a cosignature/v1 signs: "cosignature/v1\ntime <T>\n" || text.
 * malloc()ed (caller frees), length in *outlen; NULL when out of memory. */
char *adb__cosig_message(const char *text, size_t len, uint64_t timestamp, size_t *outlen);

/* A cosignature line by s (type ADB_NOTE_COSIG_V1) over a checkpoint's note
 * text at timestamp; same as adb__note_sign_line. */
size_t adb__cosign(const adb__note_signer *s, const char *text, size_t len, uint64_t timestamp,
                   char *line, size_t cap, char *err, size_t errlen);

#endif
