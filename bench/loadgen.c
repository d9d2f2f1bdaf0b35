/*
 * loadgen.c - an open-loop HTTP/1.1 load client for bench/query.sh.
 *
 * wrk keeps N connections busy: each sends its next request when the last
 * answer arrives (a closed loop), so the offered load is whatever the machine
 * can take and latency at saturation is mostly queueing. loadgen instead
 * sends requests on a fixed schedule, request k at start + k / rate, whatever
 * the server does, and measures each latency from the moment the request was
 * due, not from when it could be written. A stalled server therefore shows in
 * every request that was due during the stall (no "coordinated omission"),
 * and the offered load stays the same however fast or slow the server is.
 *
 * One thread, epoll, non-blocking sockets, keep-alive connections opened as
 * needed (at most --conns; a due request with no free connection waits, and
 * the wait is part of its latency). The due times come from a timerfd armed
 * at absolute CLOCK_MONOTONIC times, so the client sends on time to within
 * the scheduler's jitter.
 *
 * Requests: --requests FILE, lines "API-KEY<TAB>PATH", taken in turn (GET);
 * or --post-org ORG --post-key KEY: POST /api/v1/audit/events with a new
 * event each time (timestamp left to the server clock).
 *
 * Or, as the same-method reference with no HTTP in between: --pg CONNINFO
 * --sql FILE sends the statements in FILE (one a line, no parameters, each
 * prepared once per connection, taken in turn) straight to PostgreSQL on
 * the same schedule, through libpq's non-blocking calls; "ok" is a result
 * without error. The connections (--conns) are all opened before the first
 * request is due.
 *
 * loadgen --jitter S measures the machine instead: how late a 1 ms sleep
 * wakes up (JITTER samples=N p50_us=N p99_us=N p999_us=N max_us=N).
 * loadgen --stalls S: one thread per CPU, pinned to it, reads the clock in a
 * busy loop for S seconds; a gap between two reads is time the CPU was taken
 * away (by the hypervisor, or an interrupt). Prints
 *   STALLS cpus=N seconds=S gaps_1ms=N gaps_5ms=N pct_in_1ms_gaps=X max_us=N
 * where pct_in_1ms_gaps is the share of the CPUs' time lost in gaps of 1 ms
 * or more: a request that meets such a gap is late by its length, however
 * fast the code it runs.
 *
 * Output, one line on stdout when done (after --duration or SIGINT/SIGTERM,
 * then at most 10 s to collect the answers still due):
 *   RESULT requests=N ok=N non2xx=N socket_errors=N timeouts=N
 *          duration_us=N rate=N max_conns=N p50_us=N p90_us=N p99_us=N
 *          p999_us=N max_us=N
 * "requests" counts the requests due in the measured window (after
 * --warmup); a request is "ok" with a 2xx status (--pg: without an error;
 * "non2xx" then counts the statements that failed); "timeouts" are requests
 * still unanswered 10 s after the window closed; latencies are those of the
 * answered requests, whatever their status.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_RESPONSE (64u << 20)
#define DRAIN_US 10000000LL

typedef enum { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY } conn_state;

typedef struct {
    int fd;
    conn_state state;
    char *out;          /* the request being written (owned) */
    size_t out_len, out_off;
    char *in;           /* what has been read of the answer */
    size_t in_len, in_cap;
    size_t need;        /* header + body length once the header is read, else 0 */
    int status, close_after; /* from the answer's header */
    int64_t due_us;     /* when the request on this connection was due */
    int measured;       /* 1: due inside the measured window */
    PGconn *pg;         /* --pg: the connection (fd is its socket) */
    int pg_failed;      /* --pg: a result of the request in flight was an error */
} conn;

typedef struct {
    char *key;
    char *path;
} request_line;

static struct {
    struct sockaddr_in addr;
    char host[64];
    double rate;
    double duration_s, warmup_s;
    int max_conns;
    request_line *lines;
    size_t nlines, next_line;
    const char *post_org, *post_key;
    long post_n;
    const char *pg_conninfo;
    char **pg_sql;
    size_t npg_sql, next_sql;
} cfg;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void fatal(const char *what, const char *why)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, why);
    exit(1);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        fatal("memory", "out of memory");
    return q;
}

/* --- latencies ---------------------------------------------------------- */

