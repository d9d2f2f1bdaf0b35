/*
 * acceptor.c - accepts client connections and relays them to libmicrohttpd
 * (acceptor.h). One thread, one epoll set: the listening socket, each
 * client socket, and for each client that sent a well-formed first head
 * this thread's end of a socketpair whose other end libmicrohttpd reads as
 * the connection. Bytes from the client pass only once framing.c has
 * checked them (whole request heads; chunked framing as it comes); answers
 * coming back are counted, so that an error answer made here goes after
 * the answers to the requests before it. Then the connection is closed,
 * the client drained for a moment so that closing does not reset the answer.
 */
#include "acceptor.h"
#include "conns.h"
#include "framing.h"
#include "http.h"
#include "../core/util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 200
#define DRAIN_MS 1000
#define IN_MIN (16 * 1024)
/* a whole head not passed yet, and the bytes before it waiting to pass */
#define IN_MAX (2 * (ADB_HTTP_HEAD_MAX + 4))
#define OUT_CAP (32 * 1024)
/* requests passed and not answered yet (pipelined): at most */
#define IN_FLIGHT_MAX 64
/* an answer to flush, or a client to drain, after the end: at most */
#define CLOSING_MS 10000

enum { P_FIRST, P_RELAY, P_CLOSING, P_DRAIN };

typedef struct conn {
    int c, m;              /* client socket; this end of the socketpair (-1 before) */
    int mh;                /* libmicrohttpd's end (its number: the abort notes) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double since_ms;       /* accepted; or the end began */
    int slot, phase;
    bool c_in, c_out, m_in, m_out; /* ready, as epoll last said (edge-triggered) */
    bool c_eof, m_eof;
    bool m_shut;           /* libmicrohttpd takes no more bytes (its answers may still come) */
    char *in;              /* from the client: in[0,cleared) may pass, the rest is being checked */
    size_t in_len, in_cap, cleared;
    char *out;             /* to the client */
    size_t out_len, out_off;
    unsigned requests, answered;
    uint64_t head_bits;    /* bit k % 64: request k is a HEAD request */
    bool err, err_done;    /* an error answer is due; it was made (or was not needed) */
    unsigned err_after;    /* answers that must go before it */
    bool lost;             /* the answers can no longer be followed */
    bool dead;             /* closed: freed after the events at hand (one may still name it) */
    struct conn *next_dead;
    adb_http_reqframe rf;
    adb_http_respframe resp;
} conn;

struct adb_http_acceptor {
    adb_http_acceptor_options o;
    int ep;
    pthread_t thread;
    atomic_bool stop, quiesce;
    bool listening;
    conn **p;
    int n, cap, first; /* all connections; those still before their first head */
    char *buf;         /* for draining */
    conn *dead;        /* closed in this round of events, freed at its end */
    int wake_fd;       /* an eventfd: a worker resumed a connection */
    pthread_mutex_t notes_mu;
    struct note *notes; /* requests cut off here, for libmicrohttpd's side to log */
};

/* A request whose head libmicrohttpd has, refused here during its body:
 * the access log line is server.c's (it knows the route and the key). */
typedef struct note {
    int fd;
    unsigned status;
    const char *code;
    char rid[ADB_REQUEST_ID_MAX];
    struct note *next;
} note;

static void add_note(adb_http_acceptor *a, int fd, unsigned status, const char *code, const char *rid)
{
    note *n = calloc(1, sizeof(*n));
    if (!n)
        return;
    n->fd = fd;
    n->status = status;
    n->code = code;
    adb__fmt(n->rid, sizeof(n->rid), "%s", rid);
    pthread_mutex_lock(&a->notes_mu);
    n->next = a->notes;
    a->notes = n;
    pthread_mutex_unlock(&a->notes_mu);
}

bool adb_http_acceptor_take_note(adb_http_acceptor *a, int fd, unsigned *status, const char **code,
                                 char rid[ADB_REQUEST_ID_MAX])
{
    note *n = NULL;
    if (!a)
        return false;
    pthread_mutex_lock(&a->notes_mu);
    for (note **pp = &a->notes; *pp; pp = &(*pp)->next)
        if ((*pp)->fd == fd) {
            n = *pp;
            *pp = n->next;
            break;
        }
    pthread_mutex_unlock(&a->notes_mu);
    if (!n)
        return false;
    *status = n->status;
    *code = n->code;
    memcpy(rid, n->rid, ADB_REQUEST_ID_MAX);
    free(n);
    return true;
}

