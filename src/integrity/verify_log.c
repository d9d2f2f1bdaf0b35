/*
 * verify_log.c - the chain against the verifiable log (verify_log.h).
 *
 * The chain is the truth verify recomputes; the log is what was promised
 * about it: the tree's head and tiles in the database, the log_checkpoint
 * rows, and the checkpoint file outside the database (the anchor a database
 * superuser cannot rewrite). Leaves are recomputed from the chain in chain
 * order into a frontier; when it reaches the size of a checkpoint or of the
 * tree head its root must be theirs. Sizes beyond the chain's end mean the
 * newest events were deleted. docs/integrity.md section 6.
 */
#include "verify_log.h"
#include "../core/util.h"
#include "../log/checkpoint.h"
#include "../log/merkle.h"
#include "../log/note.h"
#include "../log/tiles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROWS_BATCH 64

typedef struct ckrow {
    uint64_t size;
    uint8_t root[32];
} ckrow;

struct adb__vlog {
    char dir[4096];
    bool have_dir, have_vkey;
    adb__note_verifier v;
    int64_t not_before;
    adb__vlog_problem_fn fn;
    void *ctx;
    /* the organization */
    PGconn *c;
    char org[256];
    adb__merkle_frontier f;
    bool broken;                 /* the chain's order broke: no more comparisons */
    bool have_tree;
    uint64_t tree_size;
    uint8_t tree_root[32];
    bool tree_reached;
    uint8_t chain_root_at_tree[32];
    int file;                    /* 0 none, 1 valid, 2 valid but newer than the walk */
    uint64_t file_size;
    uint8_t file_root[32];
    /* log_checkpoint rows, a batch at a time in tree_size order */
    ckrow rows[ROWS_BATCH];
    size_t nrows, rowpos;
    uint64_t rows_after;
    bool rows_done, rows_any;
    /* the level-0 tile being compared */
    bool tile_loaded, tile_reported;
    uint64_t tile_index;
    unsigned tile_width;
    uint8_t tile[ADB_TILE_WIDTH * 32];
    /* the entry bundle stub positions read their entries from */
    bool bundle_loaded;
    uint64_t bundle_index;
    unsigned bundle_width;
    uint8_t bundle[ADB_TILE_WIDTH * ADB_TREE_ENTRY];
};

