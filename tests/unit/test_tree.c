/*
 * test_tree.c - each organization's Merkle tree as tlog-tiles in PostgreSQL
 * (src/log/tiles.c, src/log/integrator.c, docs/log.md): tile paths; trees of
 * many sizes up to 70,100 leaves, grown in uneven rounds, whose roots equal
 * adb__merkle_root over the same leaves and whose proofs verify for every
 * size around 256 and 65,536; the tile rows the spec's 70,000 example names;
 * a tile rewritten by a superuser makes proofs fail; two handles on one
 * database integrating one organization; the backfill of events stored
 * before the tree, archived ones and positions deleted before it included.
 */
#include "tdb.h"
#include "core/adb_internal.h"
#include "core/util.h"
#include "log/integrator.h"
#include "log/merkle.h"
#include "log/tiles.h"
#include "auditdb/maintenance.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

static char ci[512];
static PGconn *su; /* the runner's superuser, on the test database */

/* The synthetic entry of leaf i (cheap: no event behind it). */
static void synth_entry(uint64_t i, uint8_t e[48])
{
    for (int k = 0; k < 48; k++)
        e[k] = (uint8_t)((i * 2654435761u) >> (k % 24) ^ (uint64_t)k * 31u ^ i >> 8);
    memcpy(e, &i, sizeof(i));
}

static adb__mhash *leaves_upto(uint64_t n)
{
    adb__mhash *l = malloc((size_t)n * sizeof(*l));
    for (uint64_t i = 0; i < n; i++) {
        uint8_t e[48];
        synth_entry(i, e);
        adb__merkle_leaf_hash(e, 48, l[i]);
    }
    return l;
}

static void offer_range(adb *db, const char *org, uint64_t from, uint64_t to)
{
    adb__tree_leaf l[512];
    size_t n = 0;
    for (uint64_t i = from; i < to; i++) {
        l[n].org = org;
        l[n].seq = (int64_t)i + 1;
        synth_entry(i, l[n].entry);
        if (++n == 512 || i + 1 == to) {
            adb__integrator_offer(adb__db_integrator(db), l, n);
            n = 0;
        }
    }
}

/* Waits for db's integrator; says why not. */
static bool synced(adb *db, int ms)
{
    bool ok = adb__integrator_sync(adb__db_integrator(db), ms);
    adb__integrator_stats s;
    adb__integrator_stats_get(adb__db_integrator(db), &s);
    if (!ok || s.failures)
        printf("# integrator: %s, %lld failures, last: %s\n", ok ? "synced" : "not synced",
               s.failures, s.last_error);
    return ok;
}

static void paths(void)
{
    char p[ADB_TILE_PATH_MAX];
    uint64_t idx;
    unsigned w, l;

    adb__tile_index_path(1234067, p);
    CHECK_STR(p, "x001/x234/067");
    adb__tile_index_path(0, p);
    CHECK_STR(p, "000");
    adb__tile_index_path(1000, p);
    CHECK_STR(p, "x001/000");
    adb__tile_index_path(UINT64_MAX >> 8, p);
    CHECK(adb__tile_parse_index(p, &idx, &w) && idx == UINT64_MAX >> 8 && w == 0);
    CHECK(adb__tile_parse_index("x001/x234/067", &idx, &w) && idx == 1234067 && w == 0);
    CHECK(adb__tile_parse_index("067.p/112", &idx, &w) && idx == 67 && w == 112);
    CHECK(adb__tile_parse_index("x001/000.p/1", &idx, &w) && idx == 1000 && w == 1);
    static const char *const bad[] = { "", "1", "01", "0001", "x000/001", "x001", "x001/",
                                       "001/", "001.p/0", "001.p/256", "001.p/01", "001.p/",
                                       "001.p/2a", "00a", "x01/001", "001.q/1", "-01",
                                       "x999/x999/x999/x999/x999/x999/x999/999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(!adb__tile_parse_index(bad[i], &idx, &w), "accepted \"%s\"", bad[i]);
    CHECK(adb__tile_parse_level("0", &l) && l == 0);
    CHECK(adb__tile_parse_level("63", &l) && l == 63);
    CHECK(!adb__tile_parse_level("64", &l) && !adb__tile_parse_level("01", &l) &&
          !adb__tile_parse_level("", &l) && !adb__tile_parse_level("1a", &l));
    CHECK(adb__tile_partial_width(70000, 0) == 112 && adb__tile_partial_width(70000, 1) == 17 &&
          adb__tile_partial_width(70000, 2) == 1 && adb__tile_partial_width(256, 0) == 0);
}

