/*
 * ssrf.c - the address policy of outgoing connections (docs/delivery.md,
 * "SSRF").
 *
 * A destination may name any host; the service must not become a way into
 * its own network. Every connection a transport opens goes through
 * refuse_socket() (CURLOPT_OPENSOCKETFUNCTION), which sees the address
 * actually about to be connected to, after resolution: loopback, private
 * (RFC 1918, ULA), link-local, multicast, unspecified, CGNAT, benchmark,
 * documentation and reserved ranges are refused, as are the IPv6 forms that
 * embed such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4),
 * unless the operator's allow-list AUDITDB_DELIVERY_ALLOW (comma-separated
 * CIDRs) admits the address. A name that resolves to a public address at
 * creation and to 127.0.0.1 at delivery (DNS rebinding) is refused then.
 * Proxies are off and redirects are not followed, so the address checked is
 * the peer's.
 */
#include "delivery.h"
#include "ssrf.h"
#include "../core/util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    unsigned char a[16];
    int bits;
    bool v4;
} cidr;

/* v4 ranges (refused) */
static const struct { const char *net; int bits; } refused_v4[] = {
    { "0.0.0.0", 8 },        /* "this network", unspecified */
    { "10.0.0.0", 8 },       /* RFC 1918 */
    { "100.64.0.0", 10 },    /* CGNAT, RFC 6598 */
    { "127.0.0.0", 8 },      /* loopback */
    { "169.254.0.0", 16 },   /* link-local (cloud metadata) */
    { "172.16.0.0", 12 },    /* RFC 1918 */
    { "192.0.0.0", 24 },     /* IETF protocol assignments */
    { "192.0.2.0", 24 },     /* documentation */
    { "192.88.99.0", 24 },   /* 6to4 relay anycast */
    { "192.168.0.0", 16 },   /* RFC 1918 */
    { "198.18.0.0", 15 },    /* benchmarking */
    { "198.51.100.0", 24 },  /* documentation */
    { "203.0.113.0", 24 },   /* documentation */
    { "224.0.0.0", 4 },      /* multicast */
    { "240.0.0.0", 4 },      /* reserved, broadcast */
};

static const struct { const char *net; int bits; } refused_v6[] = {
    { "::", 128 },           /* unspecified */
    { "::1", 128 },          /* loopback */
    { "100::", 64 },         /* discard */
    { "2001:db8::", 32 },    /* documentation */
    { "2001::", 32 },        /* Teredo (tunnels to anywhere) */
    { "fc00::", 7 },         /* ULA */
    { "fe80::", 10 },        /* link-local */
    { "fec0::", 10 },        /* site-local (deprecated) */
    { "ff00::", 8 },         /* multicast */
};

static bool in_prefix(const unsigned char *a, const unsigned char *net, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

static bool parse_cidr(const char *text, cidr *out)
{
    char buf[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    long long bits;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->a) == 1)
        out->v4 = true;
    else if (inet_pton(AF_INET6, buf, out->a) != 1)
        return false;
    if (!slash)
        bits = out->v4 ? 32 : 128;
    else if (!adb__parse_int(slash + 1, 0, out->v4 ? 32 : 128, &bits))
        return false;
    out->bits = (int)bits;
    return true;
}

bool adb__cidr_valid(const char *text)
{
    cidr c;
    return parse_cidr(text, &c);
}

