/*
 * test_concurrency.c - 8 threads in each of 2 processes append to the same
 * organization at once; the chain must come out gap-free, without
 * duplicates, and verify. Also: a row PostgreSQL refuses in the middle of a
 * stream of concurrent batches (later batches built on the failed one's
 * chain positions must be written again, not fork the chain).
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

/* Runs THREADS writers in this process; returns how many events were stored
 * (*conflicts: batches the writer wrote again because a chain head moved). */
static int run_process(int proc, long long *conflicts)
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
    adb_writer_stats ws;
    adb_writer_get_stats(db, &ws);
    *conflicts = ws.chain_conflicts;
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
        long long r[2];
        r[0] = run_process(2, &r[1]);
        if (write(pipefd[1], r, sizeof(r)) != sizeof(r))
            _exit(2);
        _exit(0);
    }
    close(pipefd[1]);
    long long my_conflicts = 0, r[2] = { -1, 0 };
    int mine = run_process(1, &my_conflicts), status = 0;
    if (read(pipefd[0], r, sizeof(r)) != sizeof(r))
        r[0] = -1;
    int theirs = (int)r[0];
    printf("# batches written again after a chain head moved: %lld + %lld\n", my_conflicts, r[1]);
    /* the other process really moved heads under speculative batches */
    CHECK(my_conflicts + r[1] > 0);
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

/* A BEFORE trigger refuses events whose action is "poison" while 8 threads
 * keep the writer's batches in flight: only the poison events fail, every
 * other event is stored once, and the chain stays whole. */
typedef struct poison_worker {
    adb *db;
    int thread, stored, refused;
} poison_worker;

static void *poison_work(void *arg)
{
    poison_worker *w = arg;
    char ev[256];

    for (int i = 0; i < PER_THREAD; i++) {
        adb_log_result r;
        bool poison = i % 37 == 5;
        snprintf(ev, sizeof(ev), "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"%s\","
                 "\"status\":\"success\",\"organizationId\":\"org-poison\",\"n\":\"%d.%d\"}",
                 poison ? "poison" : "fine", w->thread, i);
        adb_status st = adb_log_json(w->db, ev, strlen(ev), NULL, &r);
        if (st == ADB_OK && !poison)
            w->stored++;
        else if (st == ADB_ERR_INVALID && poison) /* a 4xx for it alone */
            w->refused++;
        else
            printf("# t%d %d: unexpected %s %s\n", w->thread, i, adb_status_name(st), r.message);
    }
    return NULL;
}

static void small_batches(adb_options *o)
{
    o->writer_threads = 4;
    o->batch_max = 16;
}

static void refused_row_mid_stream(void)
{
    PGconn *c = PQconnectdb(ci);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult *res = PQexec(c, "CREATE FUNCTION t_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
                              " BEGIN IF NEW.action = 'poison' THEN RAISE EXCEPTION 'poisoned';"
                              " END IF; RETURN NEW; END $$;"
                              " CREATE TRIGGER t_poison BEFORE INSERT ON audit_log"
                              " FOR EACH ROW EXECUTE FUNCTION t_poison()");
    REQUIRE(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);

    adb *db = t_open(ci, small_batches);
    REQUIRE(db);
    pthread_t th[THREADS];
    poison_worker w[THREADS];
    int stored = 0, refused = 0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (poison_worker){ db, i, 0, 0 };
        pthread_create(&th[i], NULL, poison_work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        stored += w[i].stored;
        refused += w[i].refused;
    }
    int poison_per_thread = 0;
    for (int i = 0; i < PER_THREAD; i++)
        poison_per_thread += i % 37 == 5;
    CHECK_MSG(refused == THREADS * poison_per_thread, "refused %d", refused);
    CHECK_MSG(stored == THREADS * (PER_THREAD - poison_per_thread), "stored %d", stored);

    long long total = stored;
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-poison'") == total);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE action = 'poison'") == 0);
    CHECK(t_count(c, "SELECT count(DISTINCT chain_seq) FROM audit_log WHERE organization_id = 'org-poison'") == total);
    CHECK(t_count(c, "SELECT max(chain_seq) FROM audit_log WHERE organization_id = 'org-poison'") == total);
    CHECK(t_count(c, "SELECT last_seq FROM audit_chain_head WHERE organization_id = 'org-poison'") == total);
    PQclear(PQexec(c, "DROP TRIGGER t_poison ON audit_log; DROP FUNCTION t_poison()"));
    PQfinish(c);

    adb_verify_options vo = { .organization_id = "org-poison" };
    adb_verify_summary sum;
    char err[ADB_ERRMSG_MAX];
    CHECK(adb_verify(db, &vo, &sum, err, sizeof(err)) == ADB_OK);
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
    RUN(refused_row_mid_stream);
    return t_done();
}
