/*
 * witness.c - the tlog-witness's decisions (c2sp.org/tlog-witness): parse an
 * add-checkpoint body, check it against the log's key and the latest
 * checkpoint cosigned for its origin, prove consistency, write the new state
 * durably and cosign it. Signed notes and cosignatures are note.c's; the
 * Merkle proof check is merkle.c's. docs/witness.md.
 */
#include "witness.h"
#include "merkle.h"
#include "note.h"
#include "../core/key_file.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROOF_LINES 63        /* the spec's limit */
#define LOCK_BUCKETS 1024
#define MAX_ORIGINS 100000        /* origins with a lock (each one signed by a known log) */
#define STATE_NAME_MAX 200        /* longer encoded origins use a hashed file name */
#define STATE_FILE_MAX (ADB_NOTE_MAX_LEN + ADB_NOTE_SIGLINE_MAX)
#define MAX_EVIDENCE 1000         /* refused signed checkpoints kept per run */

typedef struct origin_lock {
    struct origin_lock *next;
    pthread_mutex_t mu;
    char origin[];
} origin_lock;

typedef struct witness_log {
    char *prefix;
    adb__note_verifier v;
} witness_log;

struct adb__witness_service {
    int dirfd; /* the state directory, flock()ed */
    adb__note_signer signer;
    witness_log *logs;
    size_t nlogs;
    pthread_mutex_t mu; /* the lock table */
    origin_lock *locks[LOCK_BUCKETS];
    size_t norigins;
    size_t nevidence;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
}

/* ---- keys ---------------------------------------------------------------- */

bool adb__witness_key_file(const char *path, bool create, uint8_t seed[32], char *err,
                           size_t errlen)
{
    char *text;
    size_t len;
    char why[512];

    if (adb__key_file_read(path, "witness key",
                           ADB_KEY_FILE_NOFOLLOW | (create ? ADB_KEY_FILE_CREATE : 0), &text, &len,
                           why, sizeof(why)) != ADB_OK) {
        set_err(err, errlen, "%s%s", why, "");
        return false;
    }
    bool good = adb__key_file_seed(text, len, seed);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!good)
        set_err(err, errlen,
                "witness key file \"%s\" does not hold 64 hex digits (an Ed25519 seed)%s", path,
                "");
    return good;
}

bool adb__witness_vkey(const char *name, const uint8_t seed[32], char *out, size_t outlen)
{
    adb__note_signer s;
    adb__note_verifier v;
    char err[256];
    bool ok;

    if (adb__note_signer_init(&s, name, ADB_NOTE_COSIG_V1, seed, err, sizeof(err)) != ADB_OK)
        return false;
    adb__note_signer_verifier(&s, &v);
    ok = adb__note_vkey_format(&v, out, outlen);
    adb__note_signer_free(&s);
    return ok;
}

/* ---- state files ----------------------------------------------------------- */

bool adb__witness_state_name(const char *origin, char *out, size_t outlen)
{
    char enc[STATE_NAME_MAX + 1];

    if (adb__checkpoint_org_encode(origin, enc, sizeof(enc)))
        return adb__fmt(out, outlen, "%s.checkpoint", enc);
    /* long origins: a name of fixed length (the file still names its origin) */
    char hex[65];
    adb__sha256_hex(origin, strlen(origin), hex);
    return adb__fmt(out, outlen, "sha256-%s.checkpoint", hex);
}

typedef struct witness_state {
    bool exists;
    uint64_t size;
    uint8_t root[32];
    char *text; /* the file as read (malloc()ed, NULL when none): evidence */
    size_t len;
} witness_state;

/* Reads origin's state: exists false when no file (never cosigned). false
 * with reason filled when the file is there but unreadable or not a
 * checkpoint of origin: the witness then refuses rather than start over. */