static void conn_free(adb_http_acceptor *a, conn *k)
{
    epoll_ctl(a->ep, EPOLL_CTL_DEL, k->c, NULL);
    close(k->c);
    if (k->m >= 0) {
        epoll_ctl(a->ep, EPOLL_CTL_DEL, k->m, NULL);
        close(k->m);
    }
    if (k->phase == P_FIRST)
        a->first--;
    a->n--;
    a->p[k->slot] = a->p[a->n];
    a->p[k->slot]->slot = k->slot;
    free(k->in);
    free(k->out);
    k->in = k->out = NULL;
    k->dead = true;
    k->next_dead = a->dead;
    a->dead = k;
}

static void bury(adb_http_acceptor *a)
{
    while (a->dead) {
        conn *k = a->dead;
        a->dead = k->next_dead;
        free(k);
    }
}

static conn *oldest_first(adb_http_acceptor *a)
{
    conn *best = NULL;
    for (int i = 0; i < a->n; i++)
        if (a->p[i]->phase == P_FIRST && (!best || a->p[i]->since_ms < best->since_ms))
            best = a->p[i];
    return best;
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

/* The JSON error answer, at the end of k->out; false when there is no room yet. */
static bool error_answer(adb_http_acceptor *a, conn *k)
{
    char rid[ADB_REQUEST_ID_MAX], body[400], resp[800];
    unsigned char rnd[12];
    const adb_http_reqframe *f = &k->rf;

    if (!k->out && !(k->out = malloc(OUT_CAP)))
        return false;
    if (k->out_len + sizeof(resp) > OUT_CAP)
        return false;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    adb__hex(rnd, sizeof(rnd), rid);
    adb__fmt(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"details\":{},"
             "\"requestId\":\"%s\"}}", f->code, f->message, rid);
    int len = snprintf(resp, sizeof(resp), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Cache-Control: no-store\r\nX-Request-Id: %s\r\nConnection: close\r\n"
                       "Content-Length: %zu\r\n\r\n%s", f->status, reason(f->status), rid,
                       strlen(body), body);
    if (len > 0 && (size_t)len < sizeof(resp)) {
        memcpy(k->out + k->out_len, resp, (size_t)len);
        k->out_len += (size_t)len;
    }
    if (f->in_request && k->m >= 0 && !k->m_eof) /* libmicrohttpd is reading it: it logs it */
        add_note(a, k->mh, (unsigned)f->status, f->code, rid);
    else if (a->o.refused)
        a->o.refused(a->o.refused_ud, (unsigned)f->status, f->code, rid);
    return true;
}

static bool watch(adb_http_acceptor *a, int fd, void *ptr)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = ptr };
    return epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

/* Into phase: the end's clock starts when it begins. */
static void set_phase(adb_http_acceptor *a, conn *k, int phase)
{
    if (k->phase == P_FIRST)
        a->first--;
    if (phase > P_RELAY && (k->phase <= P_RELAY || phase == P_DRAIN))
        k->since_ms = adb__now_ms();
    k->phase = phase;
}

/* The first head is whole and well formed: libmicrohttpd gets the other end
 * of a socketpair, with the client's real address (its per-address limit,
 * conns.c and the access log see the client). */
static void start_relay(adb_http_acceptor *a, conn *k)
{
    int sv[2];

    set_phase(a, k, P_RELAY);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        k->m_eof = true; /* closed like a connection libmicrohttpd refused */
        return;
    }
    k->m = sv[0];
    k->mh = sv[1];
    k->m_out = true;
    if (!watch(a, k->m, (char *)k + 1)) {
        close(sv[1]);
        k->m_eof = true;
        return;
    }
    /* on failure (a connection limit) libmicrohttpd closes sv[1]: this end reads its end */
    (void)MHD_add_connection(a->o.daemon, sv[1], (struct sockaddr *)&k->addr, k->addrlen);
}

/* The answer the next final answer completes is for a HEAD request. */
static bool answers_head(void *ud)
{
    conn *k = ud;
    return (k->head_bits >> (k->answered % 64)) & 1;
}

