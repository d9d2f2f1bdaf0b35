/*
 * bench_post.c - the reference of bench/delivery.sh: a plain libcurl POST
 * loop, THREADS threads each with one easy handle (keep-alive), sending
 * TOTAL requests of BODY bytes to URL, as fast as the receiver answers.
 * Prints "posts/s N" on stdout. No queue, no database, no signature: what
 * the delivery threads' throughput is held against in the same run.
 *
 * usage: bench_post URL TOTAL THREADS BODY_BYTES
 */
#define BENCH_NAME "bench_post"
#include "bench_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

static const char *url;
static long total;
static atomic_long next_i, failed;
static char *body;
static size_t body_len;

static size_t drop(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void *run(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (!c || !h)
        die("curl", "out of memory");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    while (atomic_fetch_add(&next_i, 1) < total) {
        long code = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), code < 200 || code >= 300))
            atomic_fetch_add(&failed, 1);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        die("usage", "bench_post URL TOTAL THREADS BODY_BYTES");
    url = argv[1];
    total = strtol(argv[2], NULL, 10);
    int threads = (int)strtol(argv[3], NULL, 10);
    body_len = (size_t)strtol(argv[4], NULL, 10);
    if (total < 1 || threads < 1 || threads > 256 || body_len < 2 || body_len > 1 << 20)
        die("usage", "TOTAL >= 1, THREADS 1..256, BODY_BYTES 2..1048576");
    body = malloc(body_len + 1);
    if (!body)
        die("body", "out of memory");
    memset(body, 'x', body_len);
    body[0] = '"';
    body[body_len - 1] = '"';
    body[body_len] = '\0';
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t t[256];
    double t0 = now_ms();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, run, NULL) != 0)
            die("threads", "could not start one");
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double ms = now_ms() - t0;
    printf("posts/s %.0f\nfailed %ld\n", (double)total * 1000.0 / ms, atomic_load(&failed));
    free(body);
    curl_global_cleanup();
    return atomic_load(&failed) ? 1 : 0;
}
