/*
 * acceptor.c - first request heads checked before libmicrohttpd (acceptor.h).
 * One thread, one epoll set: the listening socket and the connections whose
 * first head is not complete yet ("pending"); a refused one is answered,
 * then drained for a moment so that closing it does not reset the answer.
 */
#include "acceptor.h"
#include "conns.h"
#include "http.h"
#include "../core/util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 200
#define DRAIN_MS 1000
/* bytes looked at: a whole head this server takes, and the blank line */
#define PEEK_MAX (ADB_HTTP_HEAD_MAX + 4)

typedef struct pending {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double since_ms;
    bool draining; /* answered: reading what the client still sends, then closed */
    int slot;
} pending;

struct adb_http_acceptor {
    adb_http_acceptor_options o;
    int ep;
    pthread_t thread;
    atomic_bool stop;
    pending **p;
    int n, cap;
    char *buf; /* PEEK_MAX bytes */
};

static void drop(adb_http_acceptor *a, pending *p, bool close_fd)
{
    epoll_ctl(a->ep, EPOLL_CTL_DEL, p->fd, NULL);
    if (close_fd)
        close(p->fd);
    a->n--;
    a->p[p->slot] = a->p[a->n];
    a->p[p->slot]->slot = p->slot;
    free(p);
}

static pending *oldest(adb_http_acceptor *a)
{
    pending *best = NULL;
    for (int i = 0; i < a->n; i++)
        if (!best || a->p[i]->since_ms < best->since_ms)
            best = a->p[i];
    return best;
}

/* ---- the head ------------------------------------------------------------- */

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of b[*pos..n) without its CR LF (or bare LF) in *line,
 * *len; false when no whole line is left. */
static bool next_line(const char *b, size_t n, size_t *pos, const char **line, size_t *len)
{
    const char *nl = memchr(b + *pos, '\n', n - *pos);
    if (!nl)
        return false;
    *line = b + *pos;
    *len = (size_t)(nl - *line);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    *pos = (size_t)(nl - b) + 1;
    return true;
}

/* Checks the peeked bytes: 0 when the head is complete and libmicrohttpd
 * may have it, -1 when more must come, else the status to answer with
 * *code and *message. */
static int check_head(const char *b, size_t n, const char **code, const char **message)
{
    size_t pos = 0, len;
    const char *line;

    while (pos + 1 < n && (b[pos] == '\r' || b[pos] == '\n')) /* blank lines before it */
        pos++;
    size_t start = pos;
    if (!next_line(b, n, &pos, &line, &len)) {
        if (n - start > ADB_HTTP_TARGET_MAX + 64) {
            *code = "URI_TOO_LONG";
            *message = "the request line is longer than the 8 KiB this server takes";
            return 414;
        }
        return n >= PEEK_MAX ? 431 : -1;
    }
    /* the request line: method SP target SP HTTP/1.x */
    const char *sp1 = memchr(line, ' ', len), *sp2 = NULL;
    for (size_t i = len; i > 0 && !sp2; i--)
        if (line[i - 1] == ' ')
            sp2 = line + i - 1;
    bool method_ok = sp1 && sp1 > line;
    for (const char *c = line; method_ok && c < sp1; c++)
        method_ok = tchar(*c);
    if (!method_ok || sp2 == sp1 || sp2 == sp1 + 1) {
        *code = "BAD_REQUEST";
        *message = "malformed request line: expected METHOD TARGET HTTP/1.1";
        return 400;
    }
    size_t vlen = len - (size_t)(sp2 + 1 - line);
    const char *v = sp2 + 1;
    if (!(vlen == 8 && (!memcmp(v, "HTTP/1.1", 8) || !memcmp(v, "HTTP/1.0", 8)))) {
        if (vlen > 5 && !memcmp(v, "HTTP/", 5)) {
            *code = "HTTP_VERSION_NOT_SUPPORTED";
            *message = "only HTTP/1.0 and HTTP/1.1 are served";
            return 505;
        }
        *code = "BAD_REQUEST";
        *message = "malformed request line: expected METHOD TARGET HTTP/1.1";
        return 400;
    }
    /* header fields up to the blank line */
    bool first = true;
    int fields = 0;
    for (;;) {
        if (!next_line(b, n, &pos, &line, &len))
            return n >= PEEK_MAX ? 431 : -1;
        if (len == 0)
            return 0;
        if (line[0] == ' ' || line[0] == '\t') { /* a folded continuation line */
            if (first)
                goto bad_field;
            continue;
        }
        first = false;
        if (++fields > ADB_HTTP_HEADERS_MAX) { /* each costs libmicrohttpd memory too */
            *message = "the request head has more than the 100 header fields this server takes";
            return 431;
        }
        const char *colon = memchr(line, ':', len);
        if (!colon || colon == line)
            goto bad_field;
        for (const char *c = line; c < colon; c++)
            if (!tchar(*c))
                goto bad_field;
        if (colon - line == 14 && !strncasecmp(line, "Content-Length", 14)) {
            const char *s = colon + 1, *e = line + len;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            bool digits = s < e;
            for (const char *c = s; digits && c < e; c++)
                digits = *c >= '0' && *c <= '9';
            if (!digits) {
                *code = "BAD_REQUEST";
                *message = "Content-Length is not a number";
                return 400;
            }
            if (e - s > 18) {
                *code = "PAYLOAD_TOO_LARGE";
                *message = "Content-Length is larger than any body this server takes";
                return 413;
            }
        }
    }
bad_field:
    *code = "BAD_REQUEST";
    *message = "malformed header field: expected Name: value";
    return 400;
}

