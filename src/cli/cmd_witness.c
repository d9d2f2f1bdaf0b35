/*
 * cmd_witness.c - `auditdb witness`: a C2SP tlog-witness over HTTP
 * (libmicrohttpd, a thread per connection), POST /add-checkpoint only. The
 * decisions are src/log/witness.c's; this file reads the command line, the
 * key file, serves, and logs one line per request. docs/witness.md.
 */
#include "cli.h"
#include "../log/witness.h"
#include "../log/note.h"
#include "../core/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_LOGS 256
#define CONNECTIONS 64
#define PER_IP_CONNECTIONS 32
#define TIMEOUT_S 10

static const char *usage_text(void)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, "witness") == 0)
            return c->usage;
    return "";
}

typedef struct wreq {
    char *buf;
    size_t len;
    bool too_big;
} wreq;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len, bool allow_post)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (allow_post)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg,
                                  bool allow_post)
{
    char body[256];

    snprintf(body, sizeof(body), "%s\n", msg);
    return reply(c, status, "text/plain; charset=utf-8", body, strlen(body), allow_post);
}

static void log_line(unsigned status, const adb__witness_answer *a)
{
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (a)
        fprintf(stderr, "%s witness: add-checkpoint %u origin=%s old=%llu size=%llu: %s\n", when,
                status, a->origin[0] ? a->origin : "-", (unsigned long long)a->old_size,
                (unsigned long long)a->size, a->reason);
    else
        fprintf(stderr, "%s witness: add-checkpoint %u: body larger than %d bytes\n", when, status,
                ADB_WITNESS_MAX_BODY);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ptr)
{
    adb__witness_service *w = cls;
    wreq *r = *ptr;
    adb__witness_answer a;
    enum MHD_Result ret;

    (void)version;
    if (!r) {
        const char *cl;
        long long n;

        if (strcmp(url, "/add-checkpoint") != 0)
            return reply_text(c, MHD_HTTP_NOT_FOUND,
                              "not found: this witness serves POST /add-checkpoint", false);
        if (strcmp(method, "POST") != 0)
            return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use POST", true);
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && (!adb__parse_int(cl, 0, ADB_WITNESS_MAX_BODY, &n))) {
            log_line(MHD_HTTP_CONTENT_TOO_LARGE, NULL);
            return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large", false);
        }
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *ptr = r;
        return MHD_YES;
    }
    if (*size > 0) {
        if (!r->too_big && r->len + *size > ADB_WITNESS_MAX_BODY) {
            r->too_big = true;
            free(r->buf);
            r->buf = NULL;
        }
        if (!r->too_big) {
            char *nb = realloc(r->buf, r->len + *size);
            if (!nb)
                return MHD_NO;
            memcpy(nb + r->len, data, *size);
            r->buf = nb;
            r->len += *size;
        }
        *size = 0;
        return MHD_YES;
    }
    if (r->too_big) {
        log_line(MHD_HTTP_CONTENT_TOO_LARGE, NULL);
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large", false);
    }
    adb__witness_add_checkpoint(w, r->buf ? r->buf : "", r->len, &a);
    log_line((unsigned)a.status, &a);
    if (a.body)
        ret = reply(c, (unsigned)a.status, a.content_type, a.body, a.len, false);
    else
        ret = reply_text(c, 500, "out of memory", false);
    adb__witness_answer_free(&a);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **ptr,
                      enum MHD_RequestTerminationCode why)
{
    wreq *r = *ptr;

    (void)cls;
    (void)c;
    (void)why;
    if (r) {
        free(r->buf);
        free(r);
        *ptr = NULL;
    }
}

/* HOST:PORT or [V6]:PORT into *out (freeaddrinfo). */
static bool resolve(const char *listen, struct addrinfo **out)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    size_t hl;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    long long port;

    if (!colon || !adb__parse_int(colon + 1, 1, 65535, &port))
        return false;
    hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host))
        return false;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    return getaddrinfo(host, colon + 1, &hints, out) == 0;
}