static uint32_t *lat;
static size_t nlat, lat_cap;

static void record(int64_t us)
{
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 4096;
        lat = xrealloc(lat, lat_cap * sizeof(*lat));
    }
    lat[nlat++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted latencies (p in 0..1). */
static uint32_t percentile(double p)
{
    if (nlat == 0)
        return 0;
    size_t rank = (size_t)(p * (double)nlat + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > nlat)
        rank = nlat;
    return lat[rank - 1];
}

/* --- requests ----------------------------------------------------------- */

/* Calls take() with each non-empty line of file, its trailing characters of
 * trim cut off. */
static void read_lines(const char *file, const char *trim, void (*take)(const char *file, char *line))
{
    FILE *f = fopen(file, "r");
    if (!f)
        fatal(file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && strchr(trim, line[n - 1]))
            line[--n] = '\0';
        if (n > 0)
            take(file, line);
    }
    free(line);
    fclose(f);
}

/* --requests FILE: "API-KEY<TAB>/path" a line. */
static void take_request(const char *file, char *line)
{
    char *tab = strchr(line, '\t');
    if (!tab || tab == line || tab[1] != '/')
        fatal(file, "each line must be \"API-KEY<TAB>/path\"");
    *tab = '\0';
    cfg.lines = xrealloc(cfg.lines, (cfg.nlines + 1) * sizeof(*cfg.lines));
    cfg.lines[cfg.nlines].key = strdup(line);
    cfg.lines[cfg.nlines].path = strdup(tab + 1);
    if (!cfg.lines[cfg.nlines].key || !cfg.lines[cfg.nlines].path)
        fatal("memory", "out of memory");
    cfg.nlines++;
}

/* --sql FILE: a statement a line (a trailing semicolon dropped). */
static void take_sql(const char *file, char *line)
{
    (void)file;
    cfg.pg_sql = xrealloc(cfg.pg_sql, (cfg.npg_sql + 1) * sizeof(*cfg.pg_sql));
    if (!(cfg.pg_sql[cfg.npg_sql++] = strdup(line)))
        fatal("memory", "out of memory");
}

static char *format_request(size_t *len)
{
    char *buf = NULL;
    int n;
    if (cfg.nlines) {
        const request_line *r = &cfg.lines[cfg.next_line++ % cfg.nlines];
        n = asprintf(&buf, "GET %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n\r\n", r->path, cfg.host, r->key);
    } else {
        static const char *const actions[][3] = {
            {"fhir.patient.read", "Patient", "PHI"},
            {"fhir.observation.read", "Observation", "PHI"},
            {"fhir.observation.create", "Observation", "PHI"},
            {"fhir.encounter.read", "Encounter", "PHI"},
            {"auth.login.success", "Session", "INTERNAL"},
        };
        long k = ++cfg.post_n;
        const char *const *a = actions[k % 5];
        long rank = (k * 7919) % 2000 + 1;
        const char *orgnum = strncmp(cfg.post_org, "org-", 4) == 0 ? cfg.post_org + 4 : cfg.post_org;
        char body[1024];
        int bl = snprintf(body, sizeof(body),
                          "{\"eventData\":{\"action\":\"%s\",\"status\":\"success\",\"principalId\":\"prac-%s-%04ld\","
                          "\"targetResourceType\":\"%s\",\"targetResourceId\":\"%.3s-%ld\",\"dataClassification\":\"%s\","
                          "\"correlationId\":\"ingest-%d-%ld\",\"sessionContext\":{\"sessionId\":\"sess-%s-%04ld\","
                          "\"ipAddress\":\"10.%ld.%ld.%ld\",\"userAgent\":\"ehr-web/4.2.1\"},"
                          "\"details\":{\"reason\":\"treatment\",\"client\":\"ehr-web/4.2.1\",\"durationMs\":%ld}}}",
                          a[0], orgnum, rank, a[1], a[1], k % 100000 + 1, a[2], (int)getpid(), k, orgnum, rank,
                          strtol(orgnum, NULL, 10) % 256, rank / 256, rank % 256, k % 900 + 3);
        if (bl < 0 || (size_t)bl >= sizeof(body))
            fatal("request", "event body too long");
        n = asprintf(&buf,
                     "POST /api/v1/audit/events HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     cfg.host, cfg.post_key, bl, body);
    }
    if (n < 0)
        fatal("memory", "out of memory");
    *len = (size_t)n;
    return buf;
}

/* --- connections -------------------------------------------------------- */

static conn conns[MAX_CONNS];
static int nconns, max_used, epfd;
static long st_ok, st_non2xx, st_errors, st_inflight_measured;

static void conn_close(conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        if (c->pg)
            PQfinish(c->pg); /* closes c->fd */
        else
            close(c->fd);
        c->pg = NULL;
        nconns--;
    }
    c->fd = -1;
    c->state = C_CLOSED;
    free(c->out);
    c->out = NULL;
    c->in_len = 0;
    c->need = 0;
}

