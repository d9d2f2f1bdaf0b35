/*
 * bench_verify.c - `auditdb verify` with and without the verifiable log's
 * checks (issue 16: "auditdb verify uses the tree"), on one large
 * organization, against a raw COPY TO of the same rows in chain order in the
 * same run.
 *
 * BENCH_VERIFY_EVENTS events (default 300000) of BENCH_VERIFY_ORGS
 * organizations (default 1) are logged through the library (the writer, the
 * tree's integrator and the checkpointer on, as serve runs them); once the
 * trees and the checkpoints have caught up, adb_verify runs alternately
 * (best of BENCH_VERIFY_ROUNDS, default 2):
 *   - with the log's checks: whole chains, each held to its Merkle tree (every
 *     leaf recomputed from the event and compared with the stored tiles, the
 *     root recomputed) and to the checkpoint file of the organization, whose
 *     signature is checked with the log's verifier key;
 *   - without: the same walk with adb_verify_options.no_log_checks (hash,
 *     signature, chain only);
 *   - and, for reference, the same events as a bounded walk (--from
 *     1970-01-01T00:00:00Z, which skips the log's checks too).
 */
#define BENCH_NAME "bench_verify"
#include "bench_util.h"

#include "core/adb_internal.h"
#include "log/checkpoint.h"
#include "log/integrator.h"
#include "log/note.h"

#include <unistd.h>

static char *event(size_t i, size_t n, int orgs, time_t base)
{
    char when[40], buf[1024];
    time_t ts = base + (time_t)((double)i / (double)n * 20 * 86400);
    struct tm tm;
    gmtime_r(&ts, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof(buf),
             "{\"timestamp\":\"%s.%03zuZ\",\"action\":\"fhir.patient.read\",\"status\":\"success\","
             "\"principalId\":\"practitioner-%zu\",\"organizationId\":\"org-%02zu\","
             "\"targetResourceType\":\"Patient\",\"targetResourceId\":\"patient-%zu\","
             "\"outcomeDescription\":\"Access to the patient's chart\",\"dataClassification\":\"PHI\","
             "\"details\":{\"resourceVersion\":%zu,\"reason\":\"treatment\"}}",
             when, i % 1000, i % 5000, i % (size_t)orgs, i % 100000, i % 17);
    return strdup(buf);
}

int main(void)
{
    const char *admin = getenv("ADMIN_URL");
    size_t n = (size_t)env_int("BENCH_VERIFY_EVENTS", 300000);
    int orgs = (int)env_int("BENCH_VERIFY_ORGS", 1), rounds = (int)env_int("BENCH_VERIFY_ROUNDS", 2);
    char err[ADB_ERRMSG_MAX], ci[2048], dir[] = "/tmp/bench_verify.XXXXXX";

    if (!admin)
        die("ADMIN_URL", "not set: run me with scripts/with-cluster.sh");
    if (n < 1 || orgs < 1 || orgs > 99 || rounds < 1)
        die("knobs", "BENCH_VERIFY_EVENTS >= 1, BENCH_VERIFY_ORGS 1..99, BENCH_VERIFY_ROUNDS >= 1");
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    fresh_db(admin, "bench_verify");
    snprintf(ci, sizeof(ci), "%s dbname=bench_verify", admin);
    adb_options o;
    adb_options_default(&o);
    o.conninfo = ci;
    o.master_key = "bench-master-key-0123456789abcdef0123456789";
    o.pool_max = 8;
    o.log_name = "auditdb.bench";
    o.log_key = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    o.checkpoint_dir = dir;
    adb *db;
    if (adb_open(&o, &db, err, sizeof(err)) != ADB_OK)
        die("adb_open", err);

    /* the events, through the writer, 1000 a call */
    time_t base = time(NULL) - 25 * 86400;
    double t0 = now_ms();
    for (size_t i = 0; i < n; i += 1000) {
        size_t m = n - i < 1000 ? n - i : 1000;
        char *t[1000];
        size_t len[1000];
        adb_log_result res[1000];
        for (size_t k = 0; k < m; k++) {
            t[k] = event(i + k, n, orgs, base);
            len[k] = strlen(t[k]);
        }
        if (adb_log_batch_json(db, (const char *const *)t, len, m, NULL, res) != ADB_OK)
            die("log", "an event was refused");
        for (size_t k = 0; k < m; k++)
            free(t[k]);
    }
    printf("bench_verify: %zu events of %d organization%s logged in %.1f s\n", n, orgs,
           orgs == 1 ? "" : "s", (now_ms() - t0) / 1000);
    if (!adb__integrator_sync(adb__db_integrator(db), 600000))
        die("tree", "the trees did not catch up within 10 minutes");
    adb__checkpointer_flush(adb__db_checkpointer(db));

    adb__note_verifier v;
    char vkey[ADB_NOTE_VKEY_MAX];
    adb__note_signer_verifier(adb__db_log_signer(db), &v);
    if (!adb__note_vkey_format(&v, vkey, sizeof(vkey)))
        die("vkey", "format");

    PGconn *c = connect_db(admin, "bench_verify");
    double best_log = 1e18, best_plain = 1e18, best_raw = 1e18, best_bounded = 1e18;
    long long events = 0;
    for (int r = 0; r < rounds; r++) {
        adb_verify_summary s;
        adb_verify_options with = { .record = false, .checkpoint_dir = dir, .log_vkey = vkey };
        adb_verify_options without = { .record = false, .no_log_checks = true };
        adb_verify_options bounded = { .record = false, .from = "1970-01-01T00:00:00Z" };
        if (adb_verify(db, &with, &s, err, sizeof(err)) != ADB_OK || s.problems)
            die("verify (log checks)", s.problems ? "problems found" : err);
        events = s.events;
        if (s.seconds < best_log)
            best_log = s.seconds;
        if (adb_verify(db, &without, &s, err, sizeof(err)) != ADB_OK || s.problems)
            die("verify", s.problems ? "problems found" : err);
        if (s.events != events)
            die("verify", "the bounded walk saw another number of events");
        if (s.seconds < best_plain)
            best_plain = s.seconds;
        if (adb_verify(db, &bounded, &s, err, sizeof(err)) != ADB_OK || s.problems)
            die("verify --from", s.problems ? "problems found" : err);
        if (s.seconds < best_bounded)
            best_bounded = s.seconds;
        size_t len;
        double secs;
        long rows;
        free(bench_copy_out(c, BENCH_ROWS_QUERY " ORDER BY organization_id, chain_seq, id", false,
                            &len, &secs, &rows));
        if (secs < best_raw)
            best_raw = secs;
    }
    double raw = (double)n / best_raw, plain = (double)events / best_plain,
           log = (double)events / best_log;
    printf("verify of %lld events (best of %d)\n", events, rounds);
    printf("  raw COPY TO (same rows, chain order)              %9.0f rows/s\n", raw);
    printf("  verify without the log's checks (hash, sig, chain) %9.0f events/s   ratio to COPY TO %.2f\n",
           plain, plain / raw);
    printf("  verify with the log's checks (tree, checkpoint)   %9.0f events/s   ratio to COPY TO %.2f\n",
           log, log / raw);
    printf("  verify --from 1970-01-01 (a bounded walk)         %9.0f events/s   ratio to COPY TO %.2f\n",
           (double)events / best_bounded, (double)events / best_bounded / raw);
    printf("  the log's checks cost                             %9.1f %% of verify's time\n",
           100.0 * (best_log - best_plain) / best_plain);
    PQfinish(c);
    adb_close(db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_verify: could not remove %s\n", dir);
    return 0;
}