static bool state_read(adb__witness_service *w, const char *origin, const char *fname,
                       witness_state *s, char *reason, size_t rlen)
{
    char *buf = NULL, *end;
    size_t len = 0;
    adb__checkpoint_body cp;
    char err[256];
    struct stat st;
    int fd = openat(w->dirfd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    memset(s, 0, sizeof(*s));
    if (fd == -1 && errno == ENOENT)
        return true;
    if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)STATE_FILE_MAX) {
        (void)adb__fmt(reason, rlen, "state file %s unreadable: %s", fname,
                 fd == -1 ? strerror(errno) : "not a regular file of a note's size");
        if (fd != -1)
            close(fd);
        return false;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        (void)adb__fmt(reason, rlen, "out of memory");
        return false;
    }
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
        if (r <= 0) {
            if (r == -1 && errno == EINTR)
                continue;
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    /* the checkpoint's text ends at its first empty line (its lines are never
     * empty); the signatures after it were verified when it came, and with
     * the witness's own line it may hold one more than a request may */
    buf[len] = '\0';
    end = len == (size_t)st.st_size ? strstr(buf, "\n\n") : NULL;
    if (!end || adb__checkpoint_body_parse(buf, (size_t)(end - buf) + 1, &cp, err, sizeof(err)) !=
                    ADB_OK ||
        strcmp(cp.origin, origin) != 0) {
        (void)adb__fmt(reason, rlen, "state file %s is not a checkpoint of this origin", fname);
        free(buf);
        return false;
    }
    s->exists = true;
    s->size = cp.size;
    memcpy(s->root, cp.root, 32);
    s->text = buf;
    s->len = len;
    return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Replaces fname by the two parts, durably: a temporary file written and
 * fsync()ed, renamed over fname, then the directory fsync()ed. */
static bool state_write(adb__witness_service *w, const char *fname, const char *a, size_t alen,
                        const char *b, size_t blen, char *reason, size_t rlen)
{
    char tmp[STATE_NAME_MAX + 64];
    int fd;

    if (!adb__fmt(tmp, sizeof(tmp), ".%s.tmp", fname)) {
        (void)adb__fmt(reason, rlen, "state file name too long");
        return false;
    }
    fd = openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1 || !write_all(fd, a, alen) || !write_all(fd, b, blen) || fsync(fd) == -1) {
        (void)adb__fmt(reason, rlen, "could not write state file %s: %s", tmp, strerror(errno));
        if (fd != -1) {
            close(fd);
            unlinkat(w->dirfd, tmp, 0);
        }
        return false;
    }
    if (close(fd) == -1 || renameat(w->dirfd, tmp, w->dirfd, fname) == -1) {
        (void)adb__fmt(reason, rlen, "could not replace state file %s: %s", fname, strerror(errno));
        unlinkat(w->dirfd, tmp, 0);
        return false;
    }
    if (fsync(w->dirfd) == -1) {
        (void)adb__fmt(reason, rlen, "could not sync the state directory: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Keeps a refused checkpoint that the log did sign (a fork, a proof that
 * fails) with the checkpoint the witness held: together, evidence that the
 * log signed two histories (the spec: "might be proof of log misbehavior").
 * DIR/evidence/<state name>.<size>.<hash of the body>.refused, at most
 * MAX_EVIDENCE per run; best effort (a failure is noted in reason only). */
static void evidence_write(adb__witness_service *w, const char *fname, const adb__witness_answer *a,
                           const char *body, size_t len, const witness_state *st)
{
    char name[STATE_NAME_MAX + 128], hex[65], head[512];
    struct timespec now;
    struct tm tm;
    char when[32];
    int fd;

    pthread_mutex_lock(&w->mu);
    bool room = w->nevidence < MAX_EVIDENCE;
    if (room)
        w->nevidence++;
    pthread_mutex_unlock(&w->mu);
    if (!room)
        return;
    if (mkdirat(w->dirfd, "evidence", 0700) == -1 && errno != EEXIST)
        return;
    adb__sha256_hex(body, len, hex);
    hex[16] = '\0';
    if (!adb__fmt(name, sizeof(name), "evidence/%.*s.%llu.%s.refused",
                  (int)(strlen(fname) - strlen(".checkpoint")), fname,
                  (unsigned long long)a->size, hex))
        return;
    fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1)
        return; /* EEXIST: the same request was kept already */
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    (void)adb__fmt(head, sizeof(head), "refused %d at %s: %s\n--- request\n", a->status, when,
                   a->reason);
    if (write_all(fd, head, strlen(head)) && write_all(fd, body, len) &&
        write_all(fd, "--- cosigned before\n", 20) &&
        (!st->text || write_all(fd, st->text, st->len)))
        (void)fsync(fd);
    close(fd);
}

/* ---- per-origin locks ------------------------------------------------------ */

static size_t bucket_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % LOCK_BUCKETS);
}

