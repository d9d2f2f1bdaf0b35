/*
 * checkpoint.c - the checkpointer (checkpoint.h): offers wait in a small
 * hash table, one per organization; a thread takes them every interval,
 * checks each against the checkpoint it last signed for that organization
 * (its file), signs, writes the file and the log_checkpoint row, and pushes
 * the checkpoint to the witnesses.
 *
 * Refusals (an offer inconsistent with the last signed checkpoint, a file
 * that does not verify, a witness that refuses the log's proof or holds a
 * size the log never had) insert one alerts row per organization, kind and
 * signed size, and write one JSON line to the log: never a key.
 */
#include "../alert/alert.h"

#include <inttypes.h>
#include "checkpoint.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/util.h"
#include "../monitor/errors.h"
#include "../writer/heads.h"

#define BUCKETS 1024
#define MAX_ALERTED 1024
#define RESPONSE_MAX 65536
#define WITNESS_ATTEMPTS 3

typedef struct pending {
    struct pending *next;
    char *org;
    uint64_t size;
    uint8_t root[32];
    double not_before_ms; /* a retry waits until then (0: ready) */
    uint64_t hint;        /* the size the witnesses probably hold */
} pending;

/* an alert already raised: one row per (organization, kind, signed size) */
typedef struct alerted {
    char *org;
    char kind[32];
    uint64_t size;
} alerted;

struct adb__checkpointer {
    adb__checkpointer_options o;
    char *log_name, *dir;
    adb__note_verifier log_vkey;
    adb__witness *witnesses;
    size_t nwitnesses;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* the thread waits on it; flushers too */
    pending *buckets[BUCKETS];
    size_t npending;
    bool stop;
    uint64_t flush_req, flush_done;
    adb__checkpointer_stats stats;

    alerted alerted[MAX_ALERTED]; /* the thread's own */
    size_t nalerted, alerted_next;
    unsigned streak; /* the thread's: offers in a row that failed to sign or store */
};

/* ---- small helpers -------------------------------------------------------- */

static uint32_t org_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void log_line(adb__checkpointer *cp, const char *level, const char *org, const char *event,
                     const char *message)
{
    adb__json_log_line(cp->o.log, "checkpointer", level, org, event, message);
}

static void stat_add(adb__checkpointer *cp, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&cp->mu);
    *field += n;
    pthread_mutex_unlock(&cp->mu);
}

/* An offer that could not be signed or stored (step: flush_failed,
 * sign_failed, write_failed, store_failed; why: one line, never a key).
 * The alert_after-th in a row raises one alerts row (HIGH, SYSTEM, source
 * auditdb-checkpoint, metadata kind checkpointer_failing) for org. */
static void failed(adb__checkpointer *cp, PGconn *c, const char *org, const char *step,
                   const char *why)
{
    char what[80];
    adb__fmt(what, sizeof(what), "a checkpoint offer failed at %s", step);
    adb__error_record(NULL, &(adb__error_report){ .category = "INTEGRITY_ERROR",
        .severity = "HIGH", .code = "CHECKPOINT", .component = "checkpointer",
        .operation = step, .org = org, .message = what, .retryable = true });
    cp->streak++;
    pthread_mutex_lock(&cp->mu);
    cp->stats.failures++;
    cp->stats.streak = cp->streak;
    cp->stats.failing = cp->streak >= (unsigned)cp->o.alert_after;
    adb__fmt(cp->stats.last_error, sizeof(cp->stats.last_error), "%s: %.200s", step, why);
    pthread_mutex_unlock(&cp->mu);
    if (cp->streak != (unsigned)cp->o.alert_after || !c || PQstatus(c) != CONNECTION_OK)
        return;
    char desc[600], meta[160];
    adb__fmt(desc, sizeof(desc), "the log could not sign or store a checkpoint %u times in a "
             "row: new events get no receipt until this is fixed (last: %s: %.300s)",
             cp->streak, step, why);
    adb__fmt(meta, sizeof(meta), "{\"kind\": \"checkpointer_failing\", \"step\": \"%s\", "
             "\"failedOffers\": %u}", step, cp->streak);
    adb__alert_trigger t = { .org = org, .source = "auditdb-checkpoint",
                             .dedup_key = "checkpoint/checkpointer_failing", .severity = "HIGH",
                             .type = "SYSTEM", .title = "the verifiable log cannot sign checkpoints",
                             .description = desc, .metadata_json = meta };
    char e[512], aerr[256];
    if (adb__alert_raise(c, &t, NULL, NULL, aerr, sizeof(aerr)) != ADB_OK) {
        adb__fmt(e, sizeof(e), "could not insert the alert: %s", aerr);
        log_line(cp, "error", org, "alert_failed", adb__oneline(e));
    }
}

/* An offer signed and stored: the streak of failures ends. */
static void succeeded(adb__checkpointer *cp)
{
    if (!cp->streak)
        return;
    cp->streak = 0;
    pthread_mutex_lock(&cp->mu);
    cp->stats.streak = 0;
    cp->stats.failing = false;
    pthread_mutex_unlock(&cp->mu);
}

/* Was (org, kind, size) alerted already? Records it if not. */
static bool alerted_before(adb__checkpointer *cp, const char *org, const char *kind, uint64_t size)
{
    for (size_t i = 0; i < cp->nalerted; i++) {
        alerted *a = &cp->alerted[i];
        if (a->size == size && strcmp(a->kind, kind) == 0 && strcmp(a->org, org) == 0)
            return true;
    }
    alerted *a = &cp->alerted[cp->alerted_next];
    char *copy = strdup(org);
    if (!copy)
        return false;
    free(a->org);
    a->org = copy;
    adb__fmt(a->kind, sizeof(a->kind), "%s", kind);
    a->size = size;
    cp->alerted_next = (cp->alerted_next + 1) % MAX_ALERTED;
    if (cp->nalerted < MAX_ALERTED)
        cp->nalerted++;
    return false;
}