static const char *reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    default: return "HTTP Version Not Supported";
    }
}

/* Sends the JSON answer, then only drains until the client closes. */
static void refuse(adb_http_acceptor *a, pending *p, int status, const char *code, const char *message)
{
    char rid[ADB_REQUEST_ID_MAX], body[400], resp[800];
    unsigned char rnd[12];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    adb__hex(rnd, sizeof(rnd), rid);
    adb__fmt(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"details\":{},"
             "\"requestId\":\"%s\"}}", code, message, rid);
    int len = snprintf(resp, sizeof(resp), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Cache-Control: no-store\r\nX-Request-Id: %s\r\nConnection: close\r\n"
                       "Content-Length: %zu\r\n\r\n%s", status, reason(status), rid, strlen(body), body);
    if (len > 0 && (size_t)len < sizeof(resp))
        (void)!send(p->fd, resp, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(p->fd, SHUT_WR);
    p->draining = true;
    p->since_ms = adb__now_ms();
    if (a->o.refused)
        a->o.refused(a->o.refused_ud, (unsigned)status, code, rid);
}

static void readable(adb_http_acceptor *a, pending *p)
{
    if (p->draining) {
        ssize_t r;
        while ((r = recv(p->fd, a->buf, PEEK_MAX, MSG_DONTWAIT)) > 0)
            ;
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            drop(a, p, true);
        return;
    }
    ssize_t n = recv(p->fd, a->buf, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        drop(a, p, true); /* gone before its head was complete */
        return;
    }
    if (n < 0)
        return;
    const char *code = "HEADERS_TOO_LARGE";
    const char *message = "the request head is larger than the 32 KiB this server takes";
    int st = check_head(a->buf, (size_t)n, &code, &message);
    if (st < 0)
        return;
    if (st > 0) {
        refuse(a, p, st, code, message);
        return;
    }
    /* complete and well formed: libmicrohttpd reads it (nothing was consumed) */
    int fd = p->fd;
    struct sockaddr_storage addr = p->addr;
    socklen_t addrlen = p->addrlen;
    drop(a, p, false);
    (void)MHD_add_connection(a->o.daemon, fd, (struct sockaddr *)&addr, addrlen); /* closes it on failure */
}

static void accept_all(adb_http_acceptor *a)
{
    for (;;) {
        pending *p = calloc(1, sizeof(*p));
        if (!p)
            return;
        p->addrlen = sizeof(p->addr);
        p->fd = accept4(a->o.listen_fd, (struct sockaddr *)&p->addr, &p->addrlen,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (p->fd < 0) {
            int e = errno;
            free(p);
            if ((e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) && a->n > 0) {
                drop(a, oldest(a), true); /* room for the next one, taken next round */
                adb_http_conns_count_closed(a->o.conns, false);
            }
            return;
        }
        if (a->n >= a->o.max_pending) { /* the one waiting longest goes */
            drop(a, oldest(a), true);
            adb_http_conns_count_closed(a->o.conns, false);
        }
        if (a->n == a->cap) {
            int ncap = a->cap ? 2 * a->cap : 256;
            pending **np = realloc(a->p, (size_t)ncap * sizeof(*np));
            if (!np) {
                close(p->fd);
                free(p);
                return;
            }
            a->p = np;
            a->cap = ncap;
        }
        p->since_ms = adb__now_ms();
        p->slot = a->n;
        a->p[a->n++] = p;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = p };
        if (epoll_ctl(a->ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
            drop(a, p, true);
            continue;
        }
        readable(a, p); /* the head may be there already */
    }
}

static void *acceptor_main(void *arg)
{
    adb_http_acceptor *a = arg;
    struct epoll_event evs[64];

    while (!atomic_load(&a->stop)) {
        int k = epoll_wait(a->ep, evs, 64, TICK_MS);
        for (int i = 0; i < k; i++) {
            if (!evs[i].data.ptr)
                accept_all(a);
            else
                readable(a, evs[i].data.ptr);
        }
        /* a head not complete in time, a refused connection drained long enough */
        double now = adb__now_ms();
        for (int i = 0; i < a->n;) {
            pending *p = a->p[i];
            if (now - p->since_ms > (p->draining ? DRAIN_MS : a->o.head_timeout_ms)) {
                if (!p->draining)
                    adb_http_conns_count_closed(a->o.conns, true);
                drop(a, p, true); /* the last entry moved into slot i */
            } else
                i++;
        }
    }
    return NULL;
}

adb_http_acceptor *adb_http_acceptor_start(const adb_http_acceptor_options *o)
{
    adb_http_acceptor *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->o = *o;
    a->ep = epoll_create1(EPOLL_CLOEXEC);
    a->buf = malloc(PEEK_MAX);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (a->ep < 0 || !a->buf || epoll_ctl(a->ep, EPOLL_CTL_ADD, o->listen_fd, &ev) != 0 ||
        pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
        if (a->ep >= 0)
            close(a->ep);
        free(a->buf);
        free(a);
        return NULL;
    }
    return a;
}

void adb_http_acceptor_stop(adb_http_acceptor *a)
{
    if (!a)
        return;
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    while (a->n > 0)
        drop(a, a->p[0], true);
    close(a->o.listen_fd);
    close(a->ep);
    free(a->p);
    free(a->buf);
    free(a);
}