static void say(adb__vlog *l, int64_t seq, const char *kind, const char *expected,
                const char *found, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void say(adb__vlog *l, int64_t seq, const char *kind, const char *expected,
                const char *found, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->fn(l->ctx, seq, kind, expected, found, msg);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

adb__vlog *adb__vlog_new(const char *checkpoint_dir, const char *vkey, int64_t not_before,
                         adb__vlog_problem_fn fn, void *ctx, char *err, size_t errlen)
{
    adb__vlog *l = calloc(1, sizeof(*l));

    if (!l) {
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    l->fn = fn;
    l->ctx = ctx;
    l->not_before = not_before;
    if (checkpoint_dir && *checkpoint_dir) {
        if (!adb__fmt(l->dir, sizeof(l->dir), "%s", checkpoint_dir)) {
            adb__fmt(err, errlen, "the checkpoint directory's name is too long");
            free(l);
            return NULL;
        }
        l->have_dir = true;
    }
    if (vkey && *vkey) {
        if (adb__note_vkey_parse(vkey, &l->v, err, errlen) != ADB_OK ||
            l->v.type != ADB_NOTE_ED25519) {
            if (l->v.type != ADB_NOTE_ED25519)
                adb__fmt(err, errlen, "the log's verifier key must be an Ed25519 key (type 0x01)");
            free(l);
            return NULL;
        }
        l->have_vkey = true;
    }
    return l;
}

void adb__vlog_free(adb__vlog *l)
{
    free(l);
}

/* Checks a signed checkpoint note: signed by the log, the origin its
 * organization's. ADB_OK with size and root, else why. */
static bool note_check(adb__vlog *l, const char *text, size_t len, uint64_t *size, uint8_t root[32],
                       char *why, size_t whylen)
{
    adb__note n;
    size_t count = 0;
    adb__checkpoint_body b;
    char origin[ADB_NOTE_MAX_ORIGIN + 1];

    if (adb__note_parse(text, len, &n, why, whylen) != ADB_OK)
        return false;
    if (l->have_vkey) {
        if (adb__note_verify(text, len, &l->v, 1, NULL, NULL, NULL, &count, why, whylen) != ADB_OK ||
            count != 1) {
            if (count != 1)
                adb__fmt(why, whylen, "not signed by the log's key %s", l->v.name);
            return false;
        }
        if (!adb__checkpoint_origin(l->v.name, l->org, origin, sizeof(origin)))
            return adb__fmt(why, whylen, "organization id too long"), false;
    }
    if (adb__checkpoint_body_parse(n.text, n.text_len, &b, why, whylen) != ADB_OK)
        return false;
    if (l->have_vkey && strcmp(b.origin, origin) != 0) {
        adb__fmt(why, whylen, "its origin \"%s\" is not this organization's (\"%s\")", b.origin,
                 origin);
        return false;
    }
    *size = b.size;
    memcpy(root, b.root, 32);
    return true;
}

/* Reads the organization's checkpoint file. */
static void read_file(adb__vlog *l)
{
    char path[ADB_CHECKPOINT_PATH_MAX], why[256];
    size_t len;
    char *text;
    struct stat st;

    l->file = 0;
    if (!l->have_dir || !adb__checkpoint_path(l->dir, l->org, path, sizeof(path)))
        return;
    if (!(text = adb__read_file(path, ADB_NOTE_MAX_LEN, &len))) {
        if (errno != ENOENT)
            say(l, 0, "checkpoint_invalid", NULL, NULL,
                "the log's checkpoint file %s cannot be read: %s", path, strerror(errno));
        return;
    }
    if (!note_check(l, text, len, &l->file_size, l->file_root, why, sizeof(why))) {
        say(l, 0, "checkpoint_invalid", NULL, NULL, "the log's checkpoint file %s: %s", path, why);
    } else {
        l->file = 1;
        if (stat(path, &st) == 0 && (int64_t)st.st_mtime >= l->not_before)
            l->file = 2;
    }
    free(text);
}

/* The next batch of log_checkpoint rows (each checked against its note). */
static void rows_fetch(adb__vlog *l)
{
    char after[24];
    const char *p[] = { l->org, after };
    PGresult *r;

    l->nrows = l->rowpos = 0;
    if (l->rows_done)
        return;
    adb__fmt(after, sizeof(after), "%" PRIu64, l->rows_after);
    r = PQexecParams(l->c, "SELECT tree_size, root_hash, note FROM log_checkpoint"
                           " WHERE organization_id = $1 AND tree_size > $2::bigint"
                           " ORDER BY tree_size LIMIT 64", 2, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) { /* no table (an old schema): nothing to check */
        PQclear(r);
        l->rows_done = true;
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t size = 0, nsize;
        uint8_t nroot[32];
        char why[256];
        for (int k = 0; k < 8 && PQgetlength(r, i, 0) == 8; k++)
            size = size << 8 | (uint8_t)PQgetvalue(r, i, 0)[k];
        l->rows_after = size;
        l->rows_any = true;
        if (PQgetlength(r, i, 1) != 32)
            continue;
        ckrow *row = &l->rows[l->nrows++];
        row->size = size;
        memcpy(row->root, PQgetvalue(r, i, 1), 32);
        if (!note_check(l, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2), &nsize, nroot, why,
                        sizeof(why)))
            say(l, 0, "checkpoint_invalid", NULL, NULL,
                "log_checkpoint row of size %" PRIu64 ": its note: %s (forged row)", size, why);
        else if (nsize != size || memcmp(nroot, row->root, 32) != 0)
            say(l, 0, "checkpoint_invalid", NULL, NULL,
                "log_checkpoint row of size %" PRIu64 " says other than its signed note (size %"
                PRIu64 ") (forged row)", size, nsize);
    }
    if (PQntuples(r) < ROWS_BATCH)
        l->rows_done = true;
    PQclear(r);
}

/* The next row not yet compared, NULL when none is left. */
static ckrow *row_next(adb__vlog *l)
{
    if (l->rowpos == l->nrows)
        rows_fetch(l);
    return l->rowpos < l->nrows ? &l->rows[l->rowpos] : NULL;
}

void adb__vlog_begin(adb__vlog *l, PGconn *c, const char *org)
{
    char err[256];

    l->c = c;
    adb__fmt(l->org, sizeof(l->org), "%s", org);
    memset(&l->f, 0, sizeof(l->f));
    l->broken = false;
    l->tree_reached = false;
    l->tile_loaded = l->tile_reported = false;
    l->bundle_loaded = false;
    l->nrows = l->rowpos = 0;
    l->rows_after = 0;
    l->rows_done = l->rows_any = false;
    l->have_tree = adb__tree_head(c, org, &l->tree_size, l->tree_root, err, sizeof(err)) == ADB_OK;
    read_file(l);
    row_next(l);
}

/* Compares leaf (index) with the stored level-0 tile. */
static void tile_compare(adb__vlog *l, uint64_t index, const uint8_t leaf[32])
{
    uint64_t t = index / ADB_TILE_WIDTH;
    unsigned at = (unsigned)(index % ADB_TILE_WIDTH);
    char want[65], got[65];

    if (l->tile_reported || !l->have_tree || index >= l->tree_size)
        return;
    if (!l->tile_loaded || l->tile_index != t) {
        char ts[24];
        const char *p[] = { l->org, ts };
        adb__fmt(ts, sizeof(ts), "%" PRIu64, t);
        PGresult *r = PQexecParams(l->c, "SELECT width, hashes FROM audit_tree_tile"
                                         " WHERE organization_id = $1 AND level = 0"
                                         " AND index = $2::bigint", 2, NULL, p, NULL, NULL, 0);
        l->tile_loaded = true;
        l->tile_index = t;
        l->tile_width = 0;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            size_t n = 0;
            unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
            if (b && n <= sizeof(l->tile) && n % 32 == 0) {
                memcpy(l->tile, b, n);
                l->tile_width = (unsigned)(n / 32);
            }
            PQfreemem(b);
        }
        PQclear(r);
    }
    if (at >= l->tile_width) {
        l->tile_reported = true;
        say(l, (int64_t)index + 1, "tree_mismatch", NULL, NULL,
            "the tree has %" PRIu64 " leaves but its tile 0/%" PRIu64 " lacks leaf %" PRIu64
            " (tiles deleted)", l->tree_size, t, index);
        return;
    }
    if (memcmp(l->tile + 32 * at, leaf, 32) != 0) {
        l->tile_reported = true;
        hex(leaf, 32, want);
        hex(l->tile + 32 * at, 32, got);
        say(l, (int64_t)index + 1, "tree_mismatch", want, got,
            "leaf %" PRIu64 " of the tree (tile 0/%" PRIu64 ") is not the leaf of the event at "
            "chain position %" PRIu64 " (tiles rewritten)", index, t, index + 1);
    }
}

/* What a signed size reached by the walk must agree with. */
static void reached(adb__vlog *l)
{
    uint64_t size = l->f.size;
    uint8_t root[32];
    char want[65], got[65];
    bool have_root = false;
    ckrow *row;

    if (l->have_tree && size == l->tree_size) {
        adb__merkle_frontier_root(&l->f, root);
        have_root = true;
        l->tree_reached = true;
        memcpy(l->chain_root_at_tree, root, 32);
        if (memcmp(root, l->tree_root, 32) != 0) {
            hex(root, 32, want);
            hex(l->tree_root, 32, got);
            say(l, (int64_t)size, "tree_mismatch", want, got,
                "the tree head's root at size %" PRIu64 " is not the root of the chain's first %"
                PRIu64 " events (tree rewritten)", size, size);
        }
    }
    if (l->file && size == l->file_size) {
        if (!have_root)
            adb__merkle_frontier_root(&l->f, root), have_root = true;
        if (memcmp(root, l->file_root, 32) != 0) {
            hex(root, 32, want);
            hex(l->file_root, 32, got);
            say(l, (int64_t)size, "log_rewritten", want, got,
                "the chain's first %" PRIu64 " events do not give the root of the log's signed "
                "checkpoint of size %" PRIu64 " (file outside the database): history rewritten "
                "and re-signed", size, size);
        }
    }
    while ((row = row_next(l)) && row->size <= size) {
        if (row->size == size) {
            if (!have_root)
                adb__merkle_frontier_root(&l->f, root), have_root = true;
            if (memcmp(root, row->root, 32) != 0) {
                hex(root, 32, want);
                hex(row->root, 32, got);
                say(l, (int64_t)size, "checkpoint_fork", want, got,
                    "the log signed a checkpoint of size %" PRIu64 " (log_checkpoint) whose root "
                    "is not the chain's: two histories were signed (a fork)", size);
            }
            if (l->file && size == l->file_size && memcmp(row->root, l->file_root, 32) != 0) {
                hex(l->file_root, 32, want);
                hex(row->root, 32, got);
                say(l, (int64_t)size, "checkpoint_fork", want, got,
                    "the log_checkpoint row of size %" PRIu64 " and the log's checkpoint file "
                    "differ in root: two histories were signed (a fork)", size);
            }
        }
        l->rowpos++;
    }
}

void adb__vlog_leaf(adb__vlog *l, int64_t seq, const uint8_t *entry)
{
    uint8_t e[48], leaf[32];

    if (l->broken || seq <= 0 || (uint64_t)seq <= l->f.size) /* a repeat: reported by the walk */
        return;
    if ((uint64_t)seq != l->f.size + 1) { /* a gap: the walk reports it */
        l->broken = true;
        return;
    }
    if (!entry) { /* the tree's entry, from its bundle (one read for 256 positions) */
        uint64_t b = ((uint64_t)seq - 1) / ADB_TILE_WIDTH;
        unsigned at = (unsigned)(((uint64_t)seq - 1) % ADB_TILE_WIDTH);
        if (!l->bundle_loaded || l->bundle_index != b) {
            char bs[24];
            const char *p[] = { l->org, bs };
            adb__fmt(bs, sizeof(bs), "%" PRIu64, b);
            PGresult *r = PQexecParams(l->c, "SELECT entries FROM audit_tree_bundle"
                                             " WHERE organization_id = $1 AND index = $2::bigint",
                                       2, NULL, p, NULL, NULL, 1);
            l->bundle_loaded = true;
            l->bundle_index = b;
            l->bundle_width = 0;
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                size_t n = (size_t)PQgetlength(r, 0, 0);
                if (n <= sizeof(l->bundle) && n % ADB_TREE_ENTRY == 0) {
                    memcpy(l->bundle, PQgetvalue(r, 0, 0), n);
                    l->bundle_width = (unsigned)(n / ADB_TREE_ENTRY);
                }
            }
            PQclear(r);
        }
        if (at >= l->bundle_width) {
            l->broken = true;
            return;
        }
        memcpy(e, l->bundle + ADB_TREE_ENTRY * at, ADB_TREE_ENTRY);
        entry = e;
    }
    adb__merkle_leaf_hash(entry, 48, leaf);
    tile_compare(l, l->f.size, leaf);
    adb__merkle_frontier_append(&l->f, leaf, NULL, NULL);
    reached(l);
}