/* The refusal's checkpoint_refusals row (migration 0040: its trigger copies
 * it into security_events, where the detection rule security-checkpoint-refused
 * reads it); false when it could not be written (then said on the log). */
static bool record_refusal(adb__checkpointer *cp, PGconn *c, const char *org, const char *kind,
                           uint64_t signed_size, uint64_t offered_size, const char *witness,
                           const char *description)
{
    char ss[24], os[24];
    adb__fmt(ss, sizeof(ss), "%" PRIu64, signed_size);
    adb__fmt(os, sizeof(os), "%" PRIu64, offered_size);
    const char *p[] = { org, kind, witness, ss, os, description };
    PGresult *r = PQexecParams(c, "INSERT INTO checkpoint_refusals (organization_id, kind, witness,"
                                  " signed_size, offered_size, description)"
                                  " VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6)",
                               6, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        char e[512];
        adb__fmt(e, sizeof(e), "could not record the refusal: %s", PQresultErrorMessage(r));
        log_line(cp, "error", org, "refusal_not_recorded", adb__oneline(e));
    }
    PQclear(r);
    return ok;
}

/* A refusal: one checkpoint_refusals row, one alerts row (CRITICAL,
 * SECURITY, source auditdb-checkpoint) and one log line, once per (org,
 * kind, signed size). c may be NULL (no connection: the log line only). */
static void refuse(adb__checkpointer *cp, PGconn *c, const char *org, const char *kind,
                   uint64_t signed_size, uint64_t offered_size, const char *witness,
                   const char *title, const char *description)
{
    char meta[ADB_CHECKPOINT_URL_MAX + 256];
    json_t *m;
    char *mt = NULL;

    stat_add(cp, &cp->stats.refused, 1);
    if (alerted_before(cp, org, kind, signed_size))
        return;
    log_line(cp, "error", org, kind, description);
    if (!c)
        return;
    (void)record_refusal(cp, c, org, kind, signed_size, offered_size, witness, description);
    m = json_pack("{s:s, s:I, s:I, s:s?}", "kind", kind, "signedSize", (json_int_t)signed_size,
                  "offeredSize", (json_int_t)offered_size, "witness", witness);
    if (m)
        mt = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    adb__fmt(meta, sizeof(meta), "%s", mt ? mt : "{}");
    free(mt);
    char key[160], desc[8000], aerr[256];
    /* one alert per kind and signed size, as alerted_before already keeps it */
    adb__fmt(key, sizeof(key), "checkpoint/%s/%" PRIu64, kind, signed_size);
    adb__fmt(desc, sizeof(desc), "%s", description);
    adb__alert_trigger t = { .org = org, .source = "auditdb-checkpoint", .dedup_key = key,
                             .severity = "CRITICAL", .type = "SECURITY", .title = title,
                             .description = desc, .metadata_json = meta };
    if (adb__alert_raise(c, &t, NULL, NULL, aerr, sizeof(aerr)) != ADB_OK) {
        char e[512];
        adb__fmt(e, sizeof(e), "could not insert the alert: %s", aerr);
        log_line(cp, "error", org, "alert_failed", adb__oneline(e));
    }
}

/* ---- witnesses ------------------------------------------------------------- */

adb_status adb__witnesses_parse(const char *text, adb__witness *out, size_t cap, size_t *n,
                                char *err, size_t errlen)
{
    const char *p = text;

    *n = 0;
    if (!text)
        return ADB_OK;
    while (*p) {
        const char *end = strchr(p, ','), *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char entry[ADB_CHECKPOINT_URL_MAX + ADB_NOTE_VKEY_MAX + 2], verr[256];

        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            if (!end)
                break;
            p = end + 1;
            continue;
        }
        if (len >= sizeof(entry)) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: entry %zu is too long", *n + 1);
            return ADB_ERR_CONFIG;
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        if (!(eq = strchr(entry, '='))) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: entry %zu is not URL=vkey", *n + 1);
            return ADB_ERR_CONFIG;
        }
        if (*n == cap) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: more than %zu witnesses", cap);
            return ADB_ERR_CONFIG;
        }
        adb__witness *w = &out[*n];
        size_t ul = (size_t)(eq - entry);
        if ((strncmp(entry, "http://", 7) != 0 && strncmp(entry, "https://", 8) != 0) ||
            ul >= sizeof(w->url) || ul <= 8) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: entry %zu's URL must start with "
                     "http:// or https://", *n + 1);
            return ADB_ERR_CONFIG;
        }
        memcpy(w->url, entry, ul);
        w->url[ul] = '\0';
        while (ul > 0 && w->url[ul - 1] == '/')
            w->url[--ul] = '\0';
        if (adb__note_vkey_parse(eq + 1, &w->vkey, verr, sizeof(verr)) != ADB_OK) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: entry %zu's vkey: %s", *n + 1, verr);
            return ADB_ERR_CONFIG;
        }
        if (w->vkey.type != ADB_NOTE_COSIG_V1) {
            adb__fmt(err, errlen, "invalid AUDITDB_WITNESSES: entry %zu's vkey is not a "
                     "cosignature/v1 key (type 0x04)", *n + 1);
            return ADB_ERR_CONFIG;
        }
        (*n)++;
        if (!end)
            break;
        p = end + 1;
    }
    return ADB_OK;
}

