/*
 * metrics_host.h - the host's and the serve process's figures read from
 * /proc and statvfs (issue 20, docs/monitoring.md "Metrics"): memory, CPU
 * (busy share between two samples), load, processes by state, a file
 * system's use, the network interfaces. Process-wide: operators only.
 * The parsers take the file's text, so that tests feed them fixed inputs.
 */
#ifndef ADB_MONITOR_METRICS_HOST_H
#define ADB_MONITOR_METRICS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct adb__host_memory {
    uint64_t total, free, available, buffers, cached; /* bytes */
    uint64_t used;      /* total - available (what the kernel could not give back) */
    double percentage;  /* used / total * 100 */
} adb__host_memory;

/* /proc/meminfo's text into m. False when MemTotal is missing or 0. */
bool adb__host_meminfo_parse(const char *text, adb__host_memory *m);

/* /proc/stat's "cpu" line: jiffies busy and in all. False when absent. */
bool adb__host_cpu_parse(const char *text, uint64_t *busy, uint64_t *total);

typedef struct adb__host_load {
    double one, five, fifteen;
} adb__host_load;

/* /proc/loadavg's text. False when malformed. */
bool adb__host_loadavg_parse(const char *text, adb__host_load *l);

typedef struct adb__host_net {
    char name[32];
    uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
} adb__host_net;

/* /proc/net/dev's text: up to max interfaces into out (loopback included);
 * the count. */
int adb__host_netdev_parse(const char *text, adb__host_net *out, int max);

/* The state letter of a /proc/<pid>/stat line (after the last ')'), or 0. */
char adb__host_stat_state(const char *text);

typedef struct adb__host_procs {
    long total, running, sleeping, zombie;
} adb__host_procs;

/* Every process of the host by state, from /proc (bounded: 65536 entries). */
void adb__host_processes(adb__host_procs *p);

typedef struct adb__host_sample {
    adb__host_memory mem;
    bool have_mem;
    double cpu_percentage; /* busy share since the previous sample (first: over 100 ms) */
    bool have_cpu;
    int cores;
    adb__host_load load;
    bool have_load;
    uint64_t rss_bytes;    /* this process */
} adb__host_sample;

/* Reads the host now (thread-safe; the CPU share is against the previous
 * call's sample, kept by the module, or a 100 ms one when there is none or
 * it is older than a minute). */
void adb__host_sample_now(adb__host_sample *s);

typedef struct adb__host_disk {
    uint64_t total, used, free;   /* bytes */
    double percentage;
    uint64_t inodes_total, inodes_used, inodes_free;
} adb__host_disk;

/* The file system holding path. False when statvfs fails. */
bool adb__host_disk_read(const char *path, adb__host_disk *d);

#endif
