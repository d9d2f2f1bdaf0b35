/*
 * test_archive_format.c - writing an archive (src/lifecycle/archive_format.c,
 * docs/archive.md): the JSON Lines are byte for byte what the generic JSON
 * writer gives for the same members (every escape), whether the stage is
 * flushed often or once; sizes, both checksums and the chain figures; rows
 * out of order or of another group are refused.
 */
#include "t.h"
#include "core/buf.h"
#include "core/util.h"
#include "lifecycle/archive.h"

#include <zstd.h>

static const adb__row_col stub_cols[] = { ADB_COL_ORGANIZATION_ID, ADB_COL_CHAIN_SEQ,
                                          ADB_COL_PREV_CHAIN_HASH, ADB_COL_CHAIN_HASH };

/* A deterministic pseudo-random generator (xorshift). */
static unsigned long long rnd_state = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned)(rnd_state % n);
}

/* Text of n bytes with quotes, backslashes, control bytes, DEL and UTF-8. */
static void random_text(char *out, size_t n)
{
    static const char *const pieces[] = { "a", "Z", " ", "\"", "\\", "\n", "\t", "\r", "\b",
                                          "\f", "\x01", "\x1f", "\x7f", "\xc3\xa9", "/", "{}" };
    size_t len = 0;
    while (len < n) {
        const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        size_t k = strlen(p);
        if (len + k > n)
            break;
        memcpy(out + len, p, k);
        len += k;
    }
    out[len] = '\0';
}

/* The expected line, written member by member with the generic writer. */
static void expected_line(adb__buf *b, const char *const v[ADB__ROW_NCOLS], bool stub)
{
    size_t n = stub ? sizeof(stub_cols) / sizeof(stub_cols[0]) : ADB__ROW_NCOLS;
    adb__buf_put(b, "{", 1);
    for (size_t j = 0; j < n; j++) {
        int c = stub ? (int)stub_cols[j] : (int)j;
        if (j)
            adb__buf_put(b, ",", 1);
        adb__buf_json_string(b, adb__row_names[c], strlen(adb__row_names[c]));
        adb__buf_put(b, ":", 1);
        if (v[c])
            adb__buf_json_string(b, v[c], strlen(v[c]));
        else
            adb__buf_put(b, "null", 4);
    }
    adb__buf_put(b, "}\n", 2);
}

/* Builds an archive of rows rows (long values now and then, so that the
 * stage is flushed in the middle of lines' runs) and checks it. */