typedef struct response {
    char *data;
    size_t len;
    bool too_long;
} response;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    response *r = ud;
    size_t n = size * nmemb;

    if (r->len + n > RESPONSE_MAX) {
        r->too_long = true;
        return 0;
    }
    char *d = realloc(r->data, r->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + r->len, ptr, n);
    r->data = d;
    r->len += n;
    d[r->len] = '\0';
    return n;
}

/* POSTs body to url; *status (0: no answer) and the answer in *resp (caller
 * frees resp->data). */
static void http_post(adb__checkpointer *cp, const char *url, const char *body, size_t len,
                      long *status, response *resp, char *ctype, size_t ctlen, char *err,
                      size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    char *ct = NULL;

    *status = 0;
    ctype[0] = '\0';
    memset(resp, 0, sizeof(*resp));
    if (!h) {
        adb__fmt(err, errlen, "could not start a request (libcurl)");
        return;
    }
    hdr = curl_slist_append(hdr, "Content-Type: text/plain; charset=utf-8");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cp->o.witness_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cp->o.witness_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "auditdb-checkpointer");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            adb__fmt(ctype, ctlen, "%s", ct);
    } else {
        adb__fmt(err, errlen, "%s", resp->too_long ? "the answer is longer than 64 KiB"
                                   : ebuf[0] ? ebuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
}

/* The witness's latest size from a 409 answer (text/x.tlog.size): a decimal
 * and a newline. */
static bool parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len > 0 && s[len - 1] == '\n')
        len--;
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return v <= (uint64_t)INT64_MAX;
}

enum push_result { PUSH_DONE, PUSH_RETRY };

/* Asks witness w to cosign note (size, at the tree of org), starting with
 * old = hint. Verified cosignature lines are appended to *lines. */
static enum push_result push_witness(adb__checkpointer *cp, PGconn *c, const char *org,
                                     const adb__witness *w, const char *note, size_t note_len,
                                     uint64_t size, uint64_t hint, adb__buf *lines)
{
    uint64_t old = hint > size ? size : hint;
    char url[ADB_CHECKPOINT_URL_MAX + 32], err[512], msg[1024], ctype[128];

    adb__fmt(url, sizeof(url), "%s/add-checkpoint", w->url);
    for (int attempt = 0; attempt < WITNESS_ATTEMPTS; attempt++) {
        adb__mhash proof[ADB_MERKLE_MAX_PROOF];
        size_t np = 0;
        adb__buf body = { 0 };
        response resp;
        long status;

        if (old > 0 && old < size) {
            adb_status st = cp->o.consistency(c, org, old, size, proof, &np, err, sizeof(err));
            if (st != ADB_OK || np > 63) {
                adb__fmt(msg, sizeof(msg), "the log cannot prove its tree of size %llu consistent "
                         "with the size %llu witness %s holds: %s", (unsigned long long)size,
                         (unsigned long long)old, w->url, st != ADB_OK ? err : "proof too long");
                refuse(cp, c, org, "witness_no_proof", old, size, w->url,
                       "the log cannot prove consistency to a witness", msg);
                return PUSH_DONE;
            }
        }
        adb__buf_printf(&body, "old %llu\n", (unsigned long long)old);
        for (size_t i = 0; i < np; i++) {
            char b64[48];
            adb__note_b64_encode(proof[i], 32, b64);
            adb__buf_printf(&body, "%s\n", b64);
        }
        adb__buf_puts(&body, "\n");
        adb__buf_put(&body, note, note_len);
        if (body.oom) {
            adb__buf_free(&body);
            return PUSH_RETRY;
        }
        err[0] = '\0';
        http_post(cp, url, body.p, body.len, &status, &resp, ctype, sizeof(ctype), err,
                  sizeof(err));
        adb__buf_free(&body);

        if (status == 200) {
            /* the answer is signature lines: verify them as part of the note */
            size_t ml = note_len + resp.len, count = 0;
            char *m = malloc(ml + 1);
            adb__note n;
            bool ok = false;
            size_t before = 0;
            if (m) {
                memcpy(m, note, note_len);
                if (resp.len)
                    memcpy(m + note_len, resp.data, resp.len);
                m[ml] = '\0';
                adb__note tmp;
                if (adb__note_parse(note, note_len, &tmp, err, sizeof(err)) == ADB_OK)
                    before = tmp.nsigs;
                ok = resp.len > 0 &&
                     adb__note_verify(m, ml, &w->vkey, 1, &n, NULL, NULL, &count, err,
                                      sizeof(err)) == ADB_OK;
                for (size_t i = before; ok && i < n.nsigs; i++)
                    if (n.sigs[i].key_id == w->vkey.key_id &&
                        n.sigs[i].name_len == strlen(w->vkey.name) &&
                        memcmp(n.sigs[i].name, w->vkey.name, n.sigs[i].name_len) == 0) {
                        adb__buf_put(lines, n.sigs[i].line, n.sigs[i].line_len);
                        stat_add(cp, &cp->stats.cosignatures, 1);
                    }
            }
            free(m);
            free(resp.data);
            if (!ok) {
                adb__fmt(msg, sizeof(msg), "witness %s answered 200 without a cosignature that "
                         "verifies with its key: %s", w->url, err);
                log_line(cp, "error", org, "witness_bad_cosignature", msg);
                stat_add(cp, &cp->stats.witness_errors, 1);
                return PUSH_RETRY;
            }
            return PUSH_DONE;
        }
        if (status == 409) {
            uint64_t theirs;
            bool parsed = parse_size(resp.data ? resp.data : "", resp.len, &theirs);
            free(resp.data);
            if (!parsed) {
                adb__fmt(msg, sizeof(msg), "witness %s answered 409 without a tree size "
                         "(Content-Type %s)", w->url, ctype[0] ? ctype : "none");
                log_line(cp, "error", org, "witness_bad_answer", msg);
                stat_add(cp, &cp->stats.witness_errors, 1);
                return PUSH_RETRY;
            }
            if (theirs > size) {
                adb__fmt(msg, sizeof(msg), "witness %s holds a checkpoint of size %llu for this "
                         "log, beyond the %llu leaves the log has: the log's history was "
                         "truncated or forked", w->url, (unsigned long long)theirs,
                         (unsigned long long)size);
                refuse(cp, c, org, "witness_ahead", theirs, size, w->url,
                       "a witness holds a larger tree than the log", msg);
                stat_add(cp, &cp->stats.witness_errors, 1);
                return PUSH_DONE;
            }
            if (theirs == old) {
                adb__fmt(msg, sizeof(msg), "witness %s holds a different checkpoint of size "
                         "%llu for this log: the log's history was forked or rewritten",
                         w->url, (unsigned long long)theirs);
                refuse(cp, c, org, "witness_fork", theirs, size, w->url,
                       "a witness holds a different history of the log", msg);
                stat_add(cp, &cp->stats.witness_errors, 1);
                return PUSH_DONE;
            }
            old = theirs;
            continue;
        }
        free(resp.data);
        if (status == 422 || status == 403 || status == 404 || status == 400)
            stat_add(cp, &cp->stats.witness_errors, 1);
        if (status == 422) {
            adb__fmt(msg, sizeof(msg), "witness %s refused the log's consistency proof from "
                     "size %llu to %llu (422)", w->url, (unsigned long long)old,
                     (unsigned long long)size);
            refuse(cp, c, org, "witness_refused", old, size, w->url,
                   "a witness refused the log's consistency proof", msg);
            return PUSH_DONE;
        }
        if (status == 403 || status == 404 || status == 400) {
            adb__fmt(msg, sizeof(msg), "witness %s answered %ld: %s", w->url, status,
                     status == 404 ? "it does not know this log's origin"
                     : status == 403 ? "it does not trust the log's key"
                                     : "it found the request malformed");
            log_line(cp, "error", org, "witness_rejected", msg);
            return PUSH_DONE;
        }
        if (status == 0)
            adb__fmt(msg, sizeof(msg), "witness %s did not answer: %s", w->url, err);
        else
            adb__fmt(msg, sizeof(msg), "witness %s answered %ld", w->url, status);
        log_line(cp, "warning", org, "witness_unavailable", msg);
        stat_add(cp, &cp->stats.witness_errors, 1);
        return PUSH_RETRY;
    }
    adb__fmt(msg, sizeof(msg), "witness %s kept answering 409", w->url);
    log_line(cp, "error", org, "witness_conflict", msg);
    stat_add(cp, &cp->stats.witness_errors, 1);
    return PUSH_RETRY;
}