static long long count_rows(const char *org, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_tree_tile WHERE organization_id = '%s'"
                               " AND %s", org, where);
    return t_count(su, sql);
}

static void check_proofs(PGconn *c, const char *org, const adb__mhash *leaves,
                         const uint64_t *sizes, size_t nsizes)
{
    char err[256];
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t n;
    uint8_t root[32], want[32], root1[32];

    for (size_t s = 0; s < nsizes; s++) {
        uint64_t size = sizes[s];
        CHECK(adb__tree_root_at(c, org, size, root, err, sizeof(err)) == ADB_OK);
        adb__merkle_root(leaves, size, want);
        CHECK_MSG(!memcmp(root, want, 32), "root of %" PRIu64 " leaves", size);
        uint64_t idx[] = { 0, size / 2, size - 1, 255 % size, 256 % size, 65535 % size,
                           (size * 7) / 9 };
        for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
            bool got = adb__tree_inclusion_proof(c, org, idx[k], size, proof, &n, err,
                                                 sizeof(err)) == ADB_OK;
            CHECK_MSG(got && adb__merkle_verify_inclusion(leaves[idx[k]], idx[k], size, proof, n,
                                                          want),
                      "inclusion of %" PRIu64 " in %" PRIu64 ": %s", idx[k], size, err);
        }
        for (size_t t = 0; t < s; t++) {
            uint64_t s1 = sizes[t];
            adb__merkle_root(leaves, s1, root1);
            bool got = adb__tree_consistency_proof(c, org, s1, size, proof, &n, err,
                                                   sizeof(err)) == ADB_OK;
            CHECK_MSG(got && adb__merkle_verify_consistency(s1, size, root1, want, proof, n),
                      "consistency %" PRIu64 " -> %" PRIu64 ": %s", s1, size, err);
        }
    }
}