/* Moves what can move, until nothing can; false when k was freed. */
static bool pump(adb_http_acceptor *a, conn *k)
{
    for (int round = 0; round < 256; round++) {
        bool moved = false;
        ssize_t r;

        if (k->phase == P_DRAIN) {
            while ((r = recv(k->c, a->buf, IN_MAX, MSG_DONTWAIT)) > 0)
                ;
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                conn_free(a, k);
                return false;
            }
            return true;
        }
        /* the client's bytes, checked */
        if (k->c_in && !k->c_eof && !k->err && !k->m_shut && k->phase <= P_RELAY &&
            k->requests - k->answered < IN_FLIGHT_MAX) {
            if (k->in_len == k->in_cap && k->cleared == 0 && k->in_cap < IN_MAX) {
                size_t ncap = k->in_cap ? IN_MAX : IN_MIN;
                char *nb = realloc(k->in, ncap);
                if (!nb) {
                    conn_free(a, k);
                    return false;
                }
                k->in = nb;
                k->in_cap = ncap;
            }
            if (k->in_len < k->in_cap) {
                r = recv(k->c, k->in + k->in_len, k->in_cap - k->in_len, MSG_DONTWAIT);
                if (r > 0) {
                    k->in_len += (size_t)r;
                    moved = true;
                } else if (r == 0) {
                    k->c_eof = true;
                    moved = true;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK)
                    k->c_in = false;
                else {
                    conn_free(a, k); /* the client is gone: so is what it asked */
                    return false;
                }
            }
        }
        while (!k->err && k->cleared < k->in_len && k->requests - k->answered < IN_FLIGHT_MAX) {
            int ev;
            k->cleared += adb_http_reqframe_scan(&k->rf, k->in + k->cleared, k->in_len - k->cleared, &ev);
            if (ev == ADB_FR_HEAD) {
                if (k->rf.is_head)
                    k->head_bits |= (uint64_t)1 << (k->requests % 64);
                else
                    k->head_bits &= ~((uint64_t)1 << (k->requests % 64));
                k->requests++;
                if (k->phase == P_FIRST)
                    start_relay(a, k);
                moved = true;
                continue;
            }
            if (ev == ADB_FR_ERROR) {
                k->err = true; /* after the answers to the requests passed before it */
                k->err_after = k->requests - (k->rf.in_request ? 1 : 0);
                moved = true;
            }
            break;
        }
        if (k->c_eof && !k->err && k->phase <= P_RELAY &&
            adb_http_reqframe_eof(&k->rf, k->in_len - k->cleared)) {
            k->err = true;
            k->err_after = k->requests - (k->rf.in_request ? 1 : 0);
        }
        /* to libmicrohttpd */
        if (k->cleared && k->m >= 0 && k->m_out && !k->m_eof && !k->m_shut) {
            r = send(k->m, k->in, k->cleared, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                memmove(k->in, k->in + r, k->in_len - (size_t)r);
                k->in_len -= (size_t)r;
                k->cleared -= (size_t)r;
                moved = true;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                k->m_out = false;
            else
                k->m_shut = true; /* closed after answering (a body it will not read): read that answer */
        }
        /* its answers */
        if (k->m >= 0 && k->m_in && !k->m_eof && k->out_len < OUT_CAP) {
            if (!k->out && !(k->out = malloc(OUT_CAP))) {
                conn_free(a, k);
                return false;
            }
            r = recv(k->m, k->out + k->out_len, OUT_CAP - k->out_len, MSG_DONTWAIT);
            if (r > 0) {
                unsigned done = 0;
                if (!k->lost && !adb_http_respframe_scan(&k->resp, k->out + k->out_len, (size_t)r,
                                                         &done, answers_head, k))
                    k->lost = true;
                k->answered += done;
                k->out_len += (size_t)r;
                moved = true;
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                k->m_eof = true;
                moved = true;
            } else
                k->m_in = false;
        }
        /* the error answer, once the answers before it are out of libmicrohttpd */
        if (k->err && !k->err_done && !k->lost &&
            (k->m < 0 || (k->answered >= k->err_after && !ADB_HTTP_RESP_PARTIAL(&k->resp)))) {
            if (k->answered > k->err_after || error_answer(a, k)) {
                /* (libmicrohttpd answered that request itself: its answer stands) */
                k->err_done = true;
                if (k->m >= 0 && !k->m_eof) {
                    shutdown(k->m, SHUT_RDWR); /* it drops the request and closes */
                    k->m_eof = true;
                }
                set_phase(a, k, P_CLOSING);
                moved = true;
            }
        }
        /* to the client */
        if (k->out_len > k->out_off && k->c_out) {
            r = send(k->c, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                k->out_off += (size_t)r;
                if (k->out_off == k->out_len)
                    k->out_off = k->out_len = 0;
                moved = true;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                k->c_out = false;
            else {
                conn_free(a, k);
                return false;
            }
        }
        /* the end: libmicrohttpd closed, or the client finished, or shutting down idle */
        bool idle = k->requests == k->answered && k->in_len == 0 && !ADB_HTTP_RESP_PARTIAL(&k->resp);
        if (k->phase == P_RELAY && !k->err &&
            (k->m_eof || (k->c_eof && idle) || (atomic_load(&a->quiesce) && idle && !k->out_len))) {
            if (k->m >= 0 && !k->m_eof) {
                shutdown(k->m, SHUT_RDWR);
                k->m_eof = true;
            }
            set_phase(a, k, P_CLOSING);
            moved = true;
        }
        if (k->phase == P_FIRST && k->c_eof && !k->err) { /* gone before its first head */
            conn_free(a, k);
            return false;
        }
        if (k->phase == P_RELAY && k->err && k->m_eof && !k->err_done) {
            set_phase(a, k, P_CLOSING); /* closed by libmicrohttpd before the answers came */
            moved = true;
        }
        if (k->phase == P_CLOSING && (k->m_eof || k->m < 0) && k->out_len == 0) {
            shutdown(k->c, SHUT_WR);
            set_phase(a, k, P_DRAIN);
            moved = true;
        }
        if (!moved)
            break;
    }
    /* nothing held between requests */
    if (k->in && k->in_len == 0) {
        free(k->in);
        k->in = NULL;
        k->in_cap = 0;
    }
    if (k->out && k->out_len == 0) {
        free(k->out);
        k->out = NULL;
    }
    return true;
}

static void ready(adb_http_acceptor *a, void *ptr, uint32_t events)
{
    bool is_m = (uintptr_t)ptr & 1;
    conn *k = (conn *)((uintptr_t)ptr & ~(uintptr_t)1);
    if (k->dead)
        return;
    bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    bool out = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);

    if (is_m) {
        k->m_in |= in;
        k->m_out |= out;
    } else {
        k->c_in |= in;
        k->c_out |= out;
    }
    pump(a, k);
}