static void conn_watch(conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) != 0)
        fatal("epoll_ctl", strerror(errno));
}

/* A request on c failed (connection refused, reset, malformed answer). */
static void conn_fail(conn *c)
{
    if (c->out && c->measured) { /* a request was in flight */
        st_errors++;
        st_inflight_measured--;
    }
    conn_close(c);
}

static conn *conn_open(void)
{
    conn *c = NULL;
    for (int i = 0; i < cfg.max_conns; i++)
        if (conns[i].state == C_CLOSED) {
            c = &conns[i];
            break;
        }
    if (!c)
        return NULL;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        fatal("socket", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return NULL;
    }
    c->state = C_CONNECTING;
    conn_watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    nconns++;
    return c;
}

/* --pg: a connection with the statement prepared, idle and watched; blocking
 * (called before the first request is due). */
static void pg_open(conn *c)
{
    c->pg = PQconnectdb(cfg.pg_conninfo);
    if (PQstatus(c->pg) != CONNECTION_OK)
        fatal("--pg", PQerrorMessage(c->pg));
    for (size_t i = 0; i < cfg.npg_sql; i++) {
        char name[32];
        snprintf(name, sizeof(name), "q%zu", i);
        PGresult *r = PQprepare(c->pg, name, cfg.pg_sql[i], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fatal("--sql", PQerrorMessage(c->pg));
        PQclear(r);
    }
    if (PQsetnonblocking(c->pg, 1) != 0)
        fatal("--pg", PQerrorMessage(c->pg));
    c->fd = PQsocket(c->pg);
    c->state = C_IDLE;
    conn_watch(c, EPOLLIN, EPOLL_CTL_ADD);
    nconns++;
}

static void pg_start(conn *c)
{
    char name[32];
    snprintf(name, sizeof(name), "q%zu", cfg.next_sql++ % cfg.npg_sql);
    c->pg_failed = 0;
    c->state = C_BUSY;
    if (PQsendQueryPrepared(c->pg, name, 0, NULL, NULL, NULL, 0) != 1) {
        conn_fail(c);
        return;
    }
    int f = PQflush(c->pg);
    if (f < 0)
        conn_fail(c);
    else if (f > 0)
        conn_watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

static void finish_request(conn *c, int ok);

static void pg_event(conn *c, uint32_t ev)
{
    if (ev & EPOLLOUT) {
        int f = PQflush(c->pg);
        if (f < 0) {
            conn_fail(c);
            return;
        }
        if (f == 0)
            conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (PQconsumeInput(c->pg) != 1 || c->state != C_BUSY) {
        conn_fail(c);
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) { /* the request's last result is in */
            finish_request(c, !c->pg_failed);
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            c->pg_failed = 1;
        PQclear(r);
    }
}

static void conn_write(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                conn_watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            conn_fail(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* Put a due request on c (idle or connecting). */
static void conn_start(conn *c, int64_t due, int measured)
{
    free(c->out);
    c->out = c->pg ? strdup("") : format_request(&c->out_len); /* non-NULL: a request in flight */
    if (!c->out)
        fatal("memory", "out of memory");
    c->out_off = 0;
    c->in_len = 0;
    c->need = 0;
    c->due_us = due;
    c->measured = measured;
    if (measured)
        st_inflight_measured++;
    if (c->pg) {
        pg_start(c);
        return;
    }
    if (c->state == C_IDLE) {
        c->state = C_BUSY;
        conn_write(c);
    } else {
        c->state = C_CONNECTING; /* written once connected */
    }
}

/* Header parsed: sets c->need, returns the status, or -1 when malformed. */
static int parse_header(conn *c, size_t hdr_end, int *close_after)
{
    c->in[hdr_end - 1] = '\0';
    int status = 0;
    if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long long clen = -1;
    *close_after = 0;
    for (char *p = strstr(c->in, "\r\n"); p && p + 2 < c->in + hdr_end; p = strstr(p + 2, "\r\n")) {
        char *h = p + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = strtoll(h + 15, NULL, 10);
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0)
            fatal("answer", "chunked answers are not supported (the server sends Content-Length)");
        else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h + 11, "close") &&
                 strcasestr(h + 11, "close") < strstr(h, "\r\n"))
            *close_after = 1;
    }
    c->in[hdr_end - 1] = '\n';
    if (clen < 0 || (unsigned long long)clen > MAX_RESPONSE)
        return -1;
    c->need = hdr_end + (size_t)clen;
    return status;
}

static void conn_read(conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 16384) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
            c->in = xrealloc(c->in, c->in_cap);
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0 || c->state != C_BUSY) { /* EOF, error, or bytes nobody asked for */
            conn_fail(c);
            return;
        }
        c->in_len += (size_t)r;
        c->in[c->in_len] = '\0';
        if (c->need == 0) {
            char *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (!e)
                continue;
            c->status = parse_header(c, (size_t)(e - c->in) + 4, &c->close_after);
            if (c->status < 0) {
                conn_fail(c);
                return;
            }
        }
        if (c->in_len < c->need)
            continue;
        if (c->in_len > c->need) { /* the server never sends unasked */
            conn_fail(c);
            return;
        }
        finish_request(c, c->status >= 200 && c->status < 300);
        if (c->close_after)
            conn_close(c);
        return;
    }
}