static void big_tree(void)
{
    const char *org = "org-big";
    const uint64_t total = 70000, more = 100;
    adb__mhash *leaves = leaves_upto(total + more);
    adb *db = t_open(ci, NULL);
    char err[256];
    uint64_t size = 0, done = 0;
    uint8_t root[32], want[32];
    unsigned long long seed = 88172645463325252ULL;

    REQUIRE(db && adb__db_integrator(db));
    /* uneven rounds: partial tiles rewritten as they grow, tiles completed mid-round */
    while (done < total) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint64_t k = 1 + seed % (done < 1000 ? 97 : 6000);
        if (done + k > total)
            k = total - done;
        offer_range(db, org, done, done + k);
        done += k;
        CHECK(synced(db, 30000));
        /* a round's root as committed */
        if (done % 7 == 0 || done == total) {
            CHECK(adb__tree_head(su, org, &size, root, err, sizeof(err)) == ADB_OK);
            adb__merkle_root(leaves, done, want);
            CHECK_MSG(size == done && !memcmp(root, want, 32), "head after %" PRIu64, done);
        }
    }
    CHECK(adb__tree_head(su, org, &size, root, err, sizeof(err)) == ADB_OK && size == total);
    adb__merkle_root(leaves, total, want);
    CHECK(!memcmp(root, want, 32));

    /* the spec's example: 273 full level-0 tiles, one of width 112, one full level-1 tile,
     * one of width 17, one level-2 tile of width 1 */
    CHECK(count_rows(org, "level = 0 AND width = 256") == 273);
    CHECK(count_rows(org, "level = 0 AND index = 273 AND width = 112") == 1);
    CHECK(count_rows(org, "level = 1 AND width = 256") == 1);
    CHECK(count_rows(org, "level = 1 AND index = 1 AND width = 17") == 1);
    CHECK(count_rows(org, "level = 2 AND index = 0 AND width = 1") == 1);
    CHECK(count_rows(org, "true") == 277);

    /* tiles and bundles as served */
    uint8_t *b;
    size_t bl;
    CHECK(adb__tree_tile(su, org, 0, 0, 0, &b, &bl, err, sizeof(err)) == ADB_OK && bl == 8192 &&
          !memcmp(b, leaves, 8192));
    free(b);
    CHECK(adb__tree_tile(su, org, 0, 273, 112, &b, &bl, err, sizeof(err)) == ADB_OK &&
          bl == 112 * 32 && !memcmp(b, leaves[273 * 256], bl));
    free(b);
    CHECK(adb__tree_tile(su, org, 0, 273, 5, &b, &bl, err, sizeof(err)) == ADB_OK && bl == 160);
    free(b);
    CHECK(adb__tree_tile(su, org, 0, 273, 113, &b, &bl, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__tree_tile(su, org, 0, 273, 0, &b, &bl, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__tree_tile(su, org, 0, 274, 1, &b, &bl, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__tree_tile(su, org, 1, 0, 0, &b, &bl, err, sizeof(err)) == ADB_OK && bl == 8192);
    if (b) { /* level 1 hash 3 = MTH of leaves 768..1023 */
        adb__merkle_root(leaves + 768, 256, want);
        CHECK(!memcmp(b + 3 * 32, want, 32));
    }
    free(b);
    CHECK(adb__tree_entry_bundle(su, org, 1, 0, &b, &bl, err, sizeof(err)) == ADB_OK &&
          bl == 256 * 50);
    if (b) {
        uint8_t e[48];
        synth_entry(256 + 9, e);
        CHECK(b[9 * 50] == 0 && b[9 * 50 + 1] == 48 && !memcmp(b + 9 * 50 + 2, e, 48));
    }
    free(b);
    uint8_t entry[48], e[48];
    synth_entry(69999, e);
    CHECK(adb__tree_entry(su, org, 69999, entry, err, sizeof(err)) == ADB_OK &&
          !memcmp(entry, e, 48));
    CHECK(adb__tree_entry(su, org, 70000, entry, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__tree_root_at(su, org, 70001, root, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__tree_head(su, "org-none", &size, root, err, sizeof(err)) == ADB_ERR_NOT_FOUND);

    /* proofs for every size around the tile boundaries */
    static const uint64_t sizes[] = { 1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536,
                                      65537, 69999, 70000 };
    check_proofs(su, org, leaves, sizes, sizeof(sizes) / sizeof(sizes[0]));
    for (uint64_t s = 1; s <= 600; s += (s < 300 ? 1 : 37)) {
        CHECK(adb__tree_root_at(su, org, s, root, err, sizeof(err)) == ADB_OK);
        adb__merkle_root(leaves, s, want);
        CHECK_MSG(!memcmp(root, want, 32), "root at %" PRIu64, s);
    }
    adb_close(db);

    /* another handle continues the tree: its right edge comes from the tiles */
    db = t_open(ci, NULL);
    REQUIRE(db);
    offer_range(db, org, total, total + more);
    CHECK(synced(db, 30000));
    CHECK(adb__tree_head(su, org, &size, root, err, sizeof(err)) == ADB_OK &&
          size == total + more);
    adb__merkle_root(leaves, total + more, want);
    CHECK(!memcmp(root, want, 32));
    static const uint64_t sizes2[] = { 256, 70000, 70100 };
    check_proofs(su, org, leaves, sizes2, 3);
    adb__integrator_stats s;
    adb__integrator_stats_get(adb__db_integrator(db), &s);
    CHECK(s.leaves == (long long)more && s.from_memory == (long long)more && s.delay_count > 0);
    printf("# integration delay: p50 %.1f ms, p99 %.1f ms\n", s.delay_p50_ms, s.delay_p99_ms);
    adb_close(db);
    free(leaves);
}

/* A superuser rewrites a full tile: the triggers refuse, and with them
 * disabled the proofs no longer verify against the committed root. */
static void tampered_tile(void)
{
    const char *org = "org-tamper";
    const uint64_t total = 3000;
    adb__mhash *leaves = leaves_upto(total);
    adb *db = t_open(ci, NULL);
    char err[256];
    uint64_t size;
    uint8_t root[32], r2[32];
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t n;

    REQUIRE(db);
    offer_range(db, org, 0, total);
    CHECK(synced(db, 30000));
    adb_close(db);
    REQUIRE(adb__tree_head(su, org, &size, root, err, sizeof(err)) == ADB_OK && size == total);
    CHECK(adb__tree_inclusion_proof(su, org, 5 * 256 + 3, total, proof, &n, err, sizeof(err)) ==
              ADB_OK &&
          adb__merkle_verify_inclusion(leaves[5 * 256 + 3], 5 * 256 + 3, total, proof, n, root));

    PGresult *r = PQexec(su, "UPDATE audit_tree_tile SET hashes = set_byte(hashes, 100, 7)"
                             " WHERE organization_id = 'org-tamper' AND level = 0 AND index = 5");
    CHECK_MSG(PQresultStatus(r) == PGRES_FATAL_ERROR, "a full tile changed");
    PQclear(r);
    r = PQexec(su, "DELETE FROM audit_tree WHERE organization_id = 'org-tamper'");
    CHECK_MSG(PQresultStatus(r) == PGRES_FATAL_ERROR, "the tree head deleted");
    PQclear(r);
    /* byte 70: leaf 1282's hash in level-0 tile 5; byte 161: the hash of leaves
     * 1280..1535 in level-1 tile 0 */
    CHECK(t_exec(su, "BEGIN; SET LOCAL session_replication_role = replica;"
                     " UPDATE audit_tree_tile SET hashes = set_byte(hashes, 70,"
                     " get_byte(hashes, 70) # 1)"
                     " WHERE organization_id = 'org-tamper' AND level = 0 AND index = 5;"
                     " UPDATE audit_tree_tile SET hashes = set_byte(hashes, 161,"
                     " get_byte(hashes, 161) # 1)"
                     " WHERE organization_id = 'org-tamper' AND level = 1 AND index = 0; COMMIT"));
    /* leaf 1283: its sibling is the rewritten leaf hash */
    CHECK(adb__tree_inclusion_proof(su, org, 1283, total, proof, &n, err, sizeof(err)) == ADB_OK);
    CHECK(!adb__merkle_verify_inclusion(leaves[1283], 1283, total, proof, n, root));
    /* a leaf elsewhere whose path takes the rewritten level-1 hash */
    CHECK(adb__tree_inclusion_proof(su, org, 2999, total, proof, &n, err, sizeof(err)) == ADB_OK);
    CHECK(!adb__merkle_verify_inclusion(leaves[2999], 2999, total, proof, n, root));
    uint8_t want[32];
    CHECK(adb__tree_root_at(su, org, 1300, r2, err, sizeof(err)) == ADB_OK);
    adb__merkle_root(leaves, 1300, want);
    CHECK(memcmp(r2, want, 32) != 0);
    CHECK(adb__tree_consistency_proof(su, org, 1300, total, proof, &n, err, sizeof(err)) == ADB_OK);
    CHECK(!adb__merkle_verify_consistency(1300, total, want, root, proof, n));
    free(leaves);
}

/* ---- with events ---------------------------------------------------------------- */

static void ts_days_ago(int days, int i, char out[40])
{
    time_t t = time(NULL) - (time_t)days * 86400 + i;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool log_events(adb *db, const char *org, int n, int days_ago, const char *cls)
{
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        char ev[512], ts[40];
        adb_log_result res;
        ts_days_ago(days_ago, i, ts);
        snprintf(ev, sizeof(ev),
                 "{\"timestamp\":\"%s\",\"action\":\"record.read\",\"status\":\"success\","
                 "\"organizationId\":\"%s\",\"principalId\":\"p%d\",\"dataClassification\":\"%s\"}",
                 ts, org, i, cls);
        ok = adb_log_json(db, ev, strlen(ev), NULL, &res) == ADB_OK;
    }
    return ok;
}

/* The tree the stored events should give: entries from audit_log (plus the
 * given extra entries for positions not there), root compared with the head. */
static bool tree_matches(const char *org, uint64_t expect_size, const uint8_t (*extra)[48],
                         const int64_t *extra_seq, size_t nextra)
{
    char sql[256], err[256];
    uint64_t size;
    uint8_t root[32], want[32];

    snprintf(sql, sizeof(sql), "SELECT chain_seq, event_id, hash FROM audit_log"
                               " WHERE organization_id = '%s' ORDER BY chain_seq", org);
    PGresult *r = PQexec(su, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return false;
    adb__mhash *l = calloc(expect_size ? expect_size : 1, sizeof(*l));
    bool *have = calloc(expect_size ? expect_size : 1, 1);
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t s = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        uint8_t e[48];
        if (s < 1 || s > expect_size ||
            !adb__tree_entry_from_text(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), e))
            continue;
        adb__merkle_leaf_hash(e, 48, l[s - 1]);
        have[s - 1] = true;
    }
    PQclear(r);
    for (size_t k = 0; k < nextra; k++)
        if (extra_seq[k] >= 1 && (uint64_t)extra_seq[k] <= expect_size) {
            adb__merkle_leaf_hash(extra[k], 48, l[extra_seq[k] - 1]);
            have[extra_seq[k] - 1] = true;
        }
    bool ok = adb__tree_head(su, org, &size, root, err, sizeof(err)) == ADB_OK &&
              size == expect_size;
    if (!ok)
        printf("# %s: head %s, size %" PRIu64 " (want %" PRIu64 ")\n", org, err, size,
               expect_size);
    for (uint64_t i = 0; i < expect_size && ok; i++)
        if (!have[i]) {
            printf("# %s: no entry for position %" PRIu64 "\n", org, i + 1);
            ok = false;
        }
    if (ok) {
        adb__merkle_root(l, expect_size, want);
        ok = !memcmp(root, want, 32);
    }
    free(l);
    free(have);
    return ok;
}

typedef struct writer_arg {
    adb *db;
    int n;
    bool ok;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    a->ok = log_events(a->db, "org-shared", a->n, 1, "INTERNAL");
    return NULL;
}

/* Two handles on one database write one organization's events at once;
 * each integrates what it committed, taking turns on the head row. */
static void two_handles(void)
{
    adb *a = t_open(ci, NULL), *b = t_open(ci, NULL);
    pthread_t ta, tb;
    writer_arg wa = { a, 300, false }, wb = { b, 300, false };

    REQUIRE(a && b);
    pthread_create(&ta, NULL, writer_main, &wa);
    pthread_create(&tb, NULL, writer_main, &wb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(wa.ok && wb.ok);
    CHECK(synced(a, 30000));
    CHECK(synced(b, 30000));
    CHECK(tree_matches("org-shared", 600, NULL, NULL, 0));
    adb__integrator_stats sa, sb;
    adb__integrator_stats_get(adb__db_integrator(a), &sa);
    adb__integrator_stats_get(adb__db_integrator(b), &sb);
    printf("# handle a: %lld leaves (%lld from memory), b: %lld (%lld from memory)\n", sa.leaves,
           sa.from_memory, sb.leaves, sb.from_memory);
    CHECK(sa.leaves + sb.leaves == 600);
    adb_close(a);
    adb_close(b);
}

static void no_tree(adb_options *o)
{
    o->no_tree = true;
}

/* Events stored before the tree (a database migrated from before 0020):
 * live, archived and deleted ones; the first start backfills the tree. */
static void backfill(void)
{
    adb *db = t_open(ci, no_tree);
    char err[ADB_ERRMSG_MAX];

    REQUIRE(db && !adb__db_integrator(db));
    CHECK(log_events(db, "org-old", 300, 45, "PUBLIC"));  /* archived below */
    CHECK(log_events(db, "org-old", 300, 1, "INTERNAL")); /* live */
    adb_maintenance_options mo;
    adb_maintenance_report rep;
    adb_maintenance_options_default(&mo);
    CHECK(adb_maintenance_run(db, &mo, &rep, err, sizeof(err)) == ADB_OK);
    CHECK_MSG(rep.events_archived == 300, "archived %lld", rep.events_archived);
    adb_close(db);
    CHECK(t_count(su, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-old'") == 300);
    /* three live events gone before the tree existed (as retention without archive would) */
    CHECK(t_exec(su, "DELETE FROM audit_log WHERE organization_id = 'org-old'"
                     " AND chain_seq BETWEEN 310 AND 312"));

    db = t_open(ci, NULL);
    REQUIRE(db);
    CHECK(synced(db, 60000));
    /* archived positions 1..300 come from the archive: recompute them from the
     * entries the tree holds and check those against the archive through verify's
     * own recomputation is beyond this test; compare with the ids and hashes */
    uint8_t zero[3][48] = { { 0 } };
    int64_t zs[3] = { 310, 311, 312 };
    uint8_t (*extra)[48] = calloc(303, 48);
    int64_t *seq = calloc(303, sizeof(*seq));
    char sql[128], err2[256];
    size_t ne = 0;
    /* the archived events' entries: as they were when written (event_id and hash are
     * in the archive's rows; the tree's entries must equal them) */
    for (int64_t s = 1; s <= 300; s++) {
        uint8_t e[48];
        if (adb__tree_entry(su, "org-old", (uint64_t)s - 1, e, err2, sizeof(err2)) == ADB_OK) {
            memcpy(extra[ne], e, 48);
            seq[ne++] = s;
        }
    }
    CHECK(ne == 300);
    for (int k = 0; k < 3; k++) {
        memcpy(extra[ne], zero[k], 48);
        seq[ne++] = zs[k];
    }
    CHECK(tree_matches("org-old", 600, (const uint8_t(*)[48])extra, seq, ne));
    /* the archived entries are the events' own: ids and hashes the archive holds */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-old'");
    CHECK(t_count(su, sql) >= 1);
    adb__integrator_stats s;
    adb__integrator_stats_get(adb__db_integrator(db), &s);
    CHECK_MSG(s.placeholders == 3, "placeholders %lld", s.placeholders);
    uint8_t e[48];
    CHECK(adb__tree_entry(su, "org-old", 310, e, err2, sizeof(err2)) == ADB_OK &&
          !memcmp(e, zero[0], 48));
    free(extra);
    free(seq);

    /* events after the tree exists are integrated from memory */
    CHECK(log_events(db, "org-old", 10, 0, "INTERNAL"));
    CHECK(synced(db, 30000));
    uint64_t size;
    uint8_t root[32];
    CHECK(adb__tree_head(su, "org-old", &size, root, err2, sizeof(err2)) == ADB_OK && size == 610);
    adb_close(db);
}

/* The archived entries equal what the writer committed: compare the tree's
 * entries for archived positions with event ids and hashes recorded before
 * archival. */
static void archived_entries_are_the_events(void)
{
    adb *db = t_open(ci, no_tree);
    REQUIRE(db);
    CHECK(log_events(db, "org-arch", 20, 45, "PUBLIC"));
    PGresult *r = PQexec(su, "SELECT chain_seq, event_id, hash FROM audit_log"
                             " WHERE organization_id = 'org-arch' ORDER BY chain_seq");
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 20);
    char err[ADB_ERRMSG_MAX];
    adb_maintenance_options mo;
    adb_maintenance_report rep;
    adb_maintenance_options_default(&mo);
    CHECK(adb_maintenance_run(db, &mo, &rep, err, sizeof(err)) == ADB_OK);
    adb_close(db);
    CHECK(t_count(su, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-arch'") == 0);
    db = t_open(ci, NULL);
    REQUIRE(db);
    CHECK(synced(db, 60000));
    for (int i = 0; i < 20; i++) {
        uint8_t want[48], got[48];
        CHECK(adb__tree_entry_from_text(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), want));
        CHECK_MSG(adb__tree_entry(su, "org-arch", (uint64_t)i, got, err, sizeof(err)) == ADB_OK &&
                      !memcmp(want, got, 48),
                  "archived entry %d", i);
    }
    PQclear(r);
    adb_close(db);
}

int main(void)
{
    RUN(paths);
    if (!t_migrated_db("t_tree", ci, sizeof(ci))) {
        printf("not ok - database\n");
        return 1;
    }
    su = PQconnectdb(ci);
    PQclear(PQexec(su, "SET client_min_messages = warning"));
    RUN(big_tree);
    RUN(tampered_tile);
    RUN(two_handles);
    RUN(backfill);
    RUN(archived_entries_are_the_events);
    PQfinish(su);
    return t_done();
}
