/*
 * test_metrics_host.c - the /proc readers of the metrics service
 * (src/monitor/metrics_host.c) on fixed texts, hostile ones included, and
 * once on this host against what the kernel says.
 */
#include "t.h"
#include "monitor/metrics_host.h"

#include <unistd.h>

static void test_meminfo(void)
{
    adb__host_memory m;
    const char *t = "MemTotal:       16000000 kB\nMemFree:         2000000 kB\n"
                    "MemAvailable:    6000000 kB\nBuffers:          500000 kB\nCached:          3000000 kB\n"
                    "SwapCached:            0 kB\n";
    REQUIRE(adb__host_meminfo_parse(t, &m));
    CHECK(m.total == 16000000ULL * 1024);
    CHECK(m.available == 6000000ULL * 1024);
    CHECK(m.used == 10000000ULL * 1024);
    CHECK(m.cached == 3000000ULL * 1024); /* "Cached", not "SwapCached" */
    CHECK(m.percentage > 62.4 && m.percentage < 62.6);
    /* before MemAvailable (3.14): free + buffers + cached */
    REQUIRE(adb__host_meminfo_parse("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 150 kB\n", &m));
    CHECK(m.available == 300 * 1024 && m.used == 700 * 1024);
    /* an available above the total is the total: never a negative use */
    REQUIRE(adb__host_meminfo_parse("MemTotal: 10 kB\nMemAvailable: 99 kB\n", &m));
    CHECK(m.used == 0 && m.percentage == 0);
    CHECK(!adb__host_meminfo_parse("MemFree: 10 kB\n", &m));
    CHECK(!adb__host_meminfo_parse("MemTotal: 0 kB\n", &m));
    CHECK(!adb__host_meminfo_parse("", &m));
    CHECK(!adb__host_meminfo_parse(NULL, &m));
}

static void test_cpu(void)
{
    uint64_t busy, total;
    REQUIRE(adb__host_cpu_parse("cpu  100 10 50 800 40 0 0 0 0 0\ncpu0 1 2 3 4\n", &busy, &total));
    CHECK(total == 1000);
    CHECK(busy == 160); /* idle and iowait are not busy */
    REQUIRE(adb__host_cpu_parse("cpu  1 2 3 4\n", &busy, &total)); /* old kernels: four fields */
    CHECK(total == 10 && busy == 6);
    CHECK(!adb__host_cpu_parse("cpu0 1 2 3 4\n", &busy, &total));
    CHECK(!adb__host_cpu_parse("cpu  x\n", &busy, &total));
    CHECK(!adb__host_cpu_parse(NULL, &busy, &total));
}

static void test_loadavg(void)
{
    adb__host_load l;
    REQUIRE(adb__host_loadavg_parse("0.52 1.25 2.00 3/456 7890\n", &l));
    CHECK(l.one == 0.52 && l.five == 1.25 && l.fifteen == 2.0);
    CHECK(!adb__host_loadavg_parse("0.5 nope\n", &l));
    CHECK(!adb__host_loadavg_parse("-1 0 0\n", &l));
}

static void test_netdev(void)
{
    adb__host_net n[4];
    const char *t =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
        "  eth0: 123456789 1000 1 2 0 0 0 5 987654 900 3 4 0 0 0 0\n"
        "broken: 1 2 3\n"
        "averyveryveryveryveryverylonginterfacename: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
    int k = adb__host_netdev_parse(t, n, 4);
    REQUIRE(k == 2);
    CHECK_STR(n[0].name, "lo");
    CHECK_STR(n[1].name, "eth0");
    CHECK(n[1].rx_bytes == 123456789 && n[1].rx_packets == 1000 && n[1].rx_errs == 1 && n[1].rx_drop == 2);
    CHECK(n[1].tx_bytes == 987654 && n[1].tx_packets == 900 && n[1].tx_errs == 3 && n[1].tx_drop == 4);
    CHECK(adb__host_netdev_parse(t, n, 1) == 1); /* bounded by the room given */
    CHECK(adb__host_netdev_parse("", n, 4) == 0);
}

static void test_stat_state(void)
{
    /* a command name may hold spaces and parentheses: the state follows the last ')' */
    CHECK(adb__host_stat_state("123 (a) b) c) S 1 2 3") == 'S');
    CHECK(adb__host_stat_state("1 (init) R 0") == 'R');
    CHECK(adb__host_stat_state("9 (zz) Z 1") == 'Z');
    CHECK(adb__host_stat_state("no parenthesis") == 0);
    CHECK(adb__host_stat_state("1 (x)") == 0);
    CHECK(adb__host_stat_state(NULL) == 0);
}

static void test_this_host(void)
{
    adb__host_sample s;
    adb__host_procs p;
    adb__host_disk d;

    adb__host_sample_now(&s);
    CHECK(s.have_mem && s.mem.total > 0 && s.mem.percentage >= 0 && s.mem.percentage <= 100);
    CHECK(s.cores == (int)sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(s.have_cpu && s.cpu_percentage >= 0 && s.cpu_percentage <= 100);
    CHECK(s.rss_bytes > 0);
    adb__host_sample_now(&s); /* against the previous sample this time */
    CHECK(s.cpu_percentage >= 0 && s.cpu_percentage <= 100);
    adb__host_processes(&p);
    CHECK(p.total >= 1 && p.running + p.sleeping + p.zombie <= p.total);
    REQUIRE(adb__host_disk_read("/", &d));
    CHECK(d.total > 0 && d.used <= d.total && d.percentage >= 0 && d.percentage <= 100);
    CHECK(!adb__host_disk_read("/no/such/path/here", &d));
}

int main(void)
{
    RUN(test_meminfo);
    RUN(test_cpu);
    RUN(test_loadavg);
    RUN(test_netdev);
    RUN(test_stat_state);
    RUN(test_this_host);
    return t_done();
}