/* The answer to the request on c is whole: counted, and c is idle again. */
static void finish_request(conn *c, int ok)
{
    if (c->measured) {
        record(now_us() - c->due_us);
        if (ok)
            st_ok++;
        else
            st_non2xx++;
        st_inflight_measured--;
    }
    free(c->out);
    c->out = NULL;
    c->in_len = 0;
    c->need = 0;
    c->measured = 0;
    c->state = C_IDLE;
}

static void on_event(conn *c, uint32_t ev)
{
    if (c->pg) {
        pg_event(c, ev);
        return;
    }
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if ((ev & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            conn_fail(c);
            return;
        }
        if (c->out) {
            c->state = C_BUSY;
            conn_write(c);
        } else {
            c->state = C_IDLE;
            conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
        }
        return;
    }
    if (ev & EPOLLOUT && c->state == C_BUSY && c->out_off < c->out_len)
        conn_write(c);
    if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(c);
}

static conn *idle_conn(void)
{
    for (int i = 0; i < cfg.max_conns; i++)
        if (conns[i].state == C_IDLE)
            return &conns[i];
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --target HOST:PORT --rate REQ_PER_S --duration S [--warmup S] [--conns N]\n"
            "               (--requests FILE | --post-org ORG --post-key KEY)\n"
            "       loadgen --pg CONNINFO --sql FILE --rate REQ_PER_S --duration S [--warmup S] [--conns N]\n"
            "       loadgen --jitter SECONDS\n"
            "       loadgen --stalls SECONDS\n");
    exit(2);
}

static double num_arg(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(d >= lo && d <= hi)) {
        fprintf(stderr, "loadgen: %s must be a number from %g to %g, not \"%s\"\n", name, lo, hi, v);
        exit(2);
    }
    return d;
}

/* --jitter S: how late this machine wakes a thread that slept 1 ms, for S
 * seconds. The floor under every latency measured here: each request wakes
 * several threads (client, server, PostgreSQL), and a virtual machine that
 * shares its host wakes them late now and then. */
static int jitter(double seconds)
{
    int64_t end = now_us() + (int64_t)(seconds * 1e6);
    while (now_us() < end) {
        struct timespec ts = {0, 1000000};
        int64_t t0 = now_us();
        nanosleep(&ts, NULL);
        record(now_us() - t0 - 1000);
    }
    qsort(lat, nlat, sizeof(*lat), cmp_u32);
    printf("JITTER samples=%zu p50_us=%u p99_us=%u p999_us=%u max_us=%u\n", nlat, percentile(0.50),
           percentile(0.99), percentile(0.999), nlat ? lat[nlat - 1] : 0);
    return 0;
}