/* ---- the signer's memory: its file ---------------------------------------- */

bool adb__checkpoint_path(const char *dir, const char *org, char *out, size_t cap)
{
    char enc[ADB_NOTE_MAX_ORIGIN + 1];

    if (!adb__checkpoint_org_encode(org, enc, sizeof(enc)) || strlen(enc) > 200 || !*enc) {
        char hex[65];
        adb__sha256_hex(org, strlen(org), hex);
        return adb__fmt(out, cap, "%s/sha256-%s.checkpoint", dir, hex);
    }
    /* "." and ".." are unreserved: never a file name of their own */
    if (strcmp(enc, ".") == 0 || strcmp(enc, "..") == 0)
        return adb__fmt(out, cap, "%s/%%2E%s.checkpoint", dir, enc + 1);
    return adb__fmt(out, cap, "%s/%s.checkpoint", dir, enc);
}

/* What the signer signed last for an organization, from its file. */
typedef struct last_signed {
    bool have;
    uint64_t size;
    uint8_t root[32];
    char *note; /* the file's note (malloc()ed) */
    size_t len;
} last_signed;

/* Reads path into *ls. false (and the reason in msg) when the file exists
 * but is not a checkpoint of origin signed by the log's key. */
static bool read_last(adb__checkpointer *cp, const char *path, const char *origin,
                      last_signed *ls, char *msg, size_t msglen)
{
    char err[256];
    adb__note n;
    adb__checkpoint_body body;
    size_t count;

    memset(ls, 0, sizeof(*ls));
    if (!(ls->note = adb__read_file(path, ADB_NOTE_MAX_LEN, &ls->len))) {
        if (errno == ENOENT)
            return true;
        adb__fmt(msg, msglen, "cannot read the checkpoint file %s: %s", path, strerror(errno));
        return false;
    }
    if (adb__note_verify(ls->note, ls->len, &cp->log_vkey, 1, &n, NULL, NULL, &count, err,
                         sizeof(err)) != ADB_OK) {
        adb__fmt(msg, msglen, "the checkpoint file %s is not signed by the log key %s: %s", path,
                 cp->log_vkey.name, err);
        return false;
    }
    if (adb__checkpoint_body_parse(n.text, n.text_len, &body, err, sizeof(err)) != ADB_OK) {
        adb__fmt(msg, msglen, "the checkpoint file %s is not a checkpoint: %s", path, err);
        return false;
    }
    if (strcmp(body.origin, origin) != 0) {
        adb__fmt(msg, msglen, "the checkpoint file %s is for origin %s, not %s", path,
                 body.origin, origin);
        return false;
    }
    ls->have = true;
    ls->size = body.size;
    memcpy(ls->root, body.root, 32);
    return true;
}

/* Writes data to path atomically: a temporary file, fsync, rename, fsync of
 * the directory. */