/* The lock of origin, made on first use; NULL when too many origins or out of
 * memory. Locks live as long as the witness. */
static origin_lock *lock_of(adb__witness_service *w, const char *origin)
{
    size_t b = bucket_of(origin);
    origin_lock *l;

    pthread_mutex_lock(&w->mu);
    for (l = w->locks[b]; l; l = l->next)
        if (strcmp(l->origin, origin) == 0)
            break;
    if (!l && w->norigins < MAX_ORIGINS) {
        size_t n = strlen(origin) + 1;
        l = malloc(sizeof(*l) + n);
        if (l) {
            memcpy(l->origin, origin, n);
            pthread_mutex_init(&l->mu, NULL);
            l->next = w->locks[b];
            w->locks[b] = l;
            w->norigins++;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return l;
}

/* ---- open / close ------------------------------------------------------------ */

static bool log_covers(const char *prefix, const char *origin)
{
    size_t n = strlen(prefix);

    if (n > 0 && prefix[n - 1] == '/')
        return strncmp(origin, prefix, n) == 0 && origin[n] != '\0';
    return strcmp(origin, prefix) == 0;
}

adb__witness_service *adb__witness_open(const adb__witness_options *o, char *err, size_t errlen)
{
    adb__witness_service *w = calloc(1, sizeof(*w));
    char e[256];

    if (!w) {
        set_err(err, errlen, "out of memory%s%s", "", "");
        return NULL;
    }
    w->dirfd = -1;
    pthread_mutex_init(&w->mu, NULL);
    if (adb__note_signer_init(&w->signer, o->name, ADB_NOTE_COSIG_V1, o->seed, e, sizeof(e)) !=
        ADB_OK) {
        set_err(err, errlen, "witness name \"%s\": %s", o->name, e);
        goto fail;
    }
    if (o->nlogs == 0) {
        set_err(err, errlen, "no log to witness: give at least one --log%s%s", "", "");
        goto fail;
    }
    w->logs = calloc(o->nlogs, sizeof(*w->logs));
    if (!w->logs) {
        set_err(err, errlen, "out of memory%s%s", "", "");
        goto fail;
    }
    for (size_t i = 0; i < o->nlogs; i++) {
        const char *p = o->logs[i].prefix;
        if (!p || !p[0] || strlen(p) > ADB_NOTE_MAX_ORIGIN || strchr(p, '\n') ||
            !adb__utf8_valid(p, strlen(p))) {
            set_err(err, errlen, "log origin prefix \"%s\" is empty, too long or not one line%s",
                    p ? p : "", "");
            goto fail;
        }
        if (adb__note_vkey_parse(o->logs[i].vkey, &w->logs[i].v, e, sizeof(e)) != ADB_OK) {
            set_err(err, errlen, "log verifier key \"%s\": %s", o->logs[i].vkey, e);
            goto fail;
        }
        if (w->logs[i].v.type != ADB_NOTE_ED25519) {
            set_err(err, errlen, "log verifier key \"%s\" is not an Ed25519 note key (type 0x01)%s",
                    o->logs[i].vkey, "");
            goto fail;
        }
        w->logs[i].prefix = adb__strdup(p);
        w->nlogs = i + 1;
        if (!w->logs[i].prefix) {
            set_err(err, errlen, "out of memory%s%s", "", "");
            goto fail;
        }
    }
    if (!adb__mkdir_p(o->state_dir, 0700)) {
        set_err(err, errlen, "could not make state directory \"%s\": %s", o->state_dir,
                strerror(errno));
        goto fail;
    }
    w->dirfd = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd == -1) {
        set_err(err, errlen, "could not open state directory \"%s\": %s", o->state_dir,
                strerror(errno));
        goto fail;
    }
    if (flock(w->dirfd, LOCK_EX | LOCK_NB) == -1) {
        set_err(err, errlen, "state directory \"%s\" is in use by another witness (%s)",
                o->state_dir, strerror(errno));
        goto fail;
    }
    return w;
fail:
    adb__witness_close(w);
    return NULL;
}

void adb__witness_close(adb__witness_service *w)
{
    if (!w)
        return;
    if (w->dirfd != -1)
        close(w->dirfd); /* drops the flock */
    for (size_t b = 0; b < LOCK_BUCKETS; b++) {
        origin_lock *l = w->locks[b];
        while (l) {
            origin_lock *next = l->next;
            pthread_mutex_destroy(&l->mu);
            free(l);
            l = next;
        }
    }
    for (size_t i = 0; i < w->nlogs; i++)
        free(w->logs[i].prefix);
    free(w->logs);
    adb__note_signer_free(&w->signer);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- add-checkpoint ------------------------------------------------------------ */

static void answer(adb__witness_answer *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets a refusal: status, the reason (also the text/plain body). */
static void answer(adb__witness_answer *a, int status, const char *fmt, ...)
{
    va_list ap;

    a->status = status;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
    free(a->body);
    a->body = adb__aprintf("%s\n", a->reason);
    a->len = a->body ? strlen(a->body) : 0;
    a->content_type = "text/plain; charset=utf-8";
}

/* A decimal size: "0" or no leading zero, at most 2^63 - 1. */
static bool parse_size(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 19 || (s[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

/* A 409: the latest cosigned size as text/x.tlog.size; fmt takes x, latest. */
static void conflict(adb__witness_answer *a, uint64_t latest, const char *fmt, uint64_t x)
{
    char body[32];

    a->status = 409;
    snprintf(a->reason, sizeof(a->reason), fmt, (unsigned long long)x, (unsigned long long)latest);
    snprintf(body, sizeof(body), "%llu\n", (unsigned long long)latest);
    free(a->body);
    a->body = adb__strdup(body);
    a->len = a->body ? strlen(a->body) : 0;
    a->content_type = "text/x.tlog.size";
}

void adb__witness_add_checkpoint(adb__witness_service *w, const char *body, size_t len,
                                 adb__witness_answer *a)
{
    static const uint8_t empty_root[32] = { /* SHA-256 of nothing */
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55 };
    const char *p = body, *end = body + len, *nl;
    adb__mhash proof[MAX_PROOF_LINES];
    size_t nproof = 0, nv = 0, count = 0;
    uint64_t old;
    adb__note note;
    adb__checkpoint_body cp;
    adb__note_verifier *vs = NULL;
    witness_state st = { 0 };
    origin_lock *lock = NULL;
    char err[256], fname[STATE_NAME_MAX + 32], line[ADB_NOTE_SIGLINE_MAX];
    size_t linelen;
    struct timespec now;

    memset(a, 0, sizeof(*a));
    err[0] = '\0';

    /* 1. well formed: "old N", proof lines, a blank line, a checkpoint */
    nl = memchr(p, '\n', len);
    if (!nl || nl - p < 4 || memcmp(p, "old ", 4) != 0 ||
        !parse_size(p + 4, (size_t)(nl - p - 4), &old)) {
        answer(a, 400,
               "the body must start with \"old <size>\" (decimal, no leading zero) and a newline");
        return;
    }
    a->old_size = old;
    p = nl + 1;
    for (;;) {
        nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!nl) {
            answer(a, 400, "no empty line between the consistency proof and the checkpoint");
            return;
        }
        if (nl == p)
            break;
        if (nproof == MAX_PROOF_LINES) {
            answer(a, 400, "more than %d consistency proof lines", MAX_PROOF_LINES);
            return;
        }
        if (adb__note_b64_decode(p, (size_t)(nl - p), proof[nproof], 32) != 32) {
            answer(a, 400, "consistency proof line %zu is not the base64 of a 32-byte hash",
                   nproof + 1);
            return;
        }
        nproof++;
        p = nl + 1;
    }
    p = nl + 1;
    if (adb__note_parse(p, (size_t)(end - p), &note, err, sizeof(err)) != ADB_OK) {
        answer(a, 400, "checkpoint: %s", err);
        return;
    }
    if (adb__checkpoint_body_parse(note.text, note.text_len, &cp, err, sizeof(err)) != ADB_OK) {
        answer(a, 400, "checkpoint: %s", err);
        return;
    }
    (void)adb__fmt(a->origin, sizeof(a->origin), "%s", cp.origin);
    a->size = cp.size;
    if (old == 0 && nproof > 0) {
        answer(a, 400, "the consistency proof must be empty when old is 0");
        return;
    }

    /* 2. the origin known */
    vs = malloc(w->nlogs * sizeof(*vs));
    if (!vs) {
        answer(a, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < w->nlogs; i++)
        if (log_covers(w->logs[i].prefix, cp.origin))
            vs[nv++] = w->logs[i].v;
    if (nv == 0) {
        answer(a, 404, "unknown origin");
        goto out;
    }

    /* 3. signed by the log: unknown keys ignored, a known key's bad signature refused */
    if (adb__note_verify(p, (size_t)(end - p), vs, nv, NULL, NULL, NULL, &count, err,
                         sizeof(err)) != ADB_OK || count == 0) {
        answer(a, 403, "the checkpoint is not signed by the log's key (%s)", err);
        goto out;
    }

    /* 4. old <= size */
    if (old > cp.size) {
        answer(a, 400, "old size %llu is larger than the checkpoint's size %llu",
               (unsigned long long)old, (unsigned long long)cp.size);
        goto out;
    }

    /* 5. against the latest cosigned checkpoint, one request per origin at a time */
    lock = lock_of(w, cp.origin);
    if (!lock) {
        answer(a, 503, "too many origins");
        goto out;
    }
    if (!adb__witness_state_name(cp.origin, fname, sizeof(fname))) {
        answer(a, 500, "state file name too long");
        goto out;
    }
    pthread_mutex_lock(&lock->mu);
    if (!state_read(w, cp.origin, fname, &st, err, sizeof(err))) {
        answer(a, 500, "%s", err);
        goto unlock;
    }
    if (old != st.size) {
        conflict(a, st.size, "old size %llu is not the latest cosigned size %llu", old);
        goto unlock;
    }
    if (old == cp.size) {
        if (st.exists ? memcmp(st.root, cp.root, 32) != 0
                      : (cp.size == 0 && memcmp(cp.root, empty_root, 32) != 0)) {
            conflict(a, st.size,
                     "size %llu cosigned before with another root (latest %llu): a fork", cp.size);
            evidence_write(w, fname, a, body, len, &st);
            goto unlock;
        }
        if (nproof > 0) {
            answer(a, 422, "the consistency proof between equal sizes must be empty");
            goto unlock;
        }
    } else if (old > 0 &&
               !adb__merkle_verify_consistency(old, cp.size, st.root, cp.root,
                                               (const adb__mhash *)proof, nproof)) {
        answer(a, 422, "the consistency proof from %llu to %llu does not verify",
               (unsigned long long)old, (unsigned long long)cp.size);
        evidence_write(w, fname, a, body, len, &st);
        goto unlock;
    }

    /* 6. cosign, persist the cosigned checkpoint, then answer */
    clock_gettime(CLOCK_REALTIME, &now);
    linelen = adb__cosign(&w->signer, note.text, note.text_len, (uint64_t)now.tv_sec, line,
                          sizeof(line), err, sizeof(err));
    if (linelen == 0) {
        answer(a, 500, "could not cosign: %s", err);
        goto unlock;
    }
    if (!state_write(w, fname, p, (size_t)(end - p), line, linelen, err, sizeof(err))) {
        answer(a, 500, "%s", err);
        goto unlock;
    }
    a->status = 200;
    a->body = adb__strdup(line);
    a->len = a->body ? linelen : 0;
    a->content_type = "text/plain; charset=utf-8";
    snprintf(a->reason, sizeof(a->reason), "cosigned");
    if (!a->body)
        answer(a, 500, "out of memory");
unlock:
    pthread_mutex_unlock(&lock->mu);
    free(st.text);
out:
    free(vs);
}

void adb__witness_answer_free(adb__witness_answer *a)
{
    if (!a)
        return;
    free(a->body);
    a->body = NULL;
}