/* --stalls S: see the top of the file. */
typedef struct {
    int cpu;
    double seconds;
    int64_t run_us, lost_us, max_us;
    long gaps_1ms, gaps_5ms;
} stall_probe;

static void *stall_main(void *arg)
{
    stall_probe *p = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        return NULL; /* not this CPU: reported as 0 us run */
    int64_t start = now_us(), last = start, end = start + (int64_t)(p->seconds * 1e6);
    while (last < end) {
        int64_t t = now_us(), gap = t - last;
        last = t;
        if (gap > p->max_us)
            p->max_us = gap;
        if (gap >= 1000) {
            p->gaps_1ms++;
            p->lost_us += gap;
        }
        if (gap >= 5000)
            p->gaps_5ms++;
    }
    p->run_us = last - start;
    return NULL;
}

static int stalls(double seconds)
{
    cpu_set_t online;
    if (sched_getaffinity(0, sizeof(online), &online) != 0)
        fatal("sched_getaffinity", strerror(errno));
    int n = 0;
    stall_probe probes[CPU_SETSIZE];
    pthread_t threads[CPU_SETSIZE];
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &online))
            probes[n++] = (stall_probe){.cpu = cpu, .seconds = seconds};
    for (int i = 0; i < n; i++)
        if (pthread_create(&threads[i], NULL, stall_main, &probes[i]) != 0)
            fatal("pthread_create", "could not start a probe thread");
    int64_t run = 0, lost = 0, max = 0;
    long g1 = 0, g5 = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        run += probes[i].run_us;
        lost += probes[i].lost_us;
        g1 += probes[i].gaps_1ms;
        g5 += probes[i].gaps_5ms;
        if (probes[i].max_us > max)
            max = probes[i].max_us;
    }
    printf("STALLS cpus=%d seconds=%.1f gaps_1ms=%ld gaps_5ms=%ld pct_in_1ms_gaps=%.2f max_us=%lld\n", n,
           seconds, g1, g5, run > 0 ? 100.0 * (double)lost / (double)run : 0.0, (long long)max);
    return 0;
}