static bool write_atomic(const char *dir, const char *path, const char *data, size_t len,
                         char *err, size_t errlen)
{
    char tmp[ADB_CHECKPOINT_PATH_MAX + 8];
    size_t off = 0;
    int fd, dfd;

    if (!adb__fmt(tmp, sizeof(tmp), "%s.tmp", path)) {
        adb__fmt(err, errlen, "path too long");
        return false;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1) {
        adb__fmt(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            adb__fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return false;
        }
        off += (size_t)w;
    }
    if (fsync(fd) == -1 || close(fd) == -1) {
        adb__fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    if (rename(tmp, path) == -1) {
        adb__fmt(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
        fsync(dfd);
        close(dfd);
    }
    return true;
}

/* Stores note (size, root) as org's row of log_checkpoint: false when it
 * could not (why in err). */
static bool store_row(adb__checkpointer *cp, PGconn *c, const char *org, uint64_t size,
                      const uint8_t root[32], const char *note, size_t len, size_t cosignatures,
                      char *err, size_t errlen)
{
    char sz[24], cs[24], rhex[68];
    char *text = strndup(note, len);
    bool ok = true;

    if (!text) {
        adb__fmt(err, errlen, "out of memory");
        return false;
    }
    adb__fmt(sz, sizeof(sz), "%llu", (unsigned long long)size);
    adb__fmt(cs, sizeof(cs), "%zu", cosignatures);
    rhex[0] = '\\';
    rhex[1] = 'x';
    adb__hex(root, 32, rhex + 2);
    const char *p[] = { org, sz, rhex, text, cs };
    PGresult *r = PQexecParams(c,
                               "INSERT INTO log_checkpoint (organization_id, tree_size, root_hash,"
                               " note, cosignatures, cosigned_at)"
                               " VALUES ($1, $2::bigint, $3::bytea, $4, $5::integer,"
                               " CASE WHEN $5::integer > 0 THEN now() END)"
                               " ON CONFLICT (organization_id, tree_size) DO UPDATE"
                               " SET root_hash = EXCLUDED.root_hash, note = EXCLUDED.note,"
                               " cosignatures = EXCLUDED.cosignatures,"
                               " cosigned_at = coalesce(EXCLUDED.cosigned_at,"
                               " log_checkpoint.cosigned_at)",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char e[512];
        adb__fmt(e, sizeof(e), "could not store the checkpoint of size %s: %s", sz,
                 PQerrorMessage(c));
        log_line(cp, "error", org, "store_failed", adb__oneline(e));
        adb__fmt(err, errlen, "%s", e);
        ok = false;
    }
    PQclear(r);
    free(text);
    return ok;
}

/* The file is missing: if the database holds a checkpoint of org that the
 * log key signed, the file was lost and signing would forget what was
 * signed: false (refused). A row that does not verify is a forgery: alerted,
 * and ignored. */
static bool no_file_ok(adb__checkpointer *cp, PGconn *c, const char *org, const char *path)
{
    const char *p[] = { org };
    PGresult *r = PQexecParams(c,
                               "SELECT tree_size, note FROM log_checkpoint"
                               " WHERE organization_id = $1 ORDER BY tree_size DESC LIMIT 1",
                               1, NULL, p, NULL, NULL, 0);
    char msg[ADB_CHECKPOINT_PATH_MAX + 256], err[256];
    size_t count;
    bool ok = true;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(msg, sizeof(msg), "could not read log_checkpoint: %s", PQerrorMessage(c));
        log_line(cp, "error", org, "store_failed", adb__oneline(msg));
        PQclear(r);
        return false; /* try again next round */
    }
    if (PQntuples(r) == 1) {
        uint64_t size = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        if (adb__note_verify(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), &cp->log_vkey, 1,
                             NULL, NULL, NULL, &count, err, sizeof(err)) == ADB_OK) {
            adb__fmt(msg, sizeof(msg), "the checkpoint file %s is missing, but the log signed a "
                     "checkpoint of size %llu for this organization: signing is refused until "
                     "the file is restored (docs/checkpoints.md)", path,
                     (unsigned long long)size);
            refuse(cp, c, org, "file_missing", size, size, NULL,
                   "the log's checkpoint file is missing", msg);
            ok = false;
        } else {
            adb__fmt(msg, sizeof(msg), "log_checkpoint holds a checkpoint of size %llu for this "
                     "organization that the log key did not sign: %s", (unsigned long long)size,
                     err);
            refuse(cp, c, org, "forged_row", size, size, NULL,
                   "a checkpoint in the database was not signed by the log", msg);
        }
    }
    PQclear(r);
    return ok;
}

/* One offer: check, sign, store, push. Returns true when a witness should
 * be asked again later. */