static void check_build(bool stub, int rows)
{
    static char vals[ADB__ROW_NCOLS][3000];
    adb__archive_builder *b = adb__archive_builder_new(stub);
    adb__archive_built a;
    adb__buf want = { 0 };
    char err[256], seq[32], first_prev[65] = "", last_chain[65] = "";

    REQUIRE(b);
    for (int r = 0; r < rows; r++) {
        const char *v[ADB__ROW_NCOLS];
        for (int i = 0; i < ADB__ROW_NCOLS; i++) {
            if (rnd(6) == 0) {
                v[i] = NULL;
                continue;
            }
            random_text(vals[i], r % 97 == 0 ? 2900 : rnd(60));
            v[i] = vals[i];
        }
        v[ADB_COL_ORGANIZATION_ID] = "org-\"x\"";
        v[ADB_COL_RETENTION_POLICY] = "standard";
        v[ADB_COL_DATA_CLASSIFICATION] = NULL;
        v[ADB_COL_TIMESTAMP] = r % 2 ? "2024-01-31T09:05:03.120000Z" : "2024-01-30T00:00:00.000000Z";
        snprintf(seq, sizeof(seq), "%d", 3 * r + 7);
        v[ADB_COL_CHAIN_SEQ] = seq;
        snprintf(vals[ADB_COL_CHAIN_HASH], 65, "%064d", r);
        v[ADB_COL_CHAIN_HASH] = vals[ADB_COL_CHAIN_HASH];
        if (r == 0)
            snprintf(first_prev, sizeof(first_prev), "%s", v[ADB_COL_PREV_CHAIN_HASH] ? v[ADB_COL_PREV_CHAIN_HASH] : "");
        snprintf(last_chain, sizeof(last_chain), "%s", v[ADB_COL_CHAIN_HASH]);
        CHECK_MSG(adb__archive_builder_add(b, v, err, sizeof(err)), "%s", err);
        expected_line(&want, v, stub);
    }
    REQUIRE(!want.oom);
    CHECK(adb__archive_builder_rows(b) == rows);
    REQUIRE(adb__archive_builder_finish(b, &a, err, sizeof(err)));
    adb__archive_builder_free(b);

    char *got = malloc(want.len + 1);
    REQUIRE(got);
    size_t n = ZSTD_decompress(got, want.len + 1, a.payload, a.payload_len);
    CHECK_MSG(!ZSTD_isError(n) && n == want.len && memcmp(got, want.p, want.len) == 0,
              "the lines differ from the generic writer's (%zu bytes, want %zu)", n, want.len);
    CHECK(a.original_size == (long long)want.len);
    CHECK(a.rows == rows);
    char sha[65];
    adb__sha256_hex(want.p, want.len, sha);
    CHECK_STR(a.original_sha, sha);
    adb__sha256_hex(a.payload, a.payload_len, sha);
    CHECK_STR(a.compressed_sha, sha);
    CHECK(a.first_seq == 7 && a.last_seq == 3 * (rows - 1) + 7);
    CHECK_STR(a.first_prev, first_prev);
    CHECK_STR(a.last_chain, last_chain);
    CHECK_STR(a.date_start, "2024-01-30T00:00:00.000000Z");
    CHECK_STR(a.date_end, rows > 1 ? "2024-01-31T09:05:03.120000Z" : "2024-01-30T00:00:00.000000Z");
    CHECK_STR(a.organization_id, "org-\"x\"");
    CHECK(a.data_classification == NULL);
    free(got);
    adb__buf_free(&want);
    adb__archive_built_free(&a);
}

static void test_lines_as_the_generic_writer(void)
{
    check_build(false, 1);
    check_build(false, 5000);
}

static void test_stub_lines(void)
{
    check_build(true, 1);
    check_build(true, 3000);
}

static void test_refuses_disorder_and_other_groups(void)
{
    adb__archive_builder *b = adb__archive_builder_new(false);
    const char *v[ADB__ROW_NCOLS] = { 0 };
    char err[256];

    REQUIRE(b);
    v[ADB_COL_ID] = "1";
    v[ADB_COL_ORGANIZATION_ID] = "org-1";
    v[ADB_COL_TIMESTAMP] = "2024-01-30T00:00:00.000000Z";
    v[ADB_COL_CHAIN_SEQ] = "5";
    CHECK(adb__archive_builder_add(b, v, err, sizeof(err)));
    v[ADB_COL_CHAIN_SEQ] = "5";
    CHECK(!adb__archive_builder_add(b, v, err, sizeof(err)));
    v[ADB_COL_CHAIN_SEQ] = "4";
    CHECK(!adb__archive_builder_add(b, v, err, sizeof(err)));
    v[ADB_COL_CHAIN_SEQ] = "6";
    v[ADB_COL_ORGANIZATION_ID] = "org-2";
    CHECK(!adb__archive_builder_add(b, v, err, sizeof(err)));
    v[ADB_COL_ORGANIZATION_ID] = "org-1";
    CHECK(adb__archive_builder_add(b, v, err, sizeof(err)));
    CHECK(adb__archive_builder_rows(b) == 2);
    adb__archive_builder_free(b);
}

int main(void)
{
    RUN(test_lines_as_the_generic_writer);
    RUN(test_stub_lines);
    RUN(test_refuses_disorder_and_other_groups);
    return t_done();
}