int main(int argc, char **argv)
{
    const char *target = NULL, *requests = NULL, *sql_file = NULL;
    if (argc == 3 && strcmp(argv[1], "--jitter") == 0)
        return jitter(num_arg("--jitter", argv[2], 0.1, 3600));
    if (argc == 3 && strcmp(argv[1], "--stalls") == 0)
        return stalls(num_arg("--stalls", argv[2], 0.1, 3600));
    cfg.max_conns = 16;
    cfg.duration_s = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--target") == 0)
            target = v;
        else if (strcmp(a, "--rate") == 0)
            cfg.rate = num_arg(a, v, 0.1, 1e6);
        else if (strcmp(a, "--duration") == 0)
            cfg.duration_s = num_arg(a, v, 0.1, 86400);
        else if (strcmp(a, "--warmup") == 0)
            cfg.warmup_s = num_arg(a, v, 0, 3600);
        else if (strcmp(a, "--conns") == 0)
            cfg.max_conns = (int)num_arg(a, v, 1, MAX_CONNS);
        else if (strcmp(a, "--requests") == 0)
            requests = v;
        else if (strcmp(a, "--post-org") == 0)
            cfg.post_org = v;
        else if (strcmp(a, "--post-key") == 0)
            cfg.post_key = v;
        else if (strcmp(a, "--pg") == 0)
            cfg.pg_conninfo = v;
        else if (strcmp(a, "--sql") == 0)
            sql_file = v;
        else
            usage();
        i++;
    }
    if (cfg.pg_conninfo || sql_file) {
        if (!cfg.pg_conninfo || !sql_file || target || requests || cfg.post_org || cfg.post_key ||
            cfg.rate <= 0 || cfg.duration_s <= 0)
            usage();
        read_lines(sql_file, " \t\r\n;", take_sql);
        if (cfg.npg_sql == 0)
            fatal(sql_file, "no statement in the file");
    } else if (!target || cfg.rate <= 0 || cfg.duration_s <= 0 || (!requests == !cfg.post_key) ||
               (!cfg.post_org != !cfg.post_key)) {
        usage();
    }
    if (target) {
        char hostpart[64];
        const char *colon = strrchr(target, ':');
        if (!colon || (size_t)(colon - target) >= sizeof(hostpart))
            fatal(target, "--target must be HOST:PORT with a numeric IPv4 host");
        memcpy(hostpart, target, (size_t)(colon - target));
        hostpart[colon - target] = '\0';
        cfg.addr.sin_family = AF_INET;
        cfg.addr.sin_port = htons((uint16_t)num_arg("--target port", colon + 1, 1, 65535));
        if (inet_pton(AF_INET, hostpart, &cfg.addr.sin_addr) != 1)
            fatal(target, "--target must be HOST:PORT with a numeric IPv4 host");
        snprintf(cfg.host, sizeof(cfg.host), "%s", target);
    }
    if (requests) {
        read_lines(requests, "\r\n", take_request);
        if (cfg.nlines == 0)
            fatal(requests, "no requests in the file");
    }
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || tfd < 0)
        fatal("epoll/timerfd", strerror(errno));
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    if (cfg.pg_conninfo) /* all of them: a connect would stall the schedule */
        for (int i = 0; i < cfg.max_conns; i++)
            pg_open(&conns[i]);
    else /* one connection up front, so the first due request does not pay a connect */
        conn_open();

    const double interval_us = 1e6 / cfg.rate;
    const int64_t t0 = now_us() + 100000;
    const int64_t measure_from = t0 + (int64_t)(cfg.warmup_s * 1e6);
    int64_t window_end = measure_from + (int64_t)(cfg.duration_s * 1e6);
    long long next = 0;   /* index of the next request to send */
    long long due_measured = 0;

    for (;;) {
        int64_t now = now_us();
        if (stop_requested && window_end > now)
            window_end = now;
        /* send every request that is due, on idle connections or new ones */
        for (;;) {
            int64_t due = t0 + (int64_t)((double)next * interval_us);
            if (due > now || due >= window_end)
                break;
            conn *c = idle_conn();
            if (!c && nconns < cfg.max_conns && !cfg.pg_conninfo)
                c = conn_open();
            if (!c)
                break; /* all busy: it waits, and the wait counts */
            int measured = due >= measure_from;
            conn_start(c, due, measured);
            if (measured)
                due_measured++;
            next++;
        }
        if (nconns > max_used)
            max_used = nconns;
        int64_t next_due = t0 + (int64_t)((double)next * interval_us);
        int sending_done = next_due >= window_end;
        int64_t drain_until = window_end + DRAIN_US;
        if ((sending_done && st_inflight_measured == 0) || now >= drain_until)
            break;
        /* wake at the next due time (or the drain deadline), or on I/O */
        int64_t wake = sending_done ? drain_until : next_due;
        if (!sending_done && idle_conn() == NULL && (nconns >= cfg.max_conns || cfg.pg_conninfo))
            wake = now + 1000000; /* nothing can be sent before a connection frees up */
        if (wake <= now)
            wake = now + 1;
        struct itimerspec its = {.it_value = {.tv_sec = wake / 1000000, .tv_nsec = (wake % 1000000) * 1000}};
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        struct epoll_event evs[64];
        int n = epoll_wait(epfd, evs, 64, -1);
        if (n < 0 && errno != EINTR)
            fatal("epoll_wait", strerror(errno));
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t x;
                ssize_t r = read(tfd, &x, sizeof(x));
                (void)r;
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
    }

    long timeouts = st_inflight_measured > 0 ? st_inflight_measured : 0;
    /* requests due in the window but never sent (no connection freed up in time) */
    long unsent = 0;
    for (;; next++) {
        int64_t due = t0 + (int64_t)((double)next * interval_us);
        if (due >= window_end)
            break;
        if (due >= measure_from)
            unsent++;
    }
    qsort(lat, nlat, sizeof(*lat), cmp_u32);
    printf("RESULT requests=%lld ok=%ld non2xx=%ld socket_errors=%ld timeouts=%ld duration_us=%lld rate=%.0f "
           "max_conns=%d p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u\n",
           due_measured + unsent, st_ok, st_non2xx, st_errors, timeouts + unsent,
           (long long)(window_end - measure_from), cfg.rate, max_used, percentile(0.50), percentile(0.90),
           percentile(0.99), percentile(0.999), nlat ? lat[nlat - 1] : 0);
    return 0;
}