static bool run_offer(adb__checkpointer *cp, PGconn *c, pending *e)
{
    char origin[ADB_NOTE_MAX_ORIGIN + 1], path[ADB_CHECKPOINT_PATH_MAX];
    char msg[ADB_CHECKPOINT_PATH_MAX + 512], err[512];
    last_signed ls;
    char *note = NULL;
    size_t note_len = 0;
    uint64_t hint;
    bool retry = false;

    if (!adb__checkpoint_origin(cp->log_name, e->org, origin, sizeof(origin)) ||
        !adb__checkpoint_path(cp->dir, e->org, path, sizeof(path))) {
        log_line(cp, "error", e->org, "bad_organization", "the organization id is too long for "
                 "a checkpoint origin");
        return false;
    }
    if (!read_last(cp, path, origin, &ls, msg, sizeof(msg))) {
        refuse(cp, c, e->org, "file_invalid", 0, e->size, NULL,
               "the log's checkpoint file does not verify", msg);
        free(ls.note);
        return false;
    }
    if (!ls.have && !no_file_ok(cp, c, e->org, path))
        return false;
    hint = ls.have ? ls.size : 0;

    if (ls.have && e->size < ls.size) {
        adb__fmt(msg, sizeof(msg), "the tree offered has %llu leaves, fewer than the %llu of the "
                 "checkpoint the log signed: refused (the tree lost its tail)",
                 (unsigned long long)e->size, (unsigned long long)ls.size);
        refuse(cp, c, e->org, "tree_shrank", ls.size, e->size, NULL,
               "the log refused to sign a shorter tree", msg);
        goto out;
    }
    if (ls.have && e->size == ls.size && memcmp(e->root, ls.root, 32) != 0) {
        adb__fmt(msg, sizeof(msg), "the tree offered at size %llu has another root than the "
                 "checkpoint the log signed at that size: refused", (unsigned long long)e->size);
        refuse(cp, c, e->org, "root_changed", ls.size, e->size, NULL,
               "the log refused to sign a rewritten tree", msg);
        goto out;
    }
    if (!ls.have || e->size > ls.size) {
        /* a first checkpoint extends nothing; any other must extend the last */
        if (ls.have && ls.size > 0) {
            adb__mhash proof[ADB_MERKLE_MAX_PROOF];
            size_t np = 0;
            adb_status st = cp->o.consistency(c, e->org, ls.size, e->size, proof, &np, err,
                                              sizeof(err));
            if (st != ADB_OK) {
                adb__fmt(msg, sizeof(msg), "no consistency proof from the signed size %llu to "
                         "%llu: %s: refused", (unsigned long long)ls.size,
                         (unsigned long long)e->size, err);
                refuse(cp, c, e->org, "no_proof", ls.size, e->size, NULL,
                       "the log refused to sign a tree it cannot prove consistent", msg);
                goto out;
            }
            if (!adb__merkle_verify_consistency(ls.size, e->size, ls.root, e->root, proof, np)) {
                adb__fmt(msg, sizeof(msg), "the tree offered at size %llu does not extend the "
                         "checkpoint the log signed at size %llu (the consistency proof fails): "
                         "refused", (unsigned long long)e->size, (unsigned long long)ls.size);
                refuse(cp, c, e->org, "inconsistent", ls.size, e->size, NULL,
                       "the log refused to sign an inconsistent tree", msg);
                goto out;
            }
        }
        /* Sign only what is durable. The writer acknowledges a batch once it
         * is flushed, but its rows are visible (and the integrator may read
         * them back) from its asynchronous COMMIT on, and the tree's own
         * rounds commit asynchronously too (docs/writer.md "Durability",
         * docs/log.md). A synchronous commit here flushes the WAL past both,
         * so a crash can never take back a leaf of a signed checkpoint. */
        if (!adb__writer_durable(cp->o.pool, c, false, err, sizeof(err))) {
            log_line(cp, "error", e->org, "flush_failed", err);
            failed(cp, c, e->org, "flush_failed", err);
            retry = true;
            goto out;
        }
        char body[ADB_CHECKPOINT_BODY_MAX];
        size_t bl = adb__checkpoint_body_format(origin, e->size, e->root, body, sizeof(body));
        if (!bl || !(note = adb__note_sign(cp->o.signer, body, bl, 0, &note_len, err,
                                           sizeof(err)))) {
            log_line(cp, "error", e->org, "sign_failed", bl ? err : "checkpoint body too long");
            failed(cp, c, e->org, "sign_failed", bl ? err : "checkpoint body too long");
            goto out;
        }
        if (!write_atomic(cp->dir, path, note, note_len, err, sizeof(err))) {
            /* not on disk: not signed as far as anyone may know */
            log_line(cp, "error", e->org, "write_failed", err);
            failed(cp, c, e->org, "write_failed", err);
            goto out;
        }
        stat_add(cp, &cp->stats.signed_count, 1);
        if (store_row(cp, c, e->org, e->size, e->root, note, note_len, 0, err, sizeof(err)))
            succeeded(cp);
        else
            failed(cp, c, e->org, "store_failed", err);
    } else {
        /* the same checkpoint: witnesses that have not cosigned it yet */
        note = ls.note;
        note_len = ls.len;
        ls.note = NULL;
        hint = e->hint ? e->hint : ls.size;
    }

    /* the witnesses that have not cosigned this note */
    if (cp->nwitnesses) {
        adb__note_verifier vs[ADB_CHECKPOINT_MAX_WITNESSES];
        bool have[ADB_CHECKPOINT_MAX_WITNESSES];
        size_t count = 0, added = 0;
        adb__buf lines = { 0 };

        for (size_t i = 0; i < cp->nwitnesses; i++)
            vs[i] = cp->witnesses[i].vkey;
        if (adb__note_verify(note, note_len, vs, cp->nwitnesses, NULL, have, NULL, &count, err,
                             sizeof(err)) == ADB_ERR_INVALID) {
            /* a cosignature in our own file that fails: start over without them */
            memset(have, 0, sizeof(have));
        }
        for (size_t i = 0; i < cp->nwitnesses; i++) {
            size_t before = lines.len;
            if (have[i])
                continue;
            if (push_witness(cp, c, e->org, &cp->witnesses[i], note, note_len, e->size, hint,
                             &lines) == PUSH_RETRY)
                retry = true;
            if (lines.len > before)
                added++;
        }
        if (added && !lines.oom) {
            char *full = malloc(note_len + lines.len + 1);
            if (full) {
                memcpy(full, note, note_len);
                memcpy(full + note_len, lines.p, lines.len);
                full[note_len + lines.len] = '\0';
                if (write_atomic(cp->dir, path, full, note_len + lines.len, err, sizeof(err))) {
                    size_t total = 0;
                    if (adb__note_verify(full, note_len + lines.len, vs, cp->nwitnesses, NULL,
                                         have, NULL, &total, err, sizeof(err)) != ADB_OK)
                        total = 0;
                    if (!store_row(cp, c, e->org, e->size, e->root, full, note_len + lines.len,
                                   total, err, sizeof(err)))
                        failed(cp, c, e->org, "store_failed", err);
                } else {
                    log_line(cp, "error", e->org, "write_failed", err);
                }
                free(full);
            }
        }
        adb__buf_free(&lines);
    }
out:
    free(note);
    free(ls.note);
    return retry;
}