int cmd_witness(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8081", *state = NULL, *keyfile = NULL, *name = NULL;
    adb__witness_log logs[MAX_LOGS];
    char prefixes[MAX_LOGS][ADB_NOTE_MAX_NAME + 2];
    size_t nlogs = 0;
    bool print_vkey = false;
    uint8_t seed[32];
    char err[512], vkey[ADB_NOTE_VKEY_MAX];
    adb__witness_options o;
    adb__witness_service *w;
    struct addrinfo *ai = NULL;
    struct MHD_Daemon *d;
    sigset_t sigs;
    int sig;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;

        if (strcmp(a, "--print-vkey") == 0) {
            print_vkey = true;
        } else if (strcmp(a, "--listen") == 0 && has) {
            listen = argv[++i];
        } else if (strcmp(a, "--state") == 0 && has) {
            state = argv[++i];
        } else if (strcmp(a, "--key") == 0 && has) {
            keyfile = argv[++i];
        } else if (strcmp(a, "--name") == 0 && has) {
            name = argv[++i];
        } else if (strcmp(a, "--log") == 0 && has) {
            const char *v = argv[++i], *eq = strchr(v, '=');
            if (nlogs == MAX_LOGS) {
                cli_error("at most %d --log options", MAX_LOGS);
                return EXIT_USAGE;
            }
            /* PREFIX=VKEY, or a bare VKEY (its '=' is base64 padding after
             * a '+') for the origins "<key name>/..." */
            if (eq && memchr(v, '+', (size_t)(eq - v)) == NULL) {
                if ((size_t)(eq - v) >= sizeof(prefixes[0])) {
                    cli_error("--log %s: origin prefix longer than %d bytes", v, ADB_NOTE_MAX_NAME);
                    return EXIT_USAGE;
                }
                memcpy(prefixes[nlogs], v, (size_t)(eq - v));
                prefixes[nlogs][eq - v] = '\0';
                logs[nlogs].vkey = eq + 1;
            } else {
                const char *plus = strchr(v, '+');
                if (!plus || (size_t)(plus - v) + 1 >= sizeof(prefixes[0])) {
                    cli_error("--log %s: expected [ORIGIN_PREFIX=]VKEY (name+keyid+base64)", v);
                    return EXIT_USAGE;
                }
                memcpy(prefixes[nlogs], v, (size_t)(plus - v));
                prefixes[nlogs][plus - v] = '/';
                prefixes[nlogs][plus - v + 1] = '\0';
                logs[nlogs].vkey = v;
            }
            logs[nlogs].prefix = prefixes[nlogs];
            nlogs++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text(), stdout);
            return EXIT_OK;
        } else {
            cli_error("witness: unknown option or missing value: %s", a);
            fputs(usage_text(), stderr);
            return EXIT_USAGE;
        }
    }
    if (!keyfile || !name) {
        cli_error("witness: --key FILE and --name NAME are required");
        return EXIT_USAGE;
    }
    if (!adb__note_name_valid(name)) {
        cli_error("witness: --name \"%s\" is not a valid key name (no spaces, no '+')", name);
        return EXIT_USAGE;
    }
    if (!print_vkey && (!state || nlogs == 0)) {
        cli_error("witness: --state DIR and at least one --log are required");
        return EXIT_USAGE;
    }
    if (!print_vkey && !resolve(listen, &ai)) {
        cli_error("witness: --listen \"%s\": expected HOST:PORT with a numeric port", listen);
        return EXIT_USAGE;
    }
    if (!adb__witness_key_file(keyfile, true, seed, err, sizeof(err))) {
        if (ai)
            freeaddrinfo(ai);
        cli_error("%s", err);
        return EXIT_FAILURE_;
    }
    if (!adb__witness_vkey(name, seed, vkey, sizeof(vkey))) {
        OPENSSL_cleanse(seed, sizeof(seed));
        if (ai)
            freeaddrinfo(ai);
        cli_error("could not make the witness's verifier key");
        return EXIT_FAILURE_;
    }
    if (print_vkey) {
        OPENSSL_cleanse(seed, sizeof(seed));
        printf("%s\n", vkey);
        return EXIT_OK;
    }
    o = (adb__witness_options){ .state_dir = state, .name = name, .seed = seed, .logs = logs,
                                .nlogs = nlogs };
    w = adb__witness_open(&o, err, sizeof(err));
    OPENSSL_cleanse(seed, sizeof(seed));
    if (!w) {
        freeaddrinfo(ai);
        cli_error("%s", err);
        return EXIT_FAILURE_;
    }

    /* signals are waited for below, in this thread only */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, handle, w,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_CONNECTIONS,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        adb__witness_close(w);
        cli_error("witness: could not listen on %s: %s", listen, strerror(errno));
        return EXIT_FAILURE_;
    }
    fprintf(stderr, "auditdb witness %s listening on %s, state in %s, %zu log(s)\n", vkey, listen,
            state, nlogs);
    if (sigwait(&sigs, &sig) != 0)
        sig = 0;
    MHD_stop_daemon(d);
    adb__witness_close(w);
    fprintf(stderr, "auditdb witness stopped\n");
    return EXIT_OK;
}
