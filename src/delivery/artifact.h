/*
 * artifact.h - what the non-webhook senders share (email.c, s3.c, sftp.c,
 * download.c): their part of a destination's config, the artifact's file
 * name, the outcome of an attempt, and the bounded capture of a peer's
 * answer. Internal to src/delivery/.
 */
#ifndef ADB_DELIVERY_ARTIFACT_H
#define ADB_DELIVERY_ARTIFACT_H

#include "delivery.h"

/* The longest artifact file name (bytes). */
#define ADB_ARTIFACT_NAME_MAX 200

/* d's config for its type: config[type] when that is an object (the
 * client's DeliveryDestinationConfig), else config itself. NULL if neither
 * is an object. Borrowed from d. */
const json_t *adb__dest_section(const adb__dest *d, const char *type);

/* A string member of o, NULL when absent or not a string. */
const char *adb__cfg_str(const json_t *o, const char *key);

/* Clears a (no answer yet, retry_after_s -1). */
void adb__attempt_init(adb__attempt *a);

/* Marks a failed with the reason (printf; never a secret or payload byte in
 * the arguments). permanent: retrying cannot help (the config is wrong). */
void adb__attempt_fail(adb__attempt *a, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* true when s has no control character (CR, LF, NUL, ...) and is UTF-8:
 * safe in a mail header, a path, a log line. */
bool adb__text_safe(const char *s);

/* The artifact's file name into out: `configured` when given (e.g.
 * attachmentName, filename), else payload.metadata.filename or fileName,
 * else "<delivery id or item id>.<extension of the content type>". false with
 * why in err when the name is unusable: empty, longer than
 * ADB_ARTIFACT_NAME_MAX, a '/', '\\' or control character, or "." / "..". */
bool adb__artifact_name(const adb__item *it, const char *configured, char *out, size_t outlen,
                        char *err, size_t errlen);

/* A peer's answer, kept bounded: the first ADB_PEER_KEEP bytes of the body
 * and the response header fields the senders use. */
#define ADB_PEER_KEEP 2048
typedef struct adb__peer_answer {
    char body[ADB_PEER_KEEP + 1];
    size_t body_len;
    char etag[256];
    long retry_after_s;          /* -1: none */
} adb__peer_answer;

/* Installs the bounded body and header capture on c (CURLOPT_WRITEFUNCTION,
 * CURLOPT_HEADERFUNCTION into pa). */
void adb__peer_capture(CURL *c, adb__peer_answer *pa);

/* The outcome of an HTTP exchange (S3): ok for 2xx; 408/425/429/5xx and
 * transport errors retryable, other statuses permanent. */
void adb__attempt_from_http(adb__attempt *a, CURL *c, CURLcode rc, const adb__peer_answer *pa,
                            const char *what);

/* Why a transfer failed: the address policy's refusal when that is why it
 * could not connect, else libcurl's text (neither holds a secret). */
const char *adb__curl_reason(CURLcode rc);

/* The CA bundle of the operator (AUDITDB_DELIVERY_CA_FILE) on c when set:
 * peers are always verified; this only adds whom to trust. */
void adb__tls_trust(CURL *c);

#endif