/* ---- the waiting offers ----------------------------------------------------- */

/* Adds or replaces org's offer; called with mu held. */
static void put_locked(adb__checkpointer *cp, const char *org, uint64_t size,
                       const uint8_t root[32], double not_before, uint64_t hint, bool retry)
{
    uint32_t b = org_hash(org) % BUCKETS;
    pending *e;

    for (e = cp->buckets[b]; e; e = e->next)
        if (strcmp(e->org, org) == 0) {
            if (retry)
                return; /* a newer offer waits: it asks the witnesses anyway */
            if (size >= e->size) {
                e->size = size;
                memcpy(e->root, root, 32);
                e->not_before_ms = 0;
            }
            return;
        }
    if (cp->npending >= ADB_CHECKPOINT_MAX_PENDING) {
        cp->stats.dropped++;
        return;
    }
    if (!(e = calloc(1, sizeof(*e))) || !(e->org = strdup(org))) {
        free(e);
        cp->stats.dropped++;
        return;
    }
    e->size = size;
    memcpy(e->root, root, 32);
    e->not_before_ms = not_before;
    e->hint = hint;
    e->next = cp->buckets[b];
    cp->buckets[b] = e;
    cp->npending++;
}

void adb__checkpointer_offer(adb__checkpointer *cp, const char *org, uint64_t size,
                             const uint8_t root[32])
{
    if (!cp || !org)
        return;
    pthread_mutex_lock(&cp->mu);
    cp->stats.offers++;
    put_locked(cp, org, size, root, 0, 0, false);
    pthread_mutex_unlock(&cp->mu);
}

/* Takes the offers that are due (all when force) off the table; mu held. */
static pending *take_locked(adb__checkpointer *cp, bool force)
{
    double now = adb__now_ms();
    pending *out = NULL;

    for (size_t b = 0; b < BUCKETS; b++) {
        pending **pp = &cp->buckets[b];
        while (*pp) {
            pending *e = *pp;
            if (force || e->not_before_ms <= now) {
                *pp = e->next;
                e->next = out;
                out = e;
                cp->npending--;
            } else {
                pp = &e->next;
            }
        }
    }
    return out;
}

static void run_list(adb__checkpointer *cp, pending *list)
{
    PGconn *c = NULL;
    adb_status st;
    char err[256];

    if (!list)
        return;
    c = adb_pool_acquire(cp->o.pool, &st, err, sizeof(err));
    while (list) {
        pending *e = list;
        list = e->next;
        if (!c) {
            /* no database: nothing can be checked against the tree; again later */
            pthread_mutex_lock(&cp->mu);
            put_locked(cp, e->org, e->size, e->root, adb__now_ms() + cp->o.retry_ms, e->hint,
                       true);
            pthread_mutex_unlock(&cp->mu);
        } else if (run_offer(cp, c, e)) {
            pthread_mutex_lock(&cp->mu);
            put_locked(cp, e->org, e->size, e->root, adb__now_ms() + cp->o.retry_ms, e->hint,
                       true);
            pthread_mutex_unlock(&cp->mu);
        }
        free(e->org);
        free(e);
    }
    if (c)
        adb_pool_release(cp->o.pool, c);
    else
        log_line(cp, "warning", NULL, "database_unavailable", err);
    stat_add(cp, &cp->stats.rounds, 1);
}

static void *thread_main(void *arg)
{
    adb__checkpointer *cp = arg;

    pthread_mutex_lock(&cp->mu);
    for (;;) {
        if (!cp->stop && cp->flush_req == cp->flush_done) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long long ns = ts.tv_nsec + (long long)cp->o.interval_ms * 1000000LL;
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&cp->cond, &cp->mu, &ts);
        }
        bool stopping = cp->stop;
        uint64_t req = cp->flush_req;
        bool force = stopping || req != cp->flush_done;
        pending *list = take_locked(cp, force);
        pthread_mutex_unlock(&cp->mu);
        run_list(cp, list);
        pthread_mutex_lock(&cp->mu);
        if (force) {
            cp->flush_done = req;
            pthread_cond_broadcast(&cp->cond);
        }
        if (stopping)
            break;
    }
    pthread_mutex_unlock(&cp->mu);
    return NULL;
}

void adb__checkpointer_flush(adb__checkpointer *cp)
{
    if (!cp)
        return;
    pthread_mutex_lock(&cp->mu);
    uint64_t want = ++cp->flush_req;
    pthread_cond_broadcast(&cp->cond);
    while (cp->flush_done < want && !cp->stop)
        pthread_cond_wait(&cp->cond, &cp->mu);
    pthread_mutex_unlock(&cp->mu);
}

void adb__checkpointer_stats_get(adb__checkpointer *cp, adb__checkpointer_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!cp)
        return;
    pthread_mutex_lock(&cp->mu);
    *out = cp->stats;
    pthread_mutex_unlock(&cp->mu);
}

/* ---- start and stop --------------------------------------------------------- */

/* False (err filled) when dir lies inside the PostgreSQL server's data
 * directory, as far as the server tells (a role that may not read the
 * setting learns nothing: then a remote server's files are not ours). */
