/*
 * witness.h - a C2SP tlog-witness (internal): checks an add-checkpoint
 * request against the latest checkpoint it cosigned for the origin, keeps
 * that checkpoint in a file per origin, and cosigns (tlog-cosignature/v1,
 * Ed25519). No HTTP here: src/cli/cmd_witness.c serves it. docs/witness.md.
 */
#ifndef ADB_WITNESS_H
#define ADB_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request bodies larger than this are refused (413) before they are read. */
#define ADB_WITNESS_MAX_BODY (128 * 1024)

typedef struct adb__witness_service adb__witness_service;

/* One log the witness follows: a verifier key (vkey text, signed-note type
 * 0x01) and the origins it signs for: exactly prefix, or, when prefix ends in
 * '/', any origin that starts with prefix and goes on (auditdb names one
 * origin per organization, "<log name>/<org>", all signed by the log key). */
typedef struct adb__witness_log {
    const char *prefix;
    const char *vkey;
} adb__witness_log;

typedef struct adb__witness_options {
    const char *state_dir;       /* made (0700) if absent; locked for this process */
    const char *name;            /* the witness's key name (cosignature lines) */
    const uint8_t *seed;         /* its Ed25519 private key: 32 bytes */
    const adb__witness_log *logs;
    size_t nlogs;
} adb__witness_options;

/* Opens the witness: parses every log's vkey, takes the state directory
 * (flock: one witness per directory). NULL with err filled on failure.
 * Close with adb__witness_close. */
adb__witness_service *adb__witness_open(const adb__witness_options *o, char *err, size_t errlen);

void adb__witness_close(adb__witness_service *w);

/* What to answer: status 200 (body: the cosignature line), 400, 403, 404,
 * 409 (body: the latest size and a newline, content type text/x.tlog.size),
 * 422, 500 (state unreadable or not written: nothing cosigned). body is
 * malloc()ed (free with adb__witness_answer_free); reason says why in one
 * line for the log (no key material). */
typedef struct adb__witness_answer {
    int status;
    const char *content_type;
    char *body;
    size_t len;
    char origin[256]; /* the checkpoint's origin once parsed, else "" */
    uint64_t old_size, size;
    char reason[256];
} adb__witness_answer;

/* Handles one add-checkpoint body (len bytes, not NUL-terminated). Checks in
 * the order of c2sp.org/tlog-witness: well formed, origin known, signed by the
 * log, old <= size, old equal to the latest cosigned size (409), equal sizes
 * with equal roots (409), the consistency proof (422); then writes the new
 * state (temp file, fsync, rename, fsync of the directory) before returning
 * 200. Requests for one origin are serialized. Thread-safe. */
void adb__witness_add_checkpoint(adb__witness_service *w, const char *body, size_t len,
                                 adb__witness_answer *a);

void adb__witness_answer_free(adb__witness_answer *a);

/* The witness's verifier key "name+keyid+base64(0x04||pub)" (type 0x04,
 * tlog-cosignature) into out; false when it does not fit or OpenSSL failed. */
bool adb__witness_vkey(const char *name, const uint8_t seed[32], char *out, size_t outlen);

/* Reads the key file (64 hex digits of the Ed25519 seed, a newline allowed),
 * or when it does not exist and create is true, makes it (0600, O_EXCL,
 * fsync) with 32 random bytes. false with err filled otherwise; refuses a
 * file that others may read. */
bool adb__witness_key_file(const char *path, bool create, uint8_t seed[32], char *err,
                           size_t errlen);

/* The state file name of origin (percent-encoded: bytes outside
 * A-Za-z0-9-._~ as %XX, then ".checkpoint"); false when longer than outlen. */
bool adb__witness_state_name(const char *origin, char *out, size_t outlen);

#endif