static void accept_all(adb_http_acceptor *a)
{
    for (;;) {
        conn *k = calloc(1, sizeof(*k));
        if (!k)
            return;
        k->addrlen = sizeof(k->addr);
        k->m = -1;
        k->c = accept4(a->o.listen_fd, (struct sockaddr *)&k->addr, &k->addrlen,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (k->c < 0) {
            int e = errno;
            free(k);
            conn *old = a->first > 0 ? oldest_first(a) : NULL;
            if ((e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) && old) {
                conn_free(a, old); /* room for the next one, taken next round */
                adb_http_conns_count_closed(a->o.conns, false);
            }
            return;
        }
        if (a->first >= a->o.max_pending) { /* the one waiting longest goes */
            conn_free(a, oldest_first(a));
            adb_http_conns_count_closed(a->o.conns, false);
        }
        if (a->n == a->cap) {
            int ncap = a->cap ? 2 * a->cap : 256;
            conn **np = realloc(a->p, (size_t)ncap * sizeof(*np));
            if (!np) {
                close(k->c);
                free(k);
                return;
            }
            a->p = np;
            a->cap = ncap;
        }
        k->since_ms = adb__now_ms();
        k->slot = a->n;
        k->rf.max_body = a->o.max_body;
        k->c_out = true;
        a->p[a->n++] = k;
        a->first++;
        if (!watch(a, k->c, k)) {
            conn_free(a, k);
            continue;
        }
        k->c_in = true; /* the head may be there already */
        pump(a, k);
    }
}

static void stop_listening(adb_http_acceptor *a)
{
    epoll_ctl(a->ep, EPOLL_CTL_DEL, a->o.listen_fd, NULL);
    close(a->o.listen_fd);
    a->listening = false;
    for (int i = 0; i < a->n;) {
        if (a->p[i]->phase == P_FIRST)
            conn_free(a, a->p[i]); /* the last entry moved into slot i */
        else if (pump(a, a->p[i])) /* idle ones close now */
            i++;
    }
}

/* libmicrohttpd's epoll set in this one (its sockets, and the signal a
 * worker gives when it resumes a connection) */
static char mhd_tag, wake_tag;

static void *acceptor_main(void *arg)
{
    adb_http_acceptor *a = arg;
    struct epoll_event evs[64];

    while (!atomic_load(&a->stop)) {
        if (a->listening && atomic_load(&a->quiesce))
            stop_listening(a);
        int wait_ms = TICK_MS;
        MHD_UNSIGNED_LONG_LONG mhd_ms;
        if (MHD_get_timeout(a->o.daemon, &mhd_ms) == MHD_YES && mhd_ms < (MHD_UNSIGNED_LONG_LONG)wait_ms)
            wait_ms = (int)mhd_ms;
        int k = epoll_wait(a->ep, evs, 64, wait_ms);
        for (int i = 0; i < k; i++) {
            if (!evs[i].data.ptr) {
                if (a->listening)
                    accept_all(a);
            } else if (evs[i].data.ptr == &wake_tag) {
                uint64_t v;
                (void)!read(a->wake_fd, &v, sizeof(v));
            } else if (evs[i].data.ptr != &mhd_tag)
                ready(a, evs[i].data.ptr, evs[i].events);
        }
        /* libmicrohttpd reads what was just passed to it, and writes what
         * the workers answered, on this thread: no thread between the relay
         * and it (one more hop each way cost a quarter of the rate of small
         * requests) */
        MHD_run(a->o.daemon);
        bury(a);
        /* a first head not complete in time; an end that takes too long */
        double now = adb__now_ms();
        for (int i = 0; i < a->n;) {
            conn *p = a->p[i];
            double limit = p->phase == P_FIRST ? a->o.head_timeout_ms
                         : p->phase == P_DRAIN ? DRAIN_MS : p->phase == P_CLOSING ? CLOSING_MS : -1;
            if (limit >= 0 && now - p->since_ms > limit) {
                if (p->phase == P_FIRST)
                    adb_http_conns_count_closed(a->o.conns, true);
                conn_free(a, p); /* the last entry moved into slot i */
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
    a->buf = malloc(IN_MAX);
    a->listening = true;
    pthread_mutex_init(&a->notes_mu, NULL);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    struct epoll_event mev = { .events = EPOLLIN, .data.ptr = &mhd_tag };
    struct epoll_event wev = { .events = EPOLLIN, .data.ptr = &wake_tag };
    a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(o->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (a->ep < 0 || !a->buf || epoll_ctl(a->ep, EPOLL_CTL_ADD, o->listen_fd, &ev) != 0 || !di ||
        epoll_ctl(a->ep, EPOLL_CTL_ADD, di->epoll_fd, &mev) != 0 || a->wake_fd < 0 ||
        epoll_ctl(a->ep, EPOLL_CTL_ADD, a->wake_fd, &wev) != 0 ||
        pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
        if (a->ep >= 0)
            close(a->ep);
        if (a->wake_fd >= 0)
            close(a->wake_fd);
        free(a->buf);
        free(a);
        return NULL;
    }
    return a;
}

void adb_http_acceptor_wake(adb_http_acceptor *a)
{
    uint64_t one = 1;
    if (a)
        (void)!write(a->wake_fd, &one, sizeof(one));
}

void adb_http_acceptor_quiesce(adb_http_acceptor *a)
{
    if (a)
        atomic_store(&a->quiesce, true);
}

void adb_http_acceptor_stop(adb_http_acceptor *a)
{
    if (!a)
        return;
    atomic_store(&a->quiesce, true);
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    while (a->n > 0)
        conn_free(a, a->p[0]);
    bury(a);
    while (a->notes) {
        note *n = a->notes;
        a->notes = n->next;
        free(n);
    }
    pthread_mutex_destroy(&a->notes_mu);
    if (a->listening)
        close(a->o.listen_fd);
    close(a->ep);
    close(a->wake_fd);
    free(a->p);
    free(a->buf);
    free(a);
}