static bool outside_datadir(adb__checkpointer *cp, const char *dir, char *err, size_t errlen)
{
    adb_status st;
    char e[256], rdir[PATH_MAX], rdata[PATH_MAX];
    PGconn *c = adb_pool_acquire(cp->o.pool, &st, e, sizeof(e));
    bool ok = true;

    if (!c) {
        adb__fmt(err, errlen, "could not ask the database for its data directory: %s", e);
        return false;
    }
    PGresult *r = PQexec(c, "SELECT current_setting('data_directory')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && realpath(dir, rdir) &&
        realpath(PQgetvalue(r, 0, 0), rdata)) {
        size_t n = strlen(rdata);
        if (strncmp(rdir, rdata, n) == 0 && (rdir[n] == '/' || rdir[n] == '\0')) {
            adb__fmt(err, errlen, "AUDITDB_CHECKPOINT_DIR \"%s\" is inside the PostgreSQL data "
                     "directory \"%s\": the database must not hold the log's memory of what it "
                     "signed (docs/checkpoints.md)", dir, rdata);
            ok = false;
        }
    }
    PQclear(r);
    adb_pool_release(cp->o.pool, c);
    return ok;
}

static void free_cp(adb__checkpointer *cp)
{
    for (size_t b = 0; b < BUCKETS; b++)
        while (cp->buckets[b]) {
            pending *e = cp->buckets[b];
            cp->buckets[b] = e->next;
            free(e->org);
            free(e);
        }
    for (size_t i = 0; i < cp->nalerted; i++)
        free(cp->alerted[i].org);
    free(cp->witnesses);
    free(cp->log_name);
    free(cp->dir);
    pthread_mutex_destroy(&cp->mu);
    pthread_cond_destroy(&cp->cond);
    free(cp);
}

adb__checkpointer *adb__checkpointer_start(const adb__checkpointer_options *o, char *err,
                                           size_t errlen)
{
    adb__checkpointer *cp;
    pthread_condattr_t ca;
    char probe[ADB_CHECKPOINT_PATH_MAX];
    char origin[ADB_NOTE_MAX_ORIGIN + 1];

    if (!o || !o->pool || !o->signer || !o->signer->pkey || !o->consistency || !o->dir ||
        !*o->dir || !o->log_name) {
        adb__fmt(err, errlen, "the checkpointer needs a pool, the log key, a log name, a "
                 "directory and a consistency proof source");
        return NULL;
    }
    if (!adb__note_name_valid(o->log_name) || strcmp(o->log_name, o->signer->name) != 0 ||
        !adb__checkpoint_origin(o->log_name, "x", origin, sizeof(origin))) {
        adb__fmt(err, errlen, "invalid AUDITDB_LOG_NAME \"%s\" (or not the log key's name)",
                 o->log_name);
        return NULL;
    }
    if (!(cp = calloc(1, sizeof(*cp))))
        goto nomem;
    pthread_mutex_init(&cp->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cp->cond, &ca);
    pthread_condattr_destroy(&ca);
    cp->o = *o;
    if (cp->o.interval_ms <= 0)
        cp->o.interval_ms = 250;
    if (cp->o.witness_timeout_ms <= 0)
        cp->o.witness_timeout_ms = 10000;
    if (cp->o.retry_ms <= 0)
        cp->o.retry_ms = 5000;
    if (cp->o.alert_after <= 0)
        cp->o.alert_after = 5;
    if (!(cp->log_name = strdup(o->log_name)) || !(cp->dir = strdup(o->dir)) ||
        !(cp->witnesses = calloc(ADB_CHECKPOINT_MAX_WITNESSES, sizeof(adb__witness)))) {
        free_cp(cp);
        goto nomem;
    }
    cp->o.log_name = cp->log_name;
    cp->o.dir = cp->dir;
    cp->o.witnesses = NULL;
    adb__note_signer_verifier(o->signer, &cp->log_vkey);
    if (adb__witnesses_parse(o->witnesses, cp->witnesses, ADB_CHECKPOINT_MAX_WITNESSES,
                             &cp->nwitnesses, err, errlen) != ADB_OK) {
        free_cp(cp);
        return NULL;
    }
    if (!adb__mkdir_p(cp->dir, 0755)) {
        adb__fmt(err, errlen, "could not create AUDITDB_CHECKPOINT_DIR \"%s\": %s", cp->dir,
                 strerror(errno));
        free_cp(cp);
        return NULL;
    }
    /* writable: a probe file made and removed */
    adb__fmt(probe, sizeof(probe), "%s/.probe", cp->dir);
    if (!outside_datadir(cp, cp->dir, err, errlen) ||
        !write_atomic(cp->dir, probe, "", 0, err, errlen) || unlink(probe) == -1) {
        free_cp(cp);
        return NULL;
    }
    if (cp->nwitnesses && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        adb__fmt(err, errlen, "could not initialize libcurl");
        free_cp(cp);
        return NULL;
    }
    if (pthread_create(&cp->thread, NULL, thread_main, cp) != 0) {
        adb__fmt(err, errlen, "could not start the checkpointer thread");
        free_cp(cp);
        return NULL;
    }
    return cp;
nomem:
    adb__fmt(err, errlen, "out of memory");
    return NULL;
}

void adb__checkpointer_stop(adb__checkpointer *cp)
{
    if (!cp)
        return;
    pthread_mutex_lock(&cp->mu);
    cp->stop = true;
    pthread_cond_broadcast(&cp->cond);
    pthread_mutex_unlock(&cp->mu);
    pthread_join(cp->thread, NULL);
    free_cp(cp);
}
