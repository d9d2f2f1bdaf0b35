/*
 * metrics_host.c - the host's and the process's figures from /proc and
 * statvfs (metrics_host.h). Nothing here touches the database.
 */
#include "metrics_host.h"
#include "../core/util.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PROC_TEXT_MAX (256 * 1024)
#define PROCS_MAX 65536

/* The number after "name:" on a line of text (kB when unit says so), or 0. */
static bool meminfo_field(const char *text, const char *name, uint64_t *out)
{
    size_t n = strlen(name);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            char *end;
            unsigned long long v = strtoull(p + n + 1, &end, 10);
            while (*end == ' ')
                end++;
            *out = (uint64_t)v * (strncmp(end, "kB", 2) == 0 ? 1024u : 1u);
            return true;
        }
    }
    return false;
}

bool adb__host_meminfo_parse(const char *text, adb__host_memory *m)
{
    memset(m, 0, sizeof(*m));
    if (!text || !meminfo_field(text, "MemTotal", &m->total) || m->total == 0)
        return false;
    meminfo_field(text, "MemFree", &m->free);
    meminfo_field(text, "Buffers", &m->buffers);
    meminfo_field(text, "Cached", &m->cached);
    if (!meminfo_field(text, "MemAvailable", &m->available)) /* kernels before 3.14 */
        m->available = m->free + m->buffers + m->cached;
    if (m->available > m->total)
        m->available = m->total;
    m->used = m->total - m->available;
    m->percentage = (double)m->used * 100.0 / (double)m->total;
    return true;
}

bool adb__host_cpu_parse(const char *text, uint64_t *busy, uint64_t *total)
{
    unsigned long long v[10] = { 0 };

    if (!text || strncmp(text, "cpu ", 4) != 0)
        return false;
    int n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (n < 4)
        return false;
    /* user nice system idle iowait irq softirq steal (guest ones are inside user) */
    uint64_t t = 0;
    for (int i = 0; i < n && i < 8; i++)
        t += v[i];
    *total = t;
    *busy = t - v[3] - (n > 4 ? v[4] : 0);
    return true;
}

bool adb__host_loadavg_parse(const char *text, adb__host_load *l)
{
    return text && sscanf(text, "%lf %lf %lf", &l->one, &l->five, &l->fifteen) == 3 &&
           l->one >= 0 && l->five >= 0 && l->fifteen >= 0;
}

int adb__host_netdev_parse(const char *text, adb__host_net *out, int max)
{
    int n = 0;

    for (const char *p = text; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
        if (!colon || (eol && colon > eol))
            continue; /* the two header lines */
        const char *s = p;
        while (*s == ' ')
            s++;
        size_t len = (size_t)(colon - s);
        if (len == 0 || len >= sizeof(out[n].name))
            continue;
        unsigned long long f[16];
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11],
                   &f[12], &f[13], &f[14], &f[15]) != 16)
            continue;
        adb__host_net *x = &out[n++];
        memcpy(x->name, s, len);
        x->name[len] = '\0';
        x->rx_bytes = f[0], x->rx_packets = f[1], x->rx_errs = f[2], x->rx_drop = f[3];
        x->tx_bytes = f[8], x->tx_packets = f[9], x->tx_errs = f[10], x->tx_drop = f[11];
    }
    return n;
}

char adb__host_stat_state(const char *text)
{
    const char *rp = text ? strrchr(text, ')') : NULL;

    if (!rp || rp[1] != ' ' || !isalpha((unsigned char)rp[2]))
        return 0;
    return rp[2];
}

void adb__host_processes(adb__host_procs *p)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int seen = 0;

    memset(p, 0, sizeof(*p));
    if (!d)
        return;
    while ((e = readdir(d)) && seen < PROCS_MAX) {
        char path[64], buf[512];
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        seen++;
        adb__fmt(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* gone meanwhile */
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char st = adb__host_stat_state(buf);
        if (!st)
            continue;
        p->total++;
        if (st == 'R')
            p->running++;
        else if (st == 'Z')
            p->zombie++;
        else if (st == 'S' || st == 'D' || st == 'I')
            p->sleeping++;
    }
    closedir(d);
}

static char *slurp(const char *path)
{
    size_t len;
    return adb__read_file(path, PROC_TEXT_MAX, &len);
}

static bool cpu_now(uint64_t *busy, uint64_t *total)
{
    char *t = slurp("/proc/stat");
    bool ok = adb__host_cpu_parse(t, busy, total);
    free(t);
    return ok;
}

static pthread_mutex_t cpu_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t prev_busy, prev_total;
static double prev_ms;

void adb__host_sample_now(adb__host_sample *s)
{
    char *t;
    uint64_t busy, total;

    memset(s, 0, sizeof(*s));
    t = slurp("/proc/meminfo");
    s->have_mem = adb__host_meminfo_parse(t, &s->mem);
    free(t);
    t = slurp("/proc/loadavg");
    s->have_load = adb__host_loadavg_parse(t, &s->load);
    free(t);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->cores = cores > 0 ? (int)cores : 1;

    pthread_mutex_lock(&cpu_mu);
    double now = adb__now_ms();
    if (prev_total == 0 || now - prev_ms > 60000) { /* no recent sample: take one */
        if (cpu_now(&prev_busy, &prev_total)) {
            prev_ms = now;
            pthread_mutex_unlock(&cpu_mu);
            adb__sleep_ms(100);
            pthread_mutex_lock(&cpu_mu);
        }
    }
    if (cpu_now(&busy, &total)) {
        if (total > prev_total && busy >= prev_busy) {
            s->cpu_percentage = (double)(busy - prev_busy) * 100.0 / (double)(total - prev_total);
            if (s->cpu_percentage > 100)
                s->cpu_percentage = 100;
            s->have_cpu = true;
        }
        if (total > prev_total) { /* too close to the previous one: keep it */
            prev_busy = busy;
            prev_total = total;
            prev_ms = adb__now_ms();
        }
    }
    pthread_mutex_unlock(&cpu_mu);

    t = slurp("/proc/self/statm");
    long size_pages = 0, rss_pages = 0;
    if (t && sscanf(t, "%ld %ld", &size_pages, &rss_pages) == 2 && rss_pages > 0)
        s->rss_bytes = (uint64_t)rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
    free(t);
}

bool adb__host_disk_read(const char *path, adb__host_disk *d)
{
    struct statvfs v;

    memset(d, 0, sizeof(*d));
    if (!path || statvfs(path, &v) != 0 || v.f_blocks == 0)
        return false;
    d->total = (uint64_t)v.f_blocks * v.f_frsize;
    d->free = (uint64_t)v.f_bavail * v.f_frsize;
    d->used = d->total - (uint64_t)v.f_bfree * v.f_frsize;
    d->percentage = (double)d->used * 100.0 / (double)d->total;
    d->inodes_total = v.f_files;
    d->inodes_free = v.f_ffree;
    d->inodes_used = v.f_files >= v.f_ffree ? v.f_files - v.f_ffree : 0;
    return true;
}
