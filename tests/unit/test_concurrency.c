/*
 * test_concurrency.c - 8 threads in each of 2 processes append to the same
 * organization at once; the chain must come out gap-free, without
 * duplicates, and verify.
 */
#include "tdb.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 8, PER_THREAD = 150 };

static char ci[1024];

typedef struct worker {
    adb *db;
    int proc, thread;
    int stored;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char ev[256];

    for (int i = 0; i < PER_THREAD; i++) {
        adb_log_result r;
        snprintf(ev, sizeof(ev), "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"p%d.t%d.%d\","
                 "\"status\":\"success\",\"organizationId\":\"org-shared\"}", w->proc, w->thread, i);
        if (adb_log_json(w->db, ev, strlen(ev), NULL, &r) == ADB_OK)
            w->stored++;
        else
            printf("# p%d t%d: %s %s\n", w->proc, w->thread, adb_status_name(r.status), r.message);
    }
    return NULL;
}

/* Runs THREADS writers in this process; returns how many events were stored. */
static int run_process(int proc)
{
    adb *db = t_open(ci, NULL);
    pthread_t th[THREADS];
    worker w[THREADS];
    int total = 0;

    if (!db)
        return -1;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ db, proc, i, 0 };
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].stored;
    }
    adb_close(db);
    return total;
}

static void two_processes_eight_threads_one_chain(void)
{
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        int n = run_process(2);
        if (write(pipefd[1], &n, sizeof(n)) != sizeof(n))
            _exit(2);
        _exit(0);
    }
    close(pipefd[1]);
    int mine = run_process(1), theirs = -1, status = 0;
    if (read(pipefd[0], &theirs, sizeof(theirs)) != sizeof(theirs))
        theirs = -1;
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_MSG(mine == THREADS * PER_THREAD && theirs == THREADS * PER_THREAD, "stored %d + %d",
              mine, theirs);

    PGconn *c = PQconnectdb(ci);
    long long total = 2LL * THREADS * PER_THREAD;
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-shared'") == total);
    CHECK(t_count(c, "SELECT count(DISTINCT chain_seq) FROM audit_log WHERE organization_id = 'org-shared'") == total);
    CHECK(t_count(c, "SELECT min(chain_seq) FROM audit_log WHERE organization_id = 'org-shared'") == 1);
    CHECK(t_count(c, "SELECT max(chain_seq) FROM audit_log WHERE organization_id = 'org-shared'") == total);
    CHECK(t_count(c, "SELECT last_seq FROM audit_chain_head WHERE organization_id = 'org-shared'") == total);
    /* each event's predecessor link names the event one position before */
    CHECK(t_count(c, "SELECT count(*) FROM audit_log a JOIN audit_log b ON b.organization_id ="
                     " a.organization_id AND b.chain_seq = a.chain_seq - 1 WHERE a.organization_id"
                     " = 'org-shared' AND a.prev_chain_hash <> b.chain_hash") == 0);
    /* both processes' events are interleaved in the chain (they really raced) */
    CHECK(t_count(c, "SELECT count(*) FROM (SELECT action LIKE 'p1.%' AS p1, lag(action LIKE 'p1.%')"
                     " OVER (ORDER BY chain_seq) AS prev FROM audit_log WHERE organization_id ="
                     " 'org-shared') s WHERE p1 <> prev") > 1);
    PQfinish(c);

    adb *db = t_open(ci, NULL);
    REQUIRE(db);
    adb_verify_options o = { .organization_id = "org-shared" };
    adb_verify_summary sum;
    char err[ADB_ERRMSG_MAX];
    CHECK(adb_verify(db, &o, &sum, err, sizeof(err)) == ADB_OK);
    CHECK(sum.events == total && sum.problems == 0);
    adb_close(db);
}

int main(void)
{
    if (!t_migrated_db("t_concurrency", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(two_processes_eight_threads_one_chain);
    return t_done();
}