void adb__vlog_end(adb__vlog *l, int64_t last)
{
    uint64_t end = last > 0 ? (uint64_t)last : 0;
    ckrow *row;
    char err[256];

    if (l->have_tree && l->tree_size > end)
        say(l, (int64_t)l->tree_size, "log_truncated", NULL, NULL,
            "the tree has %" PRIu64 " leaves but the chain ends at position %" PRIu64
            ": the newest events were deleted (with their head)", l->tree_size, end);
    else if (l->have_tree && l->tree_reached && !l->broken) {
        /* the tiles' own root at the head's size (upper tiles rewritten) */
        uint8_t root[32];
        char want[65], got[65];
        if (adb__tree_root_at(l->c, l->org, l->tree_size, root, err, sizeof(err)) != ADB_OK) {
            say(l, (int64_t)l->tree_size, "tree_mismatch", NULL, NULL,
                "the tree's root at size %" PRIu64 " cannot be computed from its tiles: %s",
                l->tree_size, err);
        } else if (memcmp(root, l->chain_root_at_tree, 32) != 0) {
            hex(l->chain_root_at_tree, 32, want);
            hex(root, 32, got);
            say(l, (int64_t)l->tree_size, "tree_mismatch", want, got,
                "the tree's tiles give another root at size %" PRIu64 " than the chain "
                "(tiles rewritten)", l->tree_size);
        }
    }
    if (l->file == 1 && l->file_size > end)
        say(l, (int64_t)l->file_size, "log_truncated", NULL, NULL,
            "the log signed a checkpoint of size %" PRIu64 " (file outside the database) but the "
            "chain ends at position %" PRIu64 ": the newest events were deleted (with their head)",
            l->file_size, end);
    uint64_t max_row = 0;
    while ((row = row_next(l))) {
        if (row->size > end && row->size > max_row)
            max_row = row->size;
        if (l->file && row->size == l->file_size && memcmp(row->root, l->file_root, 32) != 0)
            say(l, (int64_t)row->size, "checkpoint_fork", NULL, NULL,
                "the log_checkpoint row of size %" PRIu64 " and the log's checkpoint file differ "
                "in root: two histories were signed (a fork)", row->size);
        l->rowpos++;
    }
    if (max_row)
        say(l, (int64_t)max_row, "log_truncated", NULL, NULL,
            "the log signed a checkpoint of size %" PRIu64 " (log_checkpoint) but the chain ends "
            "at position %" PRIu64 ": the newest events were deleted (with their head)", max_row,
            end);
    if (l->have_dir && l->rows_any && !l->file) {
        char path[ADB_CHECKPOINT_PATH_MAX];
        if (adb__checkpoint_path(l->dir, l->org, path, sizeof(path)) && access(l->dir, F_OK) == 0)
            say(l, 0, "checkpoint_missing", NULL, NULL,
                "the log signed checkpoints (log_checkpoint) but its checkpoint file %s is "
                "missing: verify cannot hold the chain to what was signed", path);
    }
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void adb__vlog_vanished(adb__vlog *l, PGconn *c, const char *only_org, char *const *walked,
                        size_t n, void (*start)(void *ctx, const char *org), void *ctx)
{
    const char *p[] = { only_org ? only_org : "" };
    PGresult *r = PQexecParams(c,
        "SELECT organization_id FROM audit_tree WHERE size > 0 AND ($1 = '' OR organization_id = $1)"
        " UNION SELECT organization_id FROM log_checkpoint WHERE tree_size > 0"
        "  AND ($1 = '' OR organization_id = $1)", 1, NULL, p, NULL, NULL, 0);

    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        const char *org = PQgetvalue(r, i, 0);
        if (n && bsearch(&org, walked, n, sizeof(*walked), cmp_name))
            continue;
        start(ctx, org);
        adb__vlog_begin(l, c, org);
        adb__vlog_end(l, 0);
    }
    PQclear(r);
}