/* Whether the operator's allow-list admits the address (v4: 4 bytes). */
static bool allowed(const unsigned char *a, bool v4)
{
    const char *list = getenv("AUDITDB_DELIVERY_ALLOW");
    char item[64];

    if (!list)
        return false;
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        cidr c;
        if (n && n < sizeof(item)) {
            memcpy(item, s, n);
            item[n] = '\0';
            if (parse_cidr(item, &c) && c.v4 == v4 && in_prefix(a, c.a, c.bits))
                return true;
        }
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

/* The policy on one IPv4 address: NULL when admitted, else why not. */
static const char *check_v4(const unsigned char a[4])
{
    unsigned char net[4];

    if (allowed(a, true))
        return NULL;
    for (size_t i = 0; i < sizeof(refused_v4) / sizeof(refused_v4[0]); i++) {
        inet_pton(AF_INET, refused_v4[i].net, net);
        if (in_prefix(a, net, refused_v4[i].bits))
            return a[0] == 127 ? "a loopback address"
                   : a[0] == 169 && a[1] == 254 ? "a link-local address"
                   : a[0] >= 224 && a[0] < 240 ? "a multicast address"
                   : a[0] == 0 ? "an unspecified address"
                   : "a private or reserved address";
    }
    return NULL;
}

static const char *check_v6(const unsigned char a[16])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const unsigned char zero[12] = { 0 };
    unsigned char net[16];

    /* IPv4 embedded: judged as that IPv4 address */
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
        return check_v4(a + 12);
    if (!memcmp(a, zero, 12) && (a[12] | a[13] | a[14] | a[15]) && !(a[12] == 0 && a[13] == 0 &&
                                                                       a[14] == 0 && a[15] == 1))
        return check_v4(a + 12); /* IPv4-compatible (deprecated) */
    if (a[0] == 0x20 && a[1] == 0x02 && !allowed(a, false)) {
        const char *why = check_v4(a + 2); /* 6to4 */
        if (why)
            return why;
    }
    if (allowed(a, false))
        return NULL;
    for (size_t i = 0; i < sizeof(refused_v6) / sizeof(refused_v6[0]); i++) {
        inet_pton(AF_INET6, refused_v6[i].net, net);
        if (in_prefix(a, net, refused_v6[i].bits))
            return i <= 1 ? (i == 0 ? "an unspecified address" : "a loopback address")
                   : i == 6 ? "a link-local address"
                   : i == 8 ? "a multicast address"
                   : "a private or reserved address";
    }
    return NULL;
}

const char *adb__ssrf_check_addr(const struct sockaddr *sa)
{
    if (!sa)
        return "no address";
    if (sa->sa_family == AF_INET)
        return check_v4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return check_v6((const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return "not an IP address";
}

/* the reason of this thread's last refusal (for the attempt's error) */
static _Thread_local char last_refusal[160];

const char *adb__ssrf_last_refusal(void)
{
    return last_refusal;
}

static curl_socket_t refuse_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)ud;
    (void)purpose;
    const char *why = adb__ssrf_check_addr(&a->addr);
    if (why) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof(ip));
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof(ip));
        adb__fmt(last_refusal, sizeof(last_refusal),
                 "refused to connect to %s: %s (AUDITDB_DELIVERY_ALLOW does not admit it)", ip, why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

adb_status adb__ssrf_attach(CURL *c)
{
    last_refusal[0] = '\0';
    if (curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, refuse_socket) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, NULL) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK)
        return ADB_ERR_INTERNAL;
    return ADB_OK;
}

adb_status adb__ssrf_check_host(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char portbuf[16], name[256];
    size_t n = host ? strlen(host) : 0;
    int rc;

    if (n == 0 || n >= sizeof(name)) {
        adb__fmt(err, errlen, "the host name is empty or too long");
        return ADB_ERR_INVALID;
    }
    /* [v6] as in a URL */
    if (host[0] == '[' && host[n - 1] == ']') {
        memcpy(name, host + 1, n - 2);
        name[n - 2] = '\0';
    } else {
        memcpy(name, host, n + 1);
    }
    adb__fmt(portbuf, sizeof(portbuf), "%d", port > 0 ? port : 443);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(name, portbuf, &hints, &res)) != 0) {
        adb__fmt(err, errlen, "host \"%.200s\" does not resolve: %s", name, gai_strerror(rc));
        return ADB_ERR_NOT_FOUND;
    }
    adb_status st = ADB_OK;
    for (struct addrinfo *ai = res; ai && st == ADB_OK; ai = ai->ai_next) {
        const char *why = adb__ssrf_check_addr(ai->ai_addr);
        if (why) {
            char ip[INET6_ADDRSTRLEN] = "?";
            if (ai->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
            else if (ai->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
            adb__fmt(err, errlen,
                     "host \"%.200s\" resolves to %s, %s: refused unless AUDITDB_DELIVERY_ALLOW admits it",
                     name, ip, why);
            st = ADB_ERR_INVALID;
        }
    }
    freeaddrinfo(res);
    return st;
}
